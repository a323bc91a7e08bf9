"""A monthly cost estimate per stack: quantities read from the rendered template, prices from a table.

Every line multiplies a quantity the template states (instance classes and
counts, NAT gateways, interface endpoints x their subnets, task size x desired
count, ...) or a stated usage assumption (data processed, storage) by one entry
of ``streamflix/catalog/prices.json``, named by region and SKU key. A price the
table lacks, or a quantity the template does not state, makes an *unknown*
line: listed with the reason, never guessed, and the total is marked incomplete.
Resources with no direct charge (VPCs, subnets, security groups, IAM, ...) are
counted but not priced.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Mapping, Sequence

from streamflix.catalog.prices import PriceTable, load_prices
from streamflix.cfn import is_true, ref_name, target_of, value_when_present
from streamflix.docs.stack import EnvironmentFacts, StackFacts, replication_of

COSTS_DIR = "costs"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class UsageAssumptions:
    """What a template cannot say: traffic and storage volumes per month."""

    nat_processed_gb_per_gateway: float = 50
    interface_endpoint_processed_gb_per_endpoint: float = 5
    aurora_storage_gb: float = 50
    aurora_io_millions: float = 50
    alb_average_lcus: float = 1
    kinesis_ingest_gb: float = 10
    kinesis_retrieval_gb: float = 10
    log_ingest_gb_per_log_group: float = 2
    efs_storage_gb: float = 100
    efs_infrequent_access_share: float = 0.8
    efs_replicated_gb: float = 10
    db_replication_gb: float = 20
    s3_storage_gb_per_bucket: float = 10

    def describe(self) -> list[dict[str, Any]]:
        meanings = {
            "nat_processed_gb_per_gateway": "GB per month processed by each NAT gateway",
            "interface_endpoint_processed_gb_per_endpoint": "GB per month processed by each interface endpoint",
            "aurora_storage_gb": "GB stored in each Aurora cluster",
            "aurora_io_millions": "million Aurora I/O requests per cluster per month",
            "alb_average_lcus": "average load balancer capacity units per hour",
            "kinesis_ingest_gb": "GB per month written to each on-demand stream",
            "kinesis_retrieval_gb": "GB per month read from each on-demand stream (one consumer)",
            "log_ingest_gb_per_log_group": "GB per month ingested by each log group",
            "efs_storage_gb": "GB stored in each EFS file system (100 GB per the DR post-mortem)",
            "efs_infrequent_access_share": "share of EFS data in Infrequent Access when a lifecycle policy moves it",
            "efs_replicated_gb": "GB per month EFS replication sends to each destination region",
            "db_replication_gb": "GB per month a cross-region read replica receives from its source",
            "s3_storage_gb_per_bucket": "GB stored in each S3 bucket (access logs and the like)",
        }
        return [{"name": name, "value": value, "meaning": meanings[name]} for name, value in asdict(self).items()]


#: Types billed only through what they contain or carry, or free.
NOT_BILLED = frozenset(
    {
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::RouteTable",
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::FlowLog",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::KMS::Alias",
        "AWS::RDS::DBSubnetGroup",
        "AWS::RDS::DBClusterParameterGroup",
        "AWS::RDS::DBParameterGroup",
        "AWS::ElastiCache::SubnetGroup",
        "AWS::ElastiCache::User",
        "AWS::ElastiCache::UserGroup",
        "AWS::ECS::Cluster",
        "AWS::ECS::TaskDefinition",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        "AWS::EFS::MountTarget",
        "AWS::EFS::AccessPoint",
        "AWS::Route53::RecordSet",
        "AWS::Route53::RecordSetGroup",
        "AWS::S3::BucketPolicy",
        # Free links: the secret's connection fields; the hosted rotation function's runs
        # (one invocation per rotation, within Lambda's free tier) are the only charge.
        "AWS::SecretsManager::SecretTargetAttachment",
        "AWS::SecretsManager::RotationSchedule",
    }
)


@dataclass
class CostLine:
    item: str
    sku: str
    region: str
    quantity: Decimal
    unit: str
    basis: str
    resources: list[str] = field(default_factory=list)
    unit_price_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    price_source: str | None = None
    price_date: str | None = None
    unknown_reason: str | None = None

    @property
    def price_reference(self) -> str:
        return f"{self.region}/{self.sku}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "resources": self.resources,
            "sku": self.sku,
            "region": self.region,
            "price_reference": self.price_reference,
            "quantity": _number(self.quantity),
            "unit": self.unit,
            "basis": self.basis,
            "unit_price_usd": None if self.unit_price_usd is None else _number(self.unit_price_usd),
            "monthly_usd": None if self.monthly_usd is None else _number(self.monthly_usd),
            "price_source": self.price_source,
            "price_date": self.price_date,
            **({"unknown_reason": self.unknown_reason} if self.unknown_reason else {}),
        }


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class CostEstimate:
    stack_name: str
    blueprint: str
    environment: str
    region: str
    currency: str
    hours_per_month: int
    assumptions: UsageAssumptions
    lines: list[CostLine]
    not_billed: dict[str, int]

    @property
    def priced(self) -> list[CostLine]:
        return [line for line in self.lines if line.monthly_usd is not None]

    @property
    def unknown(self) -> list[CostLine]:
        return [line for line in self.lines if line.monthly_usd is None]

    @property
    def total_usd(self) -> Decimal:
        return sum((line.monthly_usd for line in self.priced), Decimal("0")).quantize(CENT)  # type: ignore[misc]

    @property
    def complete(self) -> bool:
        return not self.unknown

    @property
    def sources(self) -> list[dict[str, str]]:
        seen = {(line.price_source, line.price_date) for line in self.priced}
        return [{"source": s, "date": d} for s, d in sorted(seen) if s and d]

    def to_json(self) -> str:
        document = {
            "stack_name": self.stack_name,
            "blueprint": self.blueprint,
            "environment": self.environment,
            "region": self.region,
            "currency": self.currency,
            "hours_per_month": self.hours_per_month,
            "total_monthly_usd": _number(self.total_usd),
            "complete": self.complete,
            "lines": [line.to_dict() for line in self.lines],
            "unknown": [
                {"item": line.item, "price_reference": line.price_reference, "reason": line.unknown_reason}
                for line in self.unknown
            ],
            "not_billed_resource_types": self.not_billed,
            "assumptions": self.assumptions.describe(),
            "price_sources": self.sources,
        }
        return json.dumps(document, indent=2) + "\n"


class _Lines:
    """Collects lines, merging those with the same item, SKU and region."""

    def __init__(self, stack: StackFacts, table: PriceTable):
        self.stack = stack
        self.table = table
        self.lines: dict[tuple[str, str, str], CostLine] = {}
        self._bases: dict[tuple[str, str, str], list[str]] = {}

    def add(
        self,
        item: str,
        sku: str | None,
        quantity: Any,
        unit: str,
        basis: str,
        resource: str,
        region: str | None = None,
        unknown: str | None = None,
    ) -> None:
        region = region or self.stack.region
        sku = sku or "unknown"
        key = (item, sku, region)
        amount = Decimal(str(quantity)) if quantity is not None else Decimal("0")
        line = self.lines.get(key)
        if line is None:
            line = self.lines[key] = CostLine(
                item=item, sku=sku, region=region, quantity=Decimal("0"), unit=unit, basis=basis
            )
        line.quantity += amount
        line.resources.append(resource)
        bases = self._bases.setdefault(key, [])
        bases.append(basis)
        if len(bases) > 1:
            # "N × (basis)" only while every merged resource has the same basis: a line of
            # differently sized resources states each one, so the quantity adds up on paper.
            line.basis = f"{len(bases)} × ({basis})" if len(set(bases)) == 1 else " + ".join(bases)
        if quantity is None:
            reason = unknown or "quantity not stated in the template"
            reasons = [] if line.unknown_reason is None else line.unknown_reason.split("; ")
            if reason not in reasons:
                line.unknown_reason = "; ".join([*reasons, reason])

    def priced(self) -> list[CostLine]:
        """Every line, in the order first added; those with a known quantity are priced from the table."""
        for line in self.lines.values():
            if line.unknown_reason is None:
                self._attach_price(line)
        return list(self.lines.values())

    def _attach_price(self, line: CostLine) -> None:
        """The table's price and the monthly amount; a price the table lacks makes the line unknown."""
        entry = self.table.lookup(line.region, line.sku)
        if entry is None:
            line.unknown_reason = f"no price for {line.price_reference} in the price table"
            return
        line.unit = entry.unit
        line.unit_price_usd = Decimal(str(entry.usd))
        line.monthly_usd = (line.quantity * line.unit_price_usd).quantize(CENT, rounding=ROUND_HALF_UP)
        line.price_source, line.price_date = entry.source, entry.date


