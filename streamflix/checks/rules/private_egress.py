from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, properties, resources, target_of

#: Interface endpoints that let Fargate start without a NAT: pull the image, ship logs.
REQUIRED_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs")
_EGRESS_TARGETS = ("NatGatewayId", "TransitGatewayId", "GatewayId", "NetworkInterfaceId", "VpcPeeringConnectionId")


class ComputeSubnetsHaveEgress(Rule):
    id = "SF1003"
    title = "Every compute subnet has a way out"
    description = (
        "Each subnet an ECS service or Lambda function runs in has a default route to a NAT "
        "(or another gateway), or the ECR api/dkr, CloudWatch Logs interface endpoints plus "
        "the S3 gateway endpoint on its route table (seed 000 #5: Fargate could not pull images)."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        table_of = {
            target_of(properties(r).get("SubnetId")): target_of(properties(r).get("RouteTableId"))
            for _, r in resources(template, "AWS::EC2::SubnetRouteTableAssociation")
        }
        default_routes = {
            target_of(properties(r).get("RouteTableId"))
            for _, r in resources(template, "AWS::EC2::Route")
            if properties(r).get("DestinationCidrBlock") == "0.0.0.0/0"
            and any(properties(r).get(target) for target in _EGRESS_TARGETS)
        }
        subnets_here = {logical_id for logical_id, _ in resources(template, "AWS::EC2::Subnet")}
        for owner, node, subnets in _compute_subnets(template):
            for subnet in subnets:
                subnet_id = target_of(subnet)
                if subnet_id not in subnets_here:
                    yield node, f"{owner} runs in a subnet not defined in this template; egress cannot be proven"
                    continue
                table = table_of.get(subnet_id)
                if table is None:
                    yield node, f"{owner} runs in {subnet_id}, which has no route table association"
                elif table not in default_routes and not _endpoints_cover(template, subnet_id, table):
                    yield node, (
                        f"{owner} runs in {subnet_id} whose route table {table} has no default route to a NAT "
                        f"and no {', '.join(REQUIRED_INTERFACE_ENDPOINTS)} + S3 gateway endpoints"
                    )


def _compute_subnets(template: dict[str, Any]) -> Iterator[tuple[str, Any, list[Any]]]:
    for logical_id, resource in resources(template, "AWS::ECS::Service"):
        network = properties(resource).get("NetworkConfiguration") or {}
        awsvpc = network.get("AwsvpcConfiguration") or {}
        yield f"ECS service {logical_id}", resource, list(awsvpc.get("Subnets") or [])
    for logical_id, resource in resources(template, "AWS::Lambda::Function"):
        vpc = properties(resource).get("VpcConfig") or {}
        yield f"Lambda {logical_id}", resource, list(vpc.get("SubnetIds") or [])


def _service_name(props: dict[str, Any]) -> str:
    name = props.get("ServiceName")
    if isinstance(name, dict):
        name = name.get("Fn::Sub", "")
    return name if isinstance(name, str) else ""


def _endpoints_cover(template: dict[str, Any], subnet_id: str, table: str) -> bool:
    interface, gateway_s3 = set(), False
    for _, endpoint in resources(template, "AWS::EC2::VPCEndpoint"):
        props = properties(endpoint)
        service = _service_name(props)
        # Gateway is CloudFormation's default endpoint type.
        if props.get("VpcEndpointType", "Gateway") == "Gateway" and service.endswith(".s3"):
            gateway_s3 = gateway_s3 or table in {target_of(t) for t in props.get("RouteTableIds") or []}
        elif subnet_id in {target_of(s) for s in props.get("SubnetIds") or []}:
            interface.update(n for n in REQUIRED_INTERFACE_ENDPOINTS if service.endswith("." + n))
    return gateway_s3 and interface == set(REQUIRED_INTERFACE_ENDPOINTS)
