"""VPC over 2-3 AZs: public, app (private) and data (isolated) subnets, egress, flow logs.

Subnets are named by AZ slot (A, B, C), never by list position, so shrinking
from 3 AZs to 2 removes only the C resources and renames nothing. App subnets
always have a way out: a NAT gateway route and/or the VPC endpoints Fargate
needs (the config model refuses a layout without either).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable

from awacs import logs as logs_actions
from troposphere import GetAtt, GetAZs, Join, Ref, Select, Sub, Tags, ec2, iam, logs

from streamflix.config.models import NetworkConfig
from streamflix.constructs.iam_policies import allow, inline_policy, service_trust
from streamflix.constructs.keys import Key
from streamflix.template import StackTemplate, protect

AZ_SLOTS = ("A", "B", "C")

VPC = "Vpc"
INTERNET_GATEWAY = "InternetGateway"
INTERNET_GATEWAY_ATTACHMENT = "InternetGatewayAttachment"
PUBLIC_ROUTE_TABLE = "PublicRouteTable"
PUBLIC_DEFAULT_ROUTE = "PublicDefaultRoute"
DATA_ROUTE_TABLE = "DataRouteTable"
ENDPOINT_SECURITY_GROUP = "EndpointSecurityGroup"
S3_GATEWAY_ENDPOINT = "S3GatewayEndpoint"
FLOW_LOG_GROUP = "FlowLogGroup"
FLOW_LOG_ROLE = "FlowLogRole"
FLOW_LOG = "FlowLog"

#: Interface endpoint logical IDs by service name (a contract, like every logical ID).
INTERFACE_ENDPOINTS = {
    "ecr.api": "EcrApiEndpoint",
    "ecr.dkr": "EcrDkrEndpoint",
    "logs": "LogsEndpoint",
    "secretsmanager": "SecretsManagerEndpoint",
    "kms": "KmsEndpoint",
    "sts": "StsEndpoint",
    "kinesis-streams": "KinesisStreamsEndpoint",
    "monitoring": "MonitoringEndpoint",
}

#: Which /(n+4) block of the VPC each tier's slot-A subnet takes; B and C follow it.
_TIER_BLOCK = {"Public": 0, "App": 4, "Data": 8}


def public_subnet_id(slot: str) -> str:
    return f"PublicSubnet{slot}"


def app_subnet_id(slot: str) -> str:
    return f"AppSubnet{slot}"


def data_subnet_id(slot: str) -> str:
    return f"DataSubnet{slot}"


def app_route_table_id(slot: str) -> str:
    return f"AppRouteTable{slot}"


def nat_gateway_id(slot: str) -> str:
    return f"NatGateway{slot}"


def nat_eip_id(slot: str) -> str:
    return f"NatEip{slot}"


def app_default_route_id(slot: str) -> str:
    return f"AppDefaultRoute{slot}"


@dataclass(frozen=True)
class Network:
    """Handles other constructs need."""

    vpc: Ref
    cidr: str
    slots: tuple[str, ...]
    public_subnets: list[Ref]
    app_subnets: list[Ref]
    data_subnets: list[Ref]
    endpoint_security_group: Ref | None
    #: Logical id of the internet gateway's VPC attachment: public resources DependsOn it.
    internet_attachment: str = INTERNET_GATEWAY_ATTACHMENT
    #: Logical ids of what gives the app subnets their way out (route table associations,
    #: NAT default routes, VPC endpoints): whatever runs there at create DependsOn them
    #: (SF3006), so CloudFormation starts it after its egress and deletes egress after it.
    app_egress: tuple[str, ...] = ()
    #: The config's AZ IDs by slot, or None when subnets take the first zones of !GetAZs.
    zone_ids: tuple[str, ...] | None = None

    def availability_zone(self, slot: str):
        """The AZ (name) of ``slot`` for resources placed by zone name (an Aurora instance).

        Positional (``!Select [i, !GetAZs '']``) like the subnets by default; with AZ IDs the
        zone of the slot's data subnet, which is where the ID put it in this account.
        """
        if self.zone_ids is None:
            return availability_zone(slot)
        return GetAtt(data_subnet_id(slot), "AvailabilityZone")


def subnet_cidrs(vpc_cidr: str, tier: str, slots: tuple[str, ...]) -> dict[str, str]:
    """Deterministic subnet CIDRs: 16 equal blocks, tiers at fixed offsets."""
    network = ipaddress.IPv4Network(vpc_cidr)
    blocks = list(network.subnets(prefixlen_diff=4))
    first = _TIER_BLOCK[tier]
    return {slot: str(blocks[first + index]) for index, slot in enumerate(slots)}


def availability_zone(slot: str) -> Select:
    """The slot's zone by position in the account's AZ list (the default placement)."""
    return Select(AZ_SLOTS.index(slot), GetAZs(""))


def zone_placement(slot: str, zone_ids: tuple[str, ...] | None) -> dict:
    """A subnet's placement: ``AvailabilityZoneId`` when the config names AZ IDs, else by position.

    Positional is the default because existing stacks were created that way: switching
    replaces every subnet.
    """
    if zone_ids is None:
        return {"AvailabilityZone": availability_zone(slot)}
    return {"AvailabilityZoneId": zone_ids[AZ_SLOTS.index(slot)]}


def add_network(t: StackTemplate, cfg: NetworkConfig, *, name_prefix: str, key: Key) -> Network:
    """Add the VPC with its subnets, routes, NAT gateways, endpoints and flow logs."""
    slots = AZ_SLOTS[: cfg.az_count]
    zone_ids = tuple(cfg.availability_zone_ids) if cfg.availability_zone_ids is not None else None
    vpc = _add_vpc(t, cfg, name_prefix)
    igw, attachment = _add_internet_gateway(t, vpc, name_prefix)
    public_rt = _add_public_route_table(t, vpc, igw, attachment, name_prefix)

    layout = _SubnetLayout(vpc=vpc, vpc_cidr=cfg.vpc_cidr, slots=slots, zone_ids=zone_ids, name_prefix=name_prefix)
    public_subnets = _add_subnets(t, layout, tier="Public", logical_id=public_subnet_id)
    app_subnets = _add_subnets(t, layout, tier="App", logical_id=app_subnet_id)
    data_subnets = _add_subnets(t, layout, tier="Data", logical_id=data_subnet_id)
    for slot in slots:
        _associate(t, public_subnet_id(slot), public_rt)

    nat_slots = _nat_slots(cfg, slots)
    _add_nat_gateways(t, nat_slots, attachment, name_prefix)
    app_route_tables, app_egress = _add_app_routing(t, vpc, slots, nat_slots, name_prefix)
    data_rt = _add_data_routing(t, vpc, slots, name_prefix)
    endpoint_sg, endpoints = _add_endpoints(
        t, cfg, vpc=vpc, route_tables=app_route_tables + [data_rt], app_subnets=app_subnets, name_prefix=name_prefix
    )
    app_egress.extend(endpoints)
    _add_flow_logs(t, cfg, vpc, key)

    t.add_output("VpcId", Ref(vpc), "VPC id")
    t.add_output("AppSubnetIds", Join(",", app_subnets), "Private app subnets (comma-separated), one per AZ")
    t.add_output("DataSubnetIds", Join(",", data_subnets), "Isolated data subnets (comma-separated), one per AZ")
    t.add_output("PublicSubnetIds", Join(",", public_subnets), "Public subnets (comma-separated), one per AZ")
    return Network(
        vpc=Ref(vpc),
        cidr=cfg.vpc_cidr,
        slots=slots,
        public_subnets=public_subnets,
        app_subnets=app_subnets,
        data_subnets=data_subnets,
        endpoint_security_group=endpoint_sg,
        app_egress=tuple(app_egress),
        zone_ids=zone_ids,
    )


def _add_vpc(t: StackTemplate, cfg: NetworkConfig, name_prefix: str) -> ec2.VPC:
    return t.add_resource(
        ec2.VPC(
            VPC,
            CidrBlock=cfg.vpc_cidr,
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=Tags(Name=Sub(f"{name_prefix}-vpc")),
        )
    )


def _add_internet_gateway(
    t: StackTemplate, vpc: ec2.VPC, name_prefix: str
) -> tuple[ec2.InternetGateway, ec2.VPCGatewayAttachment]:
    igw = t.add_resource(ec2.InternetGateway(INTERNET_GATEWAY, Tags=Tags(Name=Sub(f"{name_prefix}-igw"))))
    attachment = t.add_resource(
        ec2.VPCGatewayAttachment(INTERNET_GATEWAY_ATTACHMENT, VpcId=Ref(vpc), InternetGatewayId=Ref(igw))
    )
    return igw, attachment


def _add_public_route_table(
    t: StackTemplate, vpc: ec2.VPC, igw: ec2.InternetGateway, attachment: ec2.VPCGatewayAttachment, name_prefix: str
) -> ec2.RouteTable:
    """The public subnets' table: the default route goes to the internet gateway."""
    public_rt = t.add_resource(
        ec2.RouteTable(PUBLIC_ROUTE_TABLE, VpcId=Ref(vpc), Tags=Tags(Name=Sub(f"{name_prefix}-public")))
    )
    t.add_resource(
        ec2.Route(
            PUBLIC_DEFAULT_ROUTE,
            DependsOn=attachment.title,
            RouteTableId=Ref(public_rt),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
        )
    )
    return public_rt