def _db_engine(stack: StackFacts, rid: str) -> str | None:
    """The instance's engine: stated, or read from its parameter group's family (replicas inherit it)."""
    props = stack.props(rid)
    engine = stack.resolve(props.get("Engine")) if "Engine" in props else None
    if engine:
        return engine.lower()
    group = ref_name(props.get("DBParameterGroupName"))
    if group in stack.resources:
        family = str(stack.props(group).get("Family", ""))
        for name in ("aurora-postgresql", "aurora-mysql", "postgres", "mysql", "mariadb"):
            if family.startswith(name):
                return name
    return None


def estimate_stack(
    stack: StackFacts,
    table: PriceTable | None = None,
    assumptions: UsageAssumptions | None = None,
    env: EnvironmentFacts | None = None,
) -> CostEstimate:
    """The stack's monthly estimate; ``env`` lets a read replica inherit facts from its wired source."""
    table = table or load_prices()
    run = _Pricing(stack, _Lines(stack, table), table.hours_per_month, assumptions or UsageAssumptions(), env)
    for rid, resource_type, props in stack.iter_resources():
        _price_resource(run, rid, resource_type, props)
    return CostEstimate(
        stack_name=stack.stack_name,
        blueprint=stack.blueprint,
        environment=stack.environment,
        region=stack.region,
        currency=table.currency,
        hours_per_month=run.hours,
        assumptions=run.usage,
        lines=run.lines.priced(),
        not_billed=dict(sorted(run.not_billed.items())),
    )


