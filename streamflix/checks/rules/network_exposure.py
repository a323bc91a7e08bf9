from __future__ import annotations

from typing import Any, Iterator

from streamflix.cfn import text_of
from streamflix.checks.rules.base import (
    Rule,
    RuleContext,
    as_list,
    is_true,
    properties,
    public_subnets,
    resources,
    target_of,
)

ANYWHERE = {"0.0.0.0/0", "::/0"}
#: Ports an internet-facing application load balancer may open to the world.
ALB_PUBLIC_PORTS = {80, 443}
#: Data stores and the property listing their security groups.
DATA_STORE_GROUPS = {
    "AWS::RDS::DBCluster": "VpcSecurityGroupIds",
    "AWS::RDS::DBInstance": "VPCSecurityGroups",
    "AWS::ElastiCache::ReplicationGroup": "SecurityGroupIds",
    "AWS::ElastiCache::CacheCluster": "VpcSecurityGroupIds",
    "AWS::ElastiCache::ServerlessCache": "SecurityGroupIds",
    "AWS::MemoryDB::Cluster": "SecurityGroupIds",
    "AWS::EFS::MountTarget": "SecurityGroups",
    "AWS::DocDB::DBCluster": "VpcSecurityGroupIds",
    "AWS::Neptune::DBCluster": "VpcSecurityGroupIds",
    "AWS::Redshift::Cluster": "VpcSecurityGroupIds",
}
#: Data-store placements and the property naming their subnets.
DATA_STORE_SUBNETS = {
    "AWS::RDS::DBSubnetGroup": "SubnetIds",
    "AWS::ElastiCache::SubnetGroup": "SubnetIds",
    "AWS::EFS::MountTarget": "SubnetId",
    "AWS::DocDB::DBSubnetGroup": "SubnetIds",
    "AWS::Neptune::DBSubnetGroup": "SubnetIds",
    "AWS::Redshift::ClusterSubnetGroup": "SubnetIds",
}


class NetworkExposure(Rule):
    id = "SF2004"
    title = "Nothing is reachable from the internet except a load balancer on 80/443"
    description = (
        "No security group admits 0.0.0.0/0 or ::/0, except an internet-facing application load "
        "balancer's group on tcp 80 or 443. Security groups of databases, caches and file systems "
        "admit only other security groups (no CidrIp, CidrIpv6 or prefix list). Only public subnets "
        "(routed to an internet gateway) map public IPs on launch; data stores sit in no public subnet; "
        "ECS tasks get no public IP; every RDS instance states PubliclyAccessible: false."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        alb_groups = _public_alb_groups(template)
        data_groups = {
            group: logical_id
            for logical_id, resource in resources(template, *DATA_STORE_GROUPS)
            for group in (target_of(g) for g in as_list(properties(resource).get(DATA_STORE_GROUPS[resource["Type"]])))
            if group
        }
        for group, node, rule in _ingress_rules(template):
            sources = [rule.get(key) for key in ("CidrIp", "CidrIpv6") if rule.get(key) is not None]
            if any(isinstance(source, str) and source in ANYWHERE for source in sources) and not (
                group in alb_groups and _single_tcp_port(rule) in ALB_PUBLIC_PORTS
            ):
                yield node, f"{group} admits {', '.join(map(text_of, sources))} on {_ports(rule)}; only a public ALB may, on 80/443"
            if group in data_groups and (sources or rule.get("SourcePrefixListId")):
                yield node, (
                    f"{group} guards {data_groups[group]} but admits an address range "
                    f"({', '.join(map(text_of, sources)) or text_of(rule.get('SourcePrefixListId'))}); name a source security group"
                )
        public = public_subnets(template)
        for logical_id, subnet in resources(template, "AWS::EC2::Subnet"):
            if is_true(properties(subnet).get("MapPublicIpOnLaunch")) and logical_id not in public:
                yield subnet, f"{logical_id} maps public IPs on launch but is not a public (internet-gateway) subnet"
        for logical_id, placement in resources(template, *DATA_STORE_SUBNETS):
            for subnet in as_list(properties(placement).get(DATA_STORE_SUBNETS[placement["Type"]])):
                if target_of(subnet) in public:
                    yield placement, f"{logical_id} places a data store in the public subnet {target_of(subnet)}"
        for logical_id, service in resources(template, "AWS::ECS::Service", "AWS::ECS::TaskSet"):
            awsvpc = (properties(service).get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}
            if awsvpc.get("AssignPublicIp") == "ENABLED":
                yield service, f"{logical_id} gives its tasks public IPs (AssignPublicIp: ENABLED)"
        for logical_id, instance in resources(template, "AWS::RDS::DBInstance"):
            value = properties(instance).get("PubliclyAccessible")
            if value is None or is_true(value):
                yield instance, (
                    f"{logical_id} must state PubliclyAccessible: false "
                    f"(found {text_of(value) if value is not None else 'nothing; RDS then decides from the subnet group'})"
                )


def _public_alb_groups(template: dict[str, Any]) -> set[str]:
    groups = set()
    for _, balancer in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        props = properties(balancer)
        if props.get("Type", "application") == "application" and props.get("Scheme", "internet-facing") == "internet-facing":
            groups.update(target_of(g) for g in as_list(props.get("SecurityGroups")))
    return groups - {None}


def _ingress_rules(template: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(owning group, node for the line, rule) for inline and standalone ingress rules."""
    for logical_id, group in resources(template, "AWS::EC2::SecurityGroup"):
        for rule in as_list(properties(group).get("SecurityGroupIngress")):
            if isinstance(rule, dict):
                yield logical_id, rule, rule
    for logical_id, ingress in resources(template, "AWS::EC2::SecurityGroupIngress"):
        props = properties(ingress)
        owner = target_of(props.get("GroupId")) or props.get("GroupName") or logical_id
        yield str(owner), ingress, props


def _single_tcp_port(rule: dict[str, Any]) -> int | None:
    if str(rule.get("IpProtocol")) not in ("tcp", "6"):
        return None
    start, end = rule.get("FromPort"), rule.get("ToPort")
    return int(start) if start is not None and str(start) == str(end) and str(start).isdigit() else None


def _ports(rule: dict[str, Any]) -> str:
    protocol = str(rule.get("IpProtocol"))
    if protocol in ("-1", "all"):
        return "every port"
    start, end = rule.get("FromPort"), rule.get("ToPort")
    return f"{protocol} {start}" if str(start) == str(end) else f"{protocol} {start}-{end}"
