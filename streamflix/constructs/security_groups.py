"""The tier firewall: the service reaches the database and cache; nothing else does.

Rules between groups are separate Ingress/Egress resources so groups can
reference each other without a circular dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Ref, Sub, Tags, ec2

from streamflix.constructs.network import Network, no_egress_rule
from streamflix.template import StackTemplate

SERVICE_SECURITY_GROUP = "ServiceSecurityGroup"
DATABASE_SECURITY_GROUP = "DatabaseSecurityGroup"
CACHE_SECURITY_GROUP = "CacheSecurityGroup"


@dataclass(frozen=True)
class TierSecurityGroups:
    service: Ref
    database: Ref
    cache: Ref


def add_tier_security_groups(
    t: StackTemplate, network: Network, *, name_prefix: str, database_port: int, cache_port: int
) -> TierSecurityGroups:
    service = t.add_resource(
        ec2.SecurityGroup(
            SERVICE_SECURITY_GROUP,
            GroupDescription="ECS service tasks",
            VpcId=network.vpc,
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS to AWS APIs and the image registry (via NAT or endpoints)",
                )
            ],
            Tags=Tags(Name=Sub(f"{name_prefix}-service")),
        )
    )
    database = _locked_group(t, DATABASE_SECURITY_GROUP, "Database: reachable only from the service", network, name_prefix, "database")
    cache = _locked_group(t, CACHE_SECURITY_GROUP, "Cache: reachable only from the service", network, name_prefix, "cache")
    _allow(t, "ServiceToDatabase", service, database, database_port, "PostgreSQL")
    _allow(t, "ServiceToCache", service, cache, cache_port, "Cache (TLS)")
    t.add_output("DatabaseSecurityGroupId", Ref(database), "Security group of the database (ingress from the service only)")
    t.add_output("CacheSecurityGroupId", Ref(cache), "Security group of the cache (ingress from the service only)")
    return TierSecurityGroups(service=Ref(service), database=Ref(database), cache=Ref(cache))


def _locked_group(t, logical_id, description, network, name_prefix, role) -> ec2.SecurityGroup:
    return t.add_resource(
        ec2.SecurityGroup(
            logical_id,
            GroupDescription=description,
            VpcId=network.vpc,
            SecurityGroupEgress=[no_egress_rule()],
            Tags=Tags(Name=Sub(f"{name_prefix}-{role}")),
        )
    )


def _allow(t: StackTemplate, name: str, source, target, port: int, what: str) -> None:
    t.add_resource(
        ec2.SecurityGroupIngress(
            f"{name}Ingress",
            GroupId=GetAtt(target, "GroupId"),
            SourceSecurityGroupId=GetAtt(source, "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            Description=f"{what} from the service",
        )
    )
    t.add_resource(
        ec2.SecurityGroupEgress(
            f"{name}Egress",
            GroupId=GetAtt(source, "GroupId"),
            DestinationSecurityGroupId=GetAtt(target, "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            Description=f"{what} to the {target.title.removesuffix('SecurityGroup').lower()}",
        )
    )