@dataclass
class _Pricing:
    """One stack's pricing run: what every per-type pricer reads, and where it writes."""

    stack: StackFacts
    lines: _Lines
    hours: int
    usage: UsageAssumptions
    env: EnvironmentFacts | None
    not_billed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def count_not_billed(self, label: str) -> None:
        self.not_billed[label] += 1

    def add_hourly(self, item: str, sku: str, resource: str, unit: str = "hour") -> None:
        """A line for something billed every hour of the month it exists."""
        self.lines.add(item, sku, self.hours, unit, f"{self.hours} h", resource)

    def add_assumed(self, item: str, sku: str, amount: float, unit: str, resource: str, measure: str = "GB") -> None:
        """A line whose quantity is a usage assumption: the template cannot state it."""
        self.lines.add(item, sku, amount, unit, f"{amount:g} {measure} (assumed)", resource)

    def add_unpriced(self, item: str, unit: str, basis: str, resource: str, reason: str) -> None:
        """A line the price model cannot price: listed with the reason, never guessed."""
        self.lines.add(item, None, None, unit, basis, resource, unknown=reason)


#: How a pricer is called: the run, the resource's logical ID and its properties.
Pricer = Callable[[_Pricing, str, dict], None]


def _price_resource(run: _Pricing, rid: str, resource_type: str, props: dict) -> None:
    """Count a free type, price a known one, or list an unknown one as not in the price model."""
    if resource_type in NOT_BILLED:
        run.count_not_billed(resource_type)
        return
    pricer = _PRICERS.get(resource_type)
    if pricer is None:
        reason = f"{resource_type} is not in the price model"
        run.add_unpriced(resource_type, "month", "not in the price model", rid, reason)
        return
    pricer(run, rid, props)


def _managed_master_secret(run: _Pricing, rid: str, props: dict) -> None:
    """RDS keeps the master password in a secret of its own when asked to manage it; that secret is billed."""
    if is_true(props.get("ManageMasterUserPassword")):
        run.lines.add("RDS-managed master secret", "secretsmanager/secret", 1, "secret-month", "1 secret", rid)


