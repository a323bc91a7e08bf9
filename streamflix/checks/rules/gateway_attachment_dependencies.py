"""SF3004: what needs the internet gateway waits for the gateway's attachment to the VPC.

AWS documentation (DependsOn attribute): "Declare dependencies for resources that must
be created or deleted in a specific order. For example, you must explicitly declare
dependencies on gateway attachments for some resources in a VPC." Its section "When a
DependsOn attribute is required" names Elastic IP addresses, Elastic Load Balancing
load balancers and VPC routes that include the internet gateway among the resources
that depend on the VPC-gateway attachment when they have a public IP address. A
reference to the gateway is not enough: the attachment is a separate resource. Without
the dependency a create can fail (``Gateway.NotAttached``: the EIP or the
internet-facing load balancer comes first) and a delete can fail
(``DependencyViolation``: the attachment goes while public addresses remain). A
NAT gateway takes a public address (its EIP), so it is held to the same rule.
Dependencies count transitively (a NAT gateway that uses an EIP that depends on the
attachment is ordered correctly).
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.cfn import resource_dependencies
from streamflix.checks.rules.base import (
    EnvironmentRule,
    StackView,
    created_after,
    properties,
    resources,
    target_of,
)

ATTACHMENT = "AWS::EC2::VPCGatewayAttachment"


def needs_attachment(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(logical id, resource, why) for every resource that uses the internet gateway's attachment."""
    gateways = {logical_id for logical_id, _ in resources(template, "AWS::EC2::InternetGateway")}
    for logical_id, eip in resources(template, "AWS::EC2::EIP"):
        yield logical_id, eip, "an Elastic IP address"
    for logical_id, nat in resources(template, "AWS::EC2::NatGateway"):
        if properties(nat).get("ConnectivityType", "public") == "public":
            yield logical_id, nat, "a public NAT gateway"
    for logical_id, balancer in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        props = properties(balancer)
        if props.get("Scheme", "internet-facing") == "internet-facing" and props.get("Type", "application") != "gateway":
            yield logical_id, balancer, "an internet-facing load balancer"
    for logical_id, route in resources(template, "AWS::EC2::Route"):
        if target_of(properties(route).get("GatewayId")) in gateways:
            yield logical_id, route, "a route to the internet gateway"


class GatewayAttachmentDependencies(EnvironmentRule):
    id = "SF3004"
    title = "Public addresses and routes depend on the VPC gateway attachment"
    description = (
        "Elastic IPs, public NAT gateways, internet-facing load balancers and routes to the internet "
        "gateway must be created after (and deleted before) the VPCGatewayAttachment: DependsOn it, "
        "directly or through what they reference."
    )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        for stack in stacks:
            attachments = {logical_id for logical_id, _ in resources(stack.template, ATTACHMENT)}
            if not attachments:
                continue
            graph = resource_dependencies(stack.template)
            for logical_id, resource, what in needs_attachment(stack.template):
                if not attachments & created_after(graph, logical_id):
                    yield stack, resource, (
                        f"{logical_id} is {what} but does not depend on {', '.join(sorted(attachments))}: create can "
                        "fail with Gateway.NotAttached and delete with DependencyViolation; add DependsOn"
                    )
