"""SF3006: what runs in private subnets at create waits for those subnets' egress.

AWS documentation (Amazon ECS developer guide, "Amazon ECS task networking options
for Fargate"): "For a task on Fargate to pull a container image, the task must have a
route to the internet." It names the ways: "When using a private subnet, the subnet
can have a NAT gateway attached." or an ECR interface VPC endpoint. And the
CloudFormation DependsOn attribute documentation: "Declare dependencies for resources
that must be created or deleted in a specific order." because "CloudFormation creates,
updates, and deletes resources in parallel to the extent possible."

An ECS service names only its subnets, never the route, the route table association
or the VPC endpoints that give them a way out, so nothing orders them: CloudFormation
starts the tasks while the NAT route or the endpoints are still being created, the
image pull times out (Fargate fails a task that does not reach RUNNING in 3 minutes)
and the deployment circuit breaker fails the create. On delete the routes and
endpoints can go first, and the draining tasks lose their logs. The same holds for a
Secrets Manager rotation schedule with an AWS-hosted function in the VPC: the schedule
rotates the secret as soon as it is created, and the function must reach Secrets
Manager from its subnets.

Egress of a subnet, as this rule reads it: its route table association, every default
route (0.0.0.0/0 or ::/0) on that table, the gateway endpoints on that table and the
interface endpoints placed in the subnet (with private DNS they capture the service's
traffic as soon as they exist). The dependency may be direct or transitive.
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.cfn import references, resource_dependencies
from streamflix.checks.rules.base import (
    EnvironmentRule,
    StackView,
    as_list,
    created_after,
    properties,
    resources,
    target_of,
)

_EGRESS_TARGETS = ("NatGatewayId", "TransitGatewayId", "GatewayId", "NetworkInterfaceId", "VpcPeeringConnectionId",
                   "EgressOnlyInternetGatewayId", "InstanceId")


def runs_at_create(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str, set[str]]]:
    """(logical id, resource, what, subnet logical ids) for what starts code in subnets when created."""
    subnets_here = {logical_id for logical_id, _ in resources(template, "AWS::EC2::Subnet")}
    for logical_id, service in resources(template, "AWS::ECS::Service"):
        awsvpc = (properties(service).get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}
        subnets = {target_of(s) for s in as_list(awsvpc.get("Subnets"))} & subnets_here
        yield logical_id, service, "an ECS service", subnets
    for logical_id, schedule in resources(template, "AWS::SecretsManager::RotationSchedule"):
        hosted = properties(schedule).get("HostedRotationLambda") or {}
        subnets = references(hosted.get("VpcSubnetIds")) & subnets_here
        if subnets:
            yield logical_id, schedule, "a rotation schedule whose hosted function runs in the VPC", subnets


def egress_of(template: dict[str, Any], subnet: str) -> set[str]:
    """Logical ids that give ``subnet`` its way out (see the module docstring)."""
    found: set[str] = set()
    table = None
    for logical_id, association in resources(template, "AWS::EC2::SubnetRouteTableAssociation"):
        if target_of(properties(association).get("SubnetId")) == subnet:
            found.add(logical_id)
            table = target_of(properties(association).get("RouteTableId"))
    for logical_id, route in resources(template, "AWS::EC2::Route"):
        props = properties(route)
        default = props.get("DestinationCidrBlock") == "0.0.0.0/0" or props.get("DestinationIpv6CidrBlock") == "::/0"
        if table and default and target_of(props.get("RouteTableId")) == table and any(
            props.get(target) for target in _EGRESS_TARGETS
        ):
            found.add(logical_id)
    for logical_id, endpoint in resources(template, "AWS::EC2::VPCEndpoint"):
        props = properties(endpoint)
        if props.get("VpcEndpointType", "Gateway") == "Gateway":
            if table and table in {target_of(t) for t in as_list(props.get("RouteTableIds"))}:
                found.add(logical_id)
        elif subnet in {target_of(s) for s in as_list(props.get("SubnetIds"))}:
            found.add(logical_id)
    return found


class ServicesDependOnEgress(EnvironmentRule):
    id = "SF3006"
    title = "ECS services and in-VPC rotation wait for their subnets' egress"
    description = (
        "An ECS service (and a rotation schedule whose hosted function runs in the VPC) must DependsOn, "
        "directly or transitively, the route table associations, default routes (NAT) and VPC endpoints "
        "of its subnets: created after them, deleted before them."
    )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        for stack in stacks:
            graph = resource_dependencies(stack.template)
            for logical_id, resource, what, subnets in runs_at_create(stack.template):
                needed = set().union(*(egress_of(stack.template, subnet) for subnet in subnets)) if subnets else set()
                missing = sorted(needed - created_after(graph, logical_id))
                if missing:
                    yield stack, resource, (
                        f"{logical_id} is {what} but does not depend on the egress of its subnets "
                        f"({', '.join(missing)}): CloudFormation may start it before it can pull images or reach "
                        "AWS APIs, and delete the egress before it on delete; add DependsOn"
                    )