def _price_db_cluster(run: _Pricing, rid: str, props: dict) -> None:
    """Aurora's cluster-level storage and I/O; its instances are priced as DB instances."""
    engine = str(run.stack.resolve(props.get("Engine")) or "").lower()
    if engine.startswith("aurora"):
        usage = run.usage
        run.add_assumed("Aurora storage", f"rds/{engine}/storage", usage.aurora_storage_gb, "GB-month", rid)
        run.add_assumed(
            "Aurora I/O",
            f"rds/{engine}/io",
            usage.aurora_io_millions,
            "million requests",
            rid,
            measure="million requests",
        )
    else:
        reason = f"engine {engine or '(none)'} clusters are not in the price model"
        run.add_unpriced("DB cluster", "month", "engine not priced", rid, reason)
    _managed_master_secret(run, rid, props)


def _replication_group_nodes(stack: StackFacts, props: dict) -> int | None:
    """Nodes in a replication group: stated outright, or shards x (primary + replicas); None when
    a count is known only at deploy time."""
    if "NumCacheClusters" in props:
        return stack.whole_number(props["NumCacheClusters"])
    groups = stack.whole_number(props.get("NumNodeGroups", 1))
    replicas = stack.whole_number(props.get("ReplicasPerNodeGroup", 0))
    return None if groups is None or replicas is None else groups * (1 + replicas)


def _price_cache_replication_group(run: _Pricing, rid: str, props: dict) -> None:
    engine = str(run.stack.resolve(props.get("Engine")) or "redis").lower()
    node_type = run.stack.resolve(props.get("CacheNodeType"))
    nodes = _replication_group_nodes(run.stack, props)
    run.lines.add(
        f"ElastiCache {engine} {node_type} nodes",
        f"elasticache/{engine}/{node_type}",
        None if nodes is None else nodes * run.hours,
        "hour",
        f"{'?' if nodes is None else nodes} node{'' if nodes == 1 else 's'} × {run.hours} h",
        rid,
        unknown="node count not stated in the template (a deploy-time value)",
    )


def _price_nat_gateway(run: _Pricing, rid: str, props: dict) -> None:
    run.add_hourly("NAT gateway hours", "ec2/nat-gateway/hour", rid)
    run.add_assumed(
        "NAT gateway data processed", "ec2/nat-gateway/data", run.usage.nat_processed_gb_per_gateway, "GB", rid
    )


def _price_public_ip(run: _Pricing, rid: str, props: dict) -> None:
    run.add_hourly("Public IPv4 addresses", "vpc/public-ipv4/hour", rid)


def _price_vpc_endpoint(run: _Pricing, rid: str, props: dict) -> None:
    """Interface endpoints bill per subnet (AZ) hour and per GB; gateway endpoints are free
    (CloudFormation's default type is Gateway); any other type (GatewayLoadBalancer, Resource,
    ServiceNetwork) bills, and is not in the price model."""
    endpoint_type = props.get("VpcEndpointType", "Gateway")
    if endpoint_type == "Gateway":
        run.count_not_billed("AWS::EC2::VPCEndpoint (Gateway)")
        return
    if endpoint_type != "Interface":
        reason = f"{endpoint_type} VPC endpoints are not in the price model"
        run.add_unpriced(f"{endpoint_type} endpoint", "hour", "not in the price model", rid, reason)
        return
    zones = len(props.get("SubnetIds") or [])
    run.lines.add(
        "Interface endpoint hours",
        "vpc/interface-endpoint/hour",
        zones * run.hours,
        "hour",
        f"{zones} AZs × {run.hours} h",
        rid,
    )
    run.add_assumed(
        "Interface endpoint data processed",
        "vpc/interface-endpoint/data",
        run.usage.interface_endpoint_processed_gb_per_endpoint,
        "GB",
        rid,
    )


def _price_load_balancer(run: _Pricing, rid: str, props: dict) -> None:
    kind = str(props.get("Type", "application"))
    prefix = {"application": "elb/alb"}.get(kind, f"elb/{kind}")
    hours, lcus = run.hours, run.usage.alb_average_lcus
    run.add_hourly(f"Load balancer ({kind}) hours", f"{prefix}/hour", rid)
    run.lines.add(
        f"Load balancer ({kind}) capacity units",
        f"{prefix}/lcu",
        lcus * hours,
        "LCU-hour",
        f"{lcus:g} LCU (assumed) × {hours} h",
        rid,
    )