def _nat_slots(cfg: NetworkConfig, slots: tuple[str, ...]) -> tuple[str, ...]:
    """The AZ slots that get a NAT gateway: every one, slot A only, or none (VPC endpoints alone)."""
    return {"per_az": slots, "single": slots[:1], "none": ()}[cfg.nat_gateways]


def _add_nat_gateways(
    t: StackTemplate, nat_slots: tuple[str, ...], attachment: ec2.VPCGatewayAttachment, name_prefix: str
) -> None:
    """An Elastic IP and a NAT gateway in the public subnet of each of ``nat_slots``."""
    for slot in nat_slots:
        # DependsOn the attachment (SF3004): a public address needs the gateway attached at
        # create, and the attachment must outlive the address at delete.
        eip = t.add_resource(
            ec2.EIP(
                nat_eip_id(slot), DependsOn=attachment.title, Domain="vpc",
                Tags=Tags(Name=Sub(f"{name_prefix}-nat-{slot.lower()}")),
            )
        )
        t.add_resource(
            ec2.NatGateway(
                nat_gateway_id(slot),
                DependsOn=attachment.title,
                AllocationId=GetAtt(eip, "AllocationId"),
                SubnetId=Ref(public_subnet_id(slot)),
                Tags=Tags(Name=Sub(f"{name_prefix}-nat-{slot.lower()}")),
            )
        )


