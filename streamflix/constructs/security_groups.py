"""The tier firewall: the service reaches its data tiers; nothing else does.

A data tier (database, cache, file system, ...) is a ``Tier``: the construct
that owns the data declares it, so this module needs no knowledge of what
sits behind a port. Rules between groups are separate Ingress/Egress resources
so groups can reference each other without a circular dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from troposphere import GetAtt, Ref, Sub, Tags, ec2

from streamflix.constructs.network import Network, no_egress_rule
from streamflix.template import StackTemplate

SERVICE_SECURITY_GROUP = "ServiceSecurityGroup"


@dataclass(frozen=True)
class Tier:
    """A data tier only the service may reach.

    ``name`` is part of logical IDs (``<name>SecurityGroup``,
    ``ServiceTo<name>Ingress``), so it is a contract like every logical ID.
    """

    name: str
    label: str
    port: int
    protocol: str

    @property
    def group_id(self) -> str:
        return f"{self.name}SecurityGroup"


@dataclass(frozen=True)
class TierSecurityGroups:
    service: Ref
    tiers: Mapping[str, Ref]

    def group(self, tier: Tier) -> Ref:
        """The security group of one of the tiers this firewall was built with."""
        return self.tiers[tier.name]


def add_tier_security_groups(
    t: StackTemplate, network: Network, *, name_prefix: str, tiers: Sequence[Tier]
) -> TierSecurityGroups:
    """The service group (HTTPS out to AWS APIs) and one locked group per data tier."""
    names = [tier.name for tier in tiers]
    if len(set(names)) != len(names):
        raise ValueError(f"tier names must be unique: {names}")
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
    groups: dict[str, Ref] = {}
    for tier in tiers:
        group = t.add_resource(
            ec2.SecurityGroup(
                tier.group_id,
                GroupDescription=f"{tier.label.capitalize()}: reachable only from the service",
                VpcId=network.vpc,
                SecurityGroupEgress=[no_egress_rule()],
                Tags=Tags(Name=Sub(f"{name_prefix}-{tier.label.replace(' ', '-')}")),
            )
        )
        groups[tier.name] = Ref(group)
    for tier in tiers:
        allow_between(
            t,
            f"ServiceTo{tier.name}",
            source=service.title,
            target=tier.group_id,
            port=tier.port,
            protocol=tier.protocol,
            source_label="service",
            target_label=tier.label,
        )
    for tier in tiers:
        t.add_output(
            f"{tier.name}SecurityGroupId", groups[tier.name],
            f"Security group of the {tier.label} (ingress from the service only)",
        )
    return TierSecurityGroups(service=Ref(service), tiers=groups)


def allow_between(
    t: StackTemplate,
    name: str,
    *,
    source: str,
    target: str,
    port: int,
    protocol: str,
    source_label: str,
    target_label: str,
) -> None:
    """Let the ``source`` group reach the ``target`` group on one TCP port (both directions' rules).

    ``source`` and ``target`` are security-group logical IDs; ``name`` prefixes
    the two rule resources (``<name>Ingress``, ``<name>Egress``).
    """
    t.add_resource(
        ec2.SecurityGroupIngress(
            f"{name}Ingress",
            GroupId=GetAtt(target, "GroupId"),
            SourceSecurityGroupId=GetAtt(source, "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            Description=f"{protocol} from the {source_label}",
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
            Description=f"{protocol} to the {target_label}",
        )
    )