def _price_kinesis_stream(run: _Pricing, rid: str, props: dict) -> None:
    mode = ((props.get("StreamModeDetails") or {}).get("StreamMode") or "PROVISIONED").upper()
    if mode == "ON_DEMAND":
        run.add_hourly("Kinesis on-demand stream hours", "kinesis/on-demand/stream", rid, unit="stream-hour")
        usage = run.usage
        run.add_assumed("Kinesis on-demand data in", "kinesis/on-demand/ingest", usage.kinesis_ingest_gb, "GB", rid)
        run.add_assumed(
            "Kinesis on-demand data out", "kinesis/on-demand/retrieval", usage.kinesis_retrieval_gb, "GB", rid
        )
        return
    shards = run.stack.resolve(props.get("ShardCount"))
    count = run.stack.whole_number(props.get("ShardCount"))
    run.lines.add(
        "Kinesis shard hours",
        "kinesis/provisioned/shard",
        None if count is None else count * run.hours,
        "shard-hour",
        f"{shards} shards × {run.hours} h",
        rid,
        unknown="ShardCount is not a literal",
    )


def _price_log_group(run: _Pricing, rid: str, props: dict) -> None:
    run.add_assumed("CloudWatch Logs ingestion", "logs/ingest", run.usage.log_ingest_gb_per_log_group, "GB", rid)


def _price_bucket(run: _Pricing, rid: str, props: dict) -> None:
    run.add_assumed("S3 Standard storage", "s3/standard", run.usage.s3_storage_gb_per_bucket, "GB-month", rid)


def _monthly_fee(item: str, sku: str, noun: str) -> Pricer:
    """A pricer for a type billed one flat fee per resource per month (a key, an alarm, ...)."""
    unit = f"{noun.replace(' ', '-')}-month"

    def price(run: _Pricing, rid: str, props: dict) -> None:
        run.lines.add(item, sku, 1, unit, f"1 {noun}", rid)

    return price


def _as_replica(value: Any) -> Any:
    """A replica property as it stands at rest: the branch of a failover switch
    (``Fn::If [IsReadReplica, value, AWS::NoValue]``) that is not NoValue."""
    return value_when_present(value)


def _source_instance(stack: StackFacts, rid: str, env: EnvironmentFacts | None) -> tuple[StackFacts, str] | None:
    """The DB instance a read replica follows, when its source is a parameter wired to another stack's output."""
    parameter = ref_name(_as_replica(stack.props(rid).get("SourceDBInstanceIdentifier")))
    wire = stack.wires.get(parameter) if parameter is not None else None
    if env is None or wire is None or wire.source_blueprint not in env.stacks:
        return None
    source = env[wire.source_blueprint]
    value = (source.outputs.get(wire.output) or {}).get("Value")
    target = target_of(value)
    if target in source.resources and source.type_of(target) == "AWS::RDS::DBInstance":
        return source, target
    return None


def _price_db_instance(run: _Pricing, rid: str, props: dict) -> None:
    source = _source_instance(run.stack, rid, run.env)
    engine = _db_engine(run.stack, rid) or (_db_engine(*source) if source else None)
    instance_class = run.stack.resolve(props.get("DBInstanceClass"))
    if "DBClusterIdentifier" in props:
        # An Aurora member: storage, I/O and the master secret are the cluster's lines.
        run.add_hourly(f"{engine} {instance_class} instances", f"rds/{engine}/{instance_class}", rid)
        return
    deployment = "multi-az" if is_true(run.stack.resolve(props.get("MultiAZ", False))) else "single-az"
    _standalone_instance_hours(run, rid, props, engine, instance_class, deployment)
    _allocated_storage(run, rid, props, deployment, source)
    _managed_master_secret(run, rid, props)
    _replication_traffic(run, rid, props)


def _standalone_instance_hours(
    run: _Pricing, rid: str, props: dict, engine: str | None, instance_class: str | None, deployment: str
) -> None:
    role = "read replica" if "SourceDBInstanceIdentifier" in props else "instance"
    if engine is None:
        reason = "engine not stated (and no parameter group family to read it from)"
        run.add_unpriced(f"RDS {role} {instance_class}", "hour", f"{run.hours} h", rid, reason)
        return
    run.add_hourly(
        f"RDS {engine} {instance_class} {role} ({deployment})", f"rds/{engine}/{instance_class}/{deployment}", rid
    )