def _add_app_routing(
    t: StackTemplate, vpc: ec2.VPC, slots: tuple[str, ...], nat_slots: tuple[str, ...], name_prefix: str
) -> tuple[list[ec2.RouteTable], list[str]]:
    """A route table per app subnet, with a default route through NAT when there is one.

    Returns the tables (the S3 gateway endpoint routes into them) and the logical IDs
    of the routes and associations that make up the app subnets' egress.
    """
    tables = []
    egress: list[str] = []
    for slot in slots:
        table = t.add_resource(
            ec2.RouteTable(
                app_route_table_id(slot), VpcId=Ref(vpc), Tags=Tags(Name=Sub(f"{name_prefix}-app-{slot.lower()}"))
            )
        )
        tables.append(table)
        if nat_slots:
            # With one shared NAT, every AZ's app route leaves through slot A's gateway.
            nat_slot = slot if slot in nat_slots else nat_slots[0]
            egress.append(app_default_route_id(slot))
            t.add_resource(
                ec2.Route(
                    app_default_route_id(slot),
                    RouteTableId=Ref(table),
                    DestinationCidrBlock="0.0.0.0/0",
                    NatGatewayId=Ref(nat_gateway_id(nat_slot)),
                )
            )
        egress.append(_associate(t, app_subnet_id(slot), table))
    return tables, egress


def _add_data_routing(t: StackTemplate, vpc: ec2.VPC, slots: tuple[str, ...], name_prefix: str) -> ec2.RouteTable:
    """Data subnets are isolated: one table with no default route, only the S3 gateway endpoint."""
    data_rt = t.add_resource(
        ec2.RouteTable(DATA_ROUTE_TABLE, VpcId=Ref(vpc), Tags=Tags(Name=Sub(f"{name_prefix}-data")))
    )
    for slot in slots:
        _associate(t, data_subnet_id(slot), data_rt)
    return data_rt


@dataclass(frozen=True)
class _SubnetLayout:
    """What every tier's subnets share: the VPC, its CIDR, the AZ slots and their zones."""

    vpc: ec2.VPC
    vpc_cidr: str
    slots: tuple[str, ...]
    #: The config's AZ IDs by slot, or None to place by position in !GetAZs.
    zone_ids: tuple[str, ...] | None
    name_prefix: str


def _add_subnets(
    t: StackTemplate, layout: _SubnetLayout, *, tier: str, logical_id: Callable[[str], str]
) -> list[Ref]:
    """One ``tier`` subnet per AZ slot, named ``logical_id(slot)``; none maps a public IP on launch."""
    refs = []
    for slot, cidr in subnet_cidrs(layout.vpc_cidr, tier, layout.slots).items():
        subnet = t.add_resource(
            ec2.Subnet(
                logical_id(slot),
                VpcId=Ref(layout.vpc),
                CidrBlock=cidr,
                **zone_placement(slot, layout.zone_ids),
                MapPublicIpOnLaunch=False,
                Tags=Tags(Name=Sub(f"{layout.name_prefix}-{tier.lower()}-{slot.lower()}"), Tier=tier),
            )
        )
        refs.append(Ref(subnet))
    return refs