def _allocated_storage(
    run: _Pricing, rid: str, props: dict, deployment: str, source: tuple[StackFacts, str] | None
) -> None:
    """The instance's storage; a replica that states none is billed its source's size and type."""
    storage_facts, storage_id, inherited = run.stack, rid, ""
    if "AllocatedStorage" not in props and source is not None:
        storage_facts, storage_id = source
        inherited = f", inherited from {storage_id} in {storage_facts.blueprint}"
    storage_props = storage_facts.props(storage_id)
    storage = (
        storage_facts.resolve(storage_props.get("AllocatedStorage")) if "AllocatedStorage" in storage_props else None
    )
    storage_type = str(storage_facts.resolve(storage_props.get("StorageType", "gp2")) or "gp2")
    run.lines.add(
        f"RDS {storage_type} storage ({deployment})",
        f"rds/{storage_type}/{deployment}",
        storage_facts.whole_number(storage_props["AllocatedStorage"]) if storage is not None else None,
        "GB-month",
        f"{storage} GB allocated{inherited}",
        rid,
        unknown="AllocatedStorage is not stated in the template (a replica inherits its source's)",
    )


def _replication_traffic(run: _Pricing, rid: str, props: dict) -> None:
    """A cross-region replica's inbound stream, billed as inter-region transfer in the source's region."""
    source_region = run.stack.resolve(_as_replica(props.get("SourceRegion"))) if "SourceRegion" in props else None
    if not source_region or source_region == run.stack.region:
        return
    gb = run.usage.db_replication_gb
    item = f"Replication traffic {source_region} -> {run.stack.region}"
    basis = f"{gb:g} GB (assumed), billed in {source_region}"
    run.lines.add(item, "data-transfer/inter-region", gb, "GB", basis, rid, region=source_region)


def _price_ecs_service(run: _Pricing, rid: str, props: dict) -> None:
    """Fargate tasks' vCPU and memory hours; tasks on EC2 capacity are billed as the instances, not here."""
    if not _uses_fargate(props):
        reason = "only Fargate services are in the price model"
        run.add_unpriced("ECS service on EC2", "hour", "EC2 capacity is priced elsewhere", rid, reason)
        return
    stack, hours = run.stack, run.hours
    desired = stack.resolve(props.get("DesiredCount", 1))
    definition = ref_name(props.get("TaskDefinition"))
    task = stack.props(definition) if definition in stack.resources else {}
    cpu, memory = stack.resolve(task.get("Cpu")), stack.resolve(task.get("Memory"))
    arch = _task_architecture(task)
    known = all(v is not None and v.isdigit() for v in (desired, cpu, memory))
    tasks = int(desired) if known else 0  # type: ignore[arg-type]
    vcpu = Decimal(cpu) / 1024 if known else Decimal(0)  # type: ignore[arg-type]
    gib = Decimal(memory) / 1024 if known else Decimal(0)  # type: ignore[arg-type]
    reason = "desired count or task size is not a literal in the template"
    run.lines.add(
        f"Fargate ({arch}) vCPU",
        f"fargate/{arch}/vcpu",
        tasks * vcpu * hours if known else None,
        "vCPU-hour",
        f"{tasks} tasks × {vcpu:g} vCPU × {hours} h",
        rid,
        unknown=reason,
    )
    run.lines.add(
        f"Fargate ({arch}) memory",
        f"fargate/{arch}/memory",
        tasks * gib * hours if known else None,
        "GB-hour",
        f"{tasks} tasks × {gib:g} GB × {hours} h",
        rid,
        unknown=reason,
    )


def _uses_fargate(service_props: dict) -> bool:
    strategy = service_props.get("CapacityProviderStrategy") or []
    return service_props.get("LaunchType") == "FARGATE" or any(
        str(s.get("CapacityProvider", "")).startswith("FARGATE") for s in strategy
    )


def _task_architecture(task_props: dict) -> str:
    """Fargate bills Graviton (ARM64) tasks at their own, lower rate."""
    declared = str((task_props.get("RuntimePlatform") or {}).get("CpuArchitecture", "X86_64")).upper()
    return "arm64" if declared == "ARM64" else "x86_64"


def _price_file_system(run: _Pricing, rid: str, props: dict) -> None:
    _efs_storage(run, rid, props)
    _efs_replication(run, rid, props)


def _efs_storage(run: _Pricing, rid: str, props: dict) -> None:
    """The assumed data, split between Standard and Infrequent Access when a lifecycle policy moves it."""
    usage = run.usage
    moves_to_ia = any("TransitionToIA" in policy for policy in props.get("LifecyclePolicies") or [])
    ia_share = usage.efs_infrequent_access_share if moves_to_ia else 0.0
    standard_gb = round(usage.efs_storage_gb * (1 - ia_share), 3)
    ia_gb = round(usage.efs_storage_gb * ia_share, 3)
    run.lines.add(
        "EFS Standard storage",
        "efs/standard",
        standard_gb,
        "GB-month",
        f"{standard_gb:g} of {usage.efs_storage_gb:g} GB (assumed)",
        rid,
    )
    if ia_gb:
        run.lines.add(
            "EFS Infrequent Access storage",
            "efs/infrequent-access",
            ia_gb,
            "GB-month",
            f"{ia_gb:g} of {usage.efs_storage_gb:g} GB (assumed; lifecycle policy moves cold files)",
            rid,
        )


def _efs_replication(run: _Pricing, rid: str, props: dict) -> None:
    """Per destination region: the transfer, and the replica's storage when EFS creates the replica."""
    stack, usage = run.stack, run.usage
    for destination in replication_of(props).get("Destinations") or []:
        target = stack.resolve(destination.get("Region")) if isinstance(destination, dict) else None
        if not target:
            continue
        if "FileSystemId" not in destination:
            # EFS creates the replica: it is billed to this stack. A destination that names a
            # file system (the recovery stack's own) is billed, with its lifecycle, there.
            run.lines.add(
                f"EFS replica storage in {target}",
                "efs/standard",
                usage.efs_storage_gb,
                "GB-month",
                f"{usage.efs_storage_gb:g} GB (assumed) held by the replica",
                rid,
                region=target,
            )
        run.add_assumed(
            f"EFS replication traffic {stack.region} -> {target}",
            "data-transfer/inter-region",
            usage.efs_replicated_gb,
            "GB",
            rid,
        )


#: The pricer of each billed resource type; a type neither here nor in NOT_BILLED is listed as unpriced.
_PRICERS: dict[str, Pricer] = {
    "AWS::RDS::DBInstance": _price_db_instance,
    "AWS::RDS::DBCluster": _price_db_cluster,
    "AWS::ElastiCache::ReplicationGroup": _price_cache_replication_group,
    "AWS::EC2::NatGateway": _price_nat_gateway,
    "AWS::EC2::EIP": _price_public_ip,
    "AWS::EC2::VPCEndpoint": _price_vpc_endpoint,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _price_load_balancer,
    "AWS::ECS::Service": _price_ecs_service,
    "AWS::EFS::FileSystem": _price_file_system,
    "AWS::Kinesis::Stream": _price_kinesis_stream,
    "AWS::KMS::Key": _monthly_fee("KMS keys", "kms/key", "key"),
    "AWS::CloudWatch::Alarm": _monthly_fee("CloudWatch alarms", "cloudwatch/alarm", "alarm"),
    "AWS::CloudWatch::Dashboard": _monthly_fee("CloudWatch dashboards", "cloudwatch/dashboard", "dashboard"),
    "AWS::Logs::LogGroup": _price_log_group,
    "AWS::SecretsManager::Secret": _monthly_fee("Secrets", "secretsmanager/secret", "secret"),
    "AWS::S3::Bucket": _price_bucket,
    "AWS::Route53::HealthCheck": _monthly_fee("Route 53 health checks", "route53/health-check", "health check"),
}


def produce_costs(config, rendered: Sequence, files: Mapping[str, str]) -> dict[str, str]:
    """``costs/<stack>.json`` for every stack."""
    env = EnvironmentFacts.build(config, rendered)
    return {f"{COSTS_DIR}/{bp}.json": estimate_stack(stack, env=env).to_json() for bp, stack in env.stacks.items()}