def _associate(t: StackTemplate, subnet_id: str, table) -> str:
    """Associate the subnet with its route table; returns the association's logical id."""
    association = t.add_resource(
        ec2.SubnetRouteTableAssociation(
            f"{subnet_id}RouteTableAssociation", SubnetId=Ref(subnet_id), RouteTableId=Ref(table)
        )
    )
    return association.title


def _add_endpoints(
    t: StackTemplate,
    cfg: NetworkConfig,
    *,
    vpc: ec2.VPC,
    route_tables: list[ec2.RouteTable],
    app_subnets: list[Ref],
    name_prefix: str,
) -> tuple[Ref | None, list[str]]:
    """The configured endpoints: S3 as a gateway into ``route_tables``, the others as interfaces in the app subnets.

    Returns the interface endpoints' security group (None without any) and every endpoint's logical ID.
    """
    added: list[str] = []
    if "s3" in cfg.vpc_endpoints:
        added.append(_add_s3_gateway_endpoint(t, vpc, route_tables).title)
    interface = [service for service in INTERFACE_ENDPOINTS if service in cfg.vpc_endpoints]
    if not interface:
        return None, added
    security_group = Ref(_add_endpoint_security_group(t, vpc, cfg.vpc_cidr, name_prefix))
    for service in interface:
        endpoint = _add_interface_endpoint(t, service, vpc=vpc, subnets=app_subnets, security_group=security_group)
        added.append(endpoint.title)
    return security_group, added


def _add_s3_gateway_endpoint(t: StackTemplate, vpc: ec2.VPC, route_tables: list[ec2.RouteTable]) -> ec2.VPCEndpoint:
    return t.add_resource(
        ec2.VPCEndpoint(
            S3_GATEWAY_ENDPOINT,
            VpcId=Ref(vpc),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=[Ref(table) for table in route_tables],
        )
    )


def _add_endpoint_security_group(t: StackTemplate, vpc: ec2.VPC, vpc_cidr: str, name_prefix: str) -> ec2.SecurityGroup:
    """HTTPS in from the VPC, nothing out: the interface endpoints only answer."""
    return t.add_resource(
        ec2.SecurityGroup(
            ENDPOINT_SECURITY_GROUP,
            GroupDescription="HTTPS from inside the VPC to the interface endpoints",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=vpc_cidr, Description="HTTPS from the VPC"
                )
            ],
            SecurityGroupEgress=[_NO_EGRESS],
            Tags=Tags(Name=Sub(f"{name_prefix}-endpoints")),
        )
    )


def _add_interface_endpoint(
    t: StackTemplate, service: str, *, vpc: ec2.VPC, subnets: list[Ref], security_group: Ref
) -> ec2.VPCEndpoint:
    """``service``'s interface endpoint, with private DNS so the SDKs' default endpoint names resolve to it."""
    return t.add_resource(
        ec2.VPCEndpoint(
            INTERFACE_ENDPOINTS[service],
            VpcId=Ref(vpc),
            ServiceName=Sub("com.amazonaws.${AWS::Region}." + service),
            VpcEndpointType="Interface",
            PrivateDnsEnabled=True,
            SubnetIds=subnets,
            SecurityGroupIds=[security_group],
        )
    )


#: CDK's idiom for "no egress at all": CloudFormation drops the default
#: allow-all rule once any egress rule exists, and this one matches nothing.
_NO_EGRESS = ec2.SecurityGroupRule(
    IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32", Description="Disallow all egress"
)


def no_egress_rule() -> ec2.SecurityGroupRule:
    return _NO_EGRESS


def _add_flow_logs(t: StackTemplate, cfg: NetworkConfig, vpc, key: Key) -> None:
    group = t.add_resource(
        logs.LogGroup(FLOW_LOG_GROUP, RetentionInDays=cfg.flow_log_retention_days, KmsKeyId=key.arn)
    )
    # Flow logs are audit evidence: keep them when the stack is deleted or the group replaced.
    protect(group, "Retain")
    role = t.add_resource(
        iam.Role(
            FLOW_LOG_ROLE,
            Description="Lets VPC Flow Logs write to this stack's flow-log group only",
            AssumeRolePolicyDocument=service_trust("vpc-flow-logs.amazonaws.com"),
            Policies=[
                inline_policy(
                    "write-flow-logs",
                    [
                        allow(
                            [logs_actions.CreateLogStream, logs_actions.PutLogEvents, logs_actions.DescribeLogStreams],
                            [GetAtt(group, "Arn")],
                        )
                    ],
                )
            ],
        )
    )
    t.add_resource(
        ec2.FlowLog(
            FLOW_LOG,
            ResourceId=Ref(vpc),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(group),
            DeliverLogsPermissionArn=GetAtt(role, "Arn"),
        )
    )

