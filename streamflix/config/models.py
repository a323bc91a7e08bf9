"""Typed, strict config models: one environment, one section per stack.

Defaults are production-grade and secure (like CDK's L2 constructs); a preset
or a user's file states only what differs. Every cross-field rule lives here,
in a model validator, so a blueprint can trust what it receives. These models
know nothing of troposphere or templates.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streamflix.catalog import load_catalog, nearest_versions
from streamflix.config import naming
from streamflix.errors import RuleViolation
from streamflix.floors import (
    OVERRIDABLE,
    PROD_MIN_AUDIT_LOG_RETENTION_DAYS,
    PROD_MIN_BACKUP_RETENTION_DAYS,
    OverridableFloor,
)

# Pinned defaults: the newest minor of the chosen major in the shipped catalogue.
# tests/test_catalog.py fails when cfn-lint deprecates one of these or the
# catalogue gains a newer minor, so a bump is always a reviewed change.
AURORA_DEFAULT_VERSION = "16.15"
POSTGRES_DEFAULT_VERSION = "16.15"
CACHE_DEFAULT_VERSIONS = {"valkey": "8.2", "redis": "7.1"}

#: Regions where personal data may live while ``data_residency: eu``.
EU_REGIONS = (
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
)

#: Values CloudWatch Logs accepts for RetentionInDays.
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]

Tier = Literal["dev", "staging", "prod"]
WeeklyWindow = Annotated[
    str,
    Field(pattern=r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"),
]
DailyWindow = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")]

EndpointService = Literal[
    "s3", "ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms", "sts", "kinesis-streams", "monitoring"
]
#: What Fargate needs to start a task without a NAT gateway: pull the image
#: (ECR api + dkr, layers from S3) and ship its logs.
FARGATE_ENDPOINTS: tuple[str, ...] = ("s3", "ecr.api", "ecr.dkr", "logs")
DEFAULT_ENDPOINTS: tuple[str, ...] = (
    "s3", "ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms", "sts", "kinesis-streams", "monitoring"
)

#: Fargate's task sizes: cpu units -> memory MiB it accepts.
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
}


class StrictModel(BaseModel):
    """Base for every config model: unknown keys and type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, validate_default=True)


def _windows_overlap(first: str, second: str) -> bool:
    """True when two daily 'HH:MM-HH:MM' windows share a minute."""

    def minutes(window: str) -> set[int]:
        start, end = window.split("-")
        a = int(start[:2]) * 60 + int(start[3:])
        b = int(end[:2]) * 60 + int(end[3:])
        return set(range(a, b)) if a < b else set(range(a, 1440)) | set(range(0, b))

    return bool(minutes(first) & minutes(second))


def _daily_part(weekly: str) -> str:
    """'sun:04:30-sun:05:30' -> '04:30-05:30' (the day is ignored for overlap)."""
    start, end = weekly.split("-")
    return f"{start[4:]}-{end[4:]}"


def _window_minutes(window: str) -> int:
    start, end = window.split("-")
    a = int(start[:2]) * 60 + int(start[3:])
    b = int(end[:2]) * 60 + int(end[3:])
    return (b - a) % 1440


class NetworkConfig(StrictModel):
    """VPC layout and how private subnets reach AWS APIs and the internet."""

    vpc_cidr: str = Field(
        "10.20.0.0/16",
        description="IPv4 CIDR of the VPC, /16 to /22. Split into public, app and data subnets per AZ.",
    )
    az_count: Literal[2, 3] = Field(
        3, description="Availability zones to spread over. 3 for production; 2 is allowed for dev."
    )
    nat_gateways: Literal["per_az", "single", "none"] = Field(
        "per_az",
        description=(
            "NAT gateways for app-subnet egress: one per AZ (survives an AZ loss), one shared "
            "(cheaper, dev), or none (then the Fargate VPC endpoints are required)."
        ),
    )
    vpc_endpoints: list[EndpointService] = Field(
        default_factory=lambda: list(DEFAULT_ENDPOINTS),
        description="VPC endpoints: 's3' is a gateway endpoint, the rest are interface endpoints with private DNS.",
    )
    flow_log_retention_days: LogRetentionDays = Field(
        365, description="Retention of the VPC flow-log group (encrypted with the stack key)."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr_is_private_block(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 network CIDR ({exc}); example: 10.20.0.0/16") from None
        if not 16 <= network.prefixlen <= 22:
            raise ValueError("prefix length must be between /16 and /22")
        if not network.is_private:
            raise ValueError("must be a private (RFC 1918) range, e.g. 10.20.0.0/16")
        return value

    @field_validator("vpc_endpoints")
    @classmethod
    def _endpoints_unique(cls, value: list[str]) -> list[str]:
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _private_subnets_have_egress(self) -> "NetworkConfig":
        if self.nat_gateways == "none":
            missing = [e for e in FARGATE_ENDPOINTS if e not in self.vpc_endpoints]
            if missing:
                raise RuleViolation(
                    "vpc_endpoints",
                    list(self.vpc_endpoints),
                    "with nat_gateways: none, app subnets reach AWS only through endpoints, and "
                    f"Fargate cannot pull images or ship logs without {', '.join(missing)}",
                    allowed=f"add {', '.join(missing)} or set nat_gateways to 'single' or 'per_az'",
                )
        return self


class AuroraConfig(StrictModel):
    """Aurora PostgreSQL cluster: one writer and readers spread over the AZs."""

    engine_version: str = Field(
        AURORA_DEFAULT_VERSION,
        description="aurora-postgresql version, quoted. Must exist in the stack's region per the catalogue.",
    )
    instance_class: str = Field("db.r6g.large", description="Instance class of the writer and every reader.")
    reader_count: int = Field(2, ge=0, le=15, description="Aurora Replicas besides the writer. Prod needs at least 2.")
    database_name: str = Field(
        "streamflix", pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Initial database created in the cluster."
    )
    master_username: str = Field(
        "streamflix_admin",
        pattern=r"^[a-z][a-z0-9_]{0,15}$",
        description="Master user name. Its password is generated, held and rotated by RDS in Secrets Manager.",
    )
    app_username: str = Field(
        "streamflix_app",
        pattern=r"^[a-z][a-z0-9_]{0,15}$",
        description="Database user the service connects as, with IAM database authentication (no password).",
    )
    backup_retention_days: int = Field(7, ge=1, le=35, description="Automated backup retention (point-in-time recovery window).")
    preferred_backup_window: DailyWindow = Field("03:00-04:00", description="Daily backup window, UTC, at least 30 minutes.")
    preferred_maintenance_window: WeeklyWindow = Field(
        "sun:04:30-sun:05:30", description="Weekly maintenance window, UTC; must not overlap the backup window."
    )
    deletion_protection: bool = Field(True, description="RDS deletion protection. Prod requires it.")
    performance_insights_retention_days: Literal[7, 31, 62, 93, 186, 372, 731] = Field(
        7, description="Performance Insights retention (7 days is the free tier)."
    )
    monitoring_interval_seconds: Literal[1, 5, 10, 15, 30, 60] = Field(
        60, description="Enhanced Monitoring granularity."
    )

    @field_validator("engine_version")
    @classmethod
    def _provisioned_release(cls, value: str) -> str:
        # '-limitless' builds only run in Aurora Limitless (sharded) clusters; this is a provisioned cluster.
        if not re.fullmatch(r"\d+\.\d+", value):
            raise ValueError("a provisioned Aurora cluster needs a plain release like '16.15' (no '-limitless' builds)")
        return value

    @model_validator(mode="after")
    def _windows_do_not_overlap(self) -> "AuroraConfig":
        if _window_minutes(self.preferred_backup_window) < 30:
            raise RuleViolation(
                "preferred_backup_window", self.preferred_backup_window, "RDS needs a window of at least 30 minutes"
            )
        if _windows_overlap(self.preferred_backup_window, _daily_part(self.preferred_maintenance_window)):
            raise RuleViolation(
                "preferred_maintenance_window",
                self.preferred_maintenance_window,
                f"overlaps the backup window {self.preferred_backup_window}",
                allowed="a weekly window outside the backup window",
            )
        return self


class CacheConfig(StrictModel):
    """ElastiCache replication group with IAM authentication and encryption everywhere."""

    engine: Literal["valkey", "redis"] = Field("valkey", description="Cache engine.")
    engine_version: str | None = Field(
        None,
        description="Engine version, quoted. Default: the pinned default for the engine (valkey 8.2, redis 7.1).",
    )
    node_type: str = Field("cache.r7g.large", description="Node type of the primary and every replica.")
    replicas: int = Field(2, ge=1, le=5, description="Read replicas, each in another AZ; at least 1 for Multi-AZ failover.")
    snapshot_retention_days: int = Field(5, ge=1, le=35, description="Daily snapshots kept.")
    snapshot_window: DailyWindow = Field("05:00-06:00", description="Daily snapshot window, UTC, at least 60 minutes.")
    maintenance_window: WeeklyWindow = Field(
        "sun:06:30-sun:07:30", description="Weekly maintenance window, UTC; must not overlap the snapshot window."
    )

    @property
    def version(self) -> str:
        """The version that renders: explicit, else the pinned default for the engine."""
        return self.engine_version or CACHE_DEFAULT_VERSIONS[self.engine]

    @model_validator(mode="after")
    def _rules(self) -> "CacheConfig":
        # IAM authentication (our only auth mode: no password exists to leak or rotate)
        # needs Redis OSS 7.0+ or any Valkey.
        if self.engine == "redis" and float(".".join(self.version.split(".")[:2])) < 7.0:
            raise RuleViolation(
                "engine_version", self.version, "IAM authentication needs redis 7.0 or newer", allowed="7.0, 7.1"
            )
        if _window_minutes(self.snapshot_window) < 60:
            raise RuleViolation("snapshot_window", self.snapshot_window, "ElastiCache needs at least 60 minutes")
        if _windows_overlap(self.snapshot_window, _daily_part(self.maintenance_window)):
            raise RuleViolation(
                "maintenance_window",
                self.maintenance_window,
                f"overlaps the snapshot window {self.snapshot_window}",
                allowed="a weekly window outside the snapshot window",
            )
        return self


class ComputeConfig(StrictModel):
    """ECS Fargate service running in the private app subnets."""

    image: str = Field(
        "public.ecr.aws/docker/library/nginx:1.27-alpine",
        pattern=r"^[a-z0-9][a-z0-9.\-/:@_]+$",
        description="Container image, ideally pinned by tag or digest.",
    )
    cpu: Literal[256, 512, 1024, 2048, 4096] = Field(512, description="Task CPU units.")
    memory: int = Field(1024, description="Task memory, MiB; must suit the CPU size (Fargate's table).")
    container_port: int = Field(8080, ge=1024, le=65535, description="Port the container listens on (unprivileged).")
    desired_count: int = Field(3, ge=1, le=100, description="Tasks at rest; also the auto-scaling minimum.")
    max_count: int = Field(9, ge=1, le=200, description="Auto-scaling maximum.")
    cpu_target_percent: int = Field(60, ge=10, le=90, description="Target-tracking CPU utilisation.")
    log_retention_days: LogRetentionDays = Field(90, description="Retention of the service's log group.")

    @model_validator(mode="after")
    def _rules(self) -> "ComputeConfig":
        sizes = FARGATE_MEMORY_BY_CPU[self.cpu]
        if self.memory not in sizes:
            allowed = ", ".join(str(m) for m in sizes)
            raise RuleViolation("memory", self.memory, f"Fargate does not offer this with cpu {self.cpu}", allowed)
        if self.max_count < self.desired_count:
            raise RuleViolation(
                "max_count", self.max_count, f"below desired_count {self.desired_count}", f">= {self.desired_count}"
            )
        return self


class StreamingConfig(StrictModel):
    """Kinesis Data Stream for change events, encrypted with the stack key."""

    mode: Literal["on_demand", "provisioned"] = Field("on_demand", description="Capacity mode.")
    shard_count: int | None = Field(None, ge=1, le=500, description="Shards; required for 'provisioned', absent for 'on_demand'.")
    retention_hours: int = Field(168, ge=24, le=8760, description="Record retention.")

    @model_validator(mode="after")
    def _shards_match_mode(self) -> "StreamingConfig":
        if self.mode == "provisioned" and self.shard_count is None:
            raise RuleViolation("shard_count", None, "required when mode is 'provisioned'", "1..500")
        if self.mode == "on_demand" and self.shard_count is not None:
            raise RuleViolation("shard_count", self.shard_count, "on-demand streams scale themselves", "omit it")
        return self


class AlarmThresholds(StrictModel):
    """Thresholds of the alarms the observability construct creates."""

    db_cpu_percent: int = Field(80, ge=1, le=100, description="Aurora CPUUtilization, per instance, average over 5 minutes.")
    db_freeable_memory_mib: int = Field(512, ge=64, description="Aurora FreeableMemory floor, per instance.")
    db_replica_lag_ms: int = Field(1000, ge=10, description="AuroraReplicaLagMaximum ceiling.")
    db_connections: int = Field(1000, ge=1, description="DatabaseConnections ceiling on the writer.")
    cache_cpu_percent: int = Field(75, ge=1, le=100, description="EngineCPUUtilization ceiling per node.")
    cache_memory_percent: int = Field(80, ge=1, le=100, description="DatabaseMemoryUsagePercentage ceiling per node.")
    cache_evictions: int = Field(100, ge=0, description="Evictions per 5 minutes per node.")
    stream_iterator_age_ms: int = Field(60000, ge=1000, description="GetRecords.IteratorAgeMilliseconds ceiling.")


class ObservabilityConfig(StrictModel):
    """Where alarms go and what they watch."""

    alarm_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]] = Field(
        default_factory=list, description="Addresses subscribed to the encrypted alarm topic (each must confirm)."
    )
    thresholds: AlarmThresholds = Field(default_factory=AlarmThresholds, description="Alarm thresholds.")


class StackConfig(StrictModel):
    """Base of every stack-family section of an EnvironmentConfig.

    A section may feed more than one blueprint (the DR pair shares one), so the
    region each stack deploys to is the blueprint's ``region_of`` to say.
    """


class HaDatabaseStackConfig(StackConfig):
    """The HA database stack: VPC, Aurora, ElastiCache, ECS, Kinesis, KMS, alarms."""

    region: str = Field("eu-central-1", description="Region the stack deploys to.")
    data_residency: Literal["eu", "unrestricted"] = Field(
        "eu", description="'eu' (GDPR) keeps the stack in an EU region; 'unrestricted' lifts that."
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="VPC and egress.")
    database: AuroraConfig = Field(default_factory=AuroraConfig, description="Aurora PostgreSQL cluster.")
    cache: CacheConfig = Field(default_factory=CacheConfig, description="ElastiCache replication group.")
    compute: ComputeConfig = Field(default_factory=ComputeConfig, description="ECS Fargate service.")
    streaming: StreamingConfig = Field(default_factory=StreamingConfig, description="Kinesis Data Stream.")
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig, description="Alarms and dashboard.")

    @model_validator(mode="after")
    def _region_rules(self) -> "HaDatabaseStackConfig":
        check_region(self.region, "region")
        if self.data_residency == "eu" and self.region not in EU_REGIONS:
            raise RuleViolation(
                "region",
                self.region,
                "data_residency is 'eu' (GDPR): the HA stack must stay in an EU region",
                allowed=", ".join(EU_REGIONS) + " (or set data_residency: unrestricted)",
            )
        check_engine_version("aurora-postgresql", self.region, self.database.engine_version, "database.engine_version")
        check_engine_version(self.cache.engine, self.region, self.cache.version, "cache.engine_version")
        check_instance_class("aurora-postgresql", self.region, self.database.instance_class, "database.instance_class")
        check_node_type(self.region, self.cache.node_type, "cache.node_type")
        if self.cache.replicas + 1 < 2 or self.network.az_count < 2:
            raise RuleViolation("cache.replicas", self.cache.replicas, "Multi-AZ needs a replica in a second AZ", ">= 1")
        return self


def check_region(region: str, path: str) -> None:
    regions = load_catalog().regions
    if region not in regions:
        raise RuleViolation(path, region, "not a region the catalogue knows", ", ".join(regions))


def check_engine_version(engine: str, region: str, version: str, path: str) -> None:
    """Refuse a version the catalogue does not list for the region, naming the nearest valid ones."""
    catalog = load_catalog()
    if not catalog.has_version(engine, region, version):
        near = nearest_versions(version, catalog.versions(engine, region))
        raise RuleViolation(
            path,
            version,
            f"{engine} {version} cannot create new clusters in {region} "
            f"(catalogue of {catalog.snapshot_date})",
            allowed="nearest available: " + ", ".join(near),
        )


def check_instance_class(engine: str, region: str, instance_class: str, path: str) -> None:
    classes = load_catalog().instance_classes(engine, region)
    if instance_class not in classes:
        family = instance_class.rsplit(".", 1)[0]
        similar = [c for c in classes if c.startswith(family + ".")] or classes[:8]
        raise RuleViolation(
            path, instance_class, f"not offered for {engine} in {region}", ", ".join(similar[:12])
        )


def check_node_type(region: str, node_type: str, path: str) -> None:
    types = load_catalog().node_types(region)
    if node_type not in types:
        family = node_type.rsplit(".", 1)[0]
        similar = [t for t in types if t.startswith(family + ".")] or [t for t in types if ".t4g." in t or ".r7g." in t]
        raise RuleViolation(path, node_type, f"not offered by ElastiCache in {region}", ", ".join(similar[:12]))


TagKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9 _.:/=+\-@]{1,128}$")]
TagValue = Annotated[str, Field(max_length=256, pattern=r"^[A-Za-z0-9 _.:/=+\-@]*$")]

#: Tag keys the template core sets on every resource; config tags may not override them.
STANDARD_TAG_KEYS = ("Project", "Environment", "EnvironmentSuffix", "ManagedBy")


class SecurityOverride(StrictModel):
    """An explicit, reasoned exception to one production floor (see streamflix.floors).

    It is rendered into the template's metadata, printed by the build and shown
    in the first lines of every compliance report of the environment.
    """

    rule: OverridableFloor = Field(
        description="The floor to lower: " + "; ".join(f"{k}: {v}" for k, v in OVERRIDABLE.items()) + "."
    )
    reason: str = Field(
        min_length=20,
        max_length=300,
        pattern=r"^[^\n]+$",
        description="Why, in one line an auditor can read (who decided, until when). Shown in the compliance report.",
    )


class EnvironmentConfig(StrictModel):
    """One environment (dev, staging, prod, or a user's own) and the stacks it builds."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$", description="Environment name; also the out/ sub-folder.")
    tier: Tier = Field(description="Which production rules apply: prod is the strictest.")
    project: str = Field("streamflix", pattern=r"^[a-z][a-z0-9]{1,15}$", description="Prefix of every physical name.")
    environment_suffix: str = Field(
        pattern=r"^[a-z][a-z0-9]{0,11}$",
        description="Default of the EnvironmentSuffix parameter; part of every physical name.",
    )
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict, description="Extra tags for every taggable resource (the standard tags are added)."
    )
    ha_database: HaDatabaseStackConfig | None = Field(
        None, description="The HA database stack (eu-central-1 by default). Omit to not build it."
    )
    security_overrides: list[SecurityOverride] = Field(
        default_factory=list,
        description=(
            "Prod only: explicit exceptions to production floors (deletion protection, backup retention, "
            "audit-log retention), each with a reason. Encryption and network isolation have no switch to override."
        ),
    )

    @field_validator("tags")
    @classmethod
    def _no_standard_tag_override(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in value if k.lower().startswith("aws:"))
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: the 'aws:' prefix is reserved by AWS")
        clashes = sorted(k for k in value if k in STANDARD_TAG_KEYS)
        if clashes:
            raise ValueError(f"{', '.join(clashes)} are set by the build; choose other keys")
        return value

    @model_validator(mode="after")
    def _environment_rules(self) -> "EnvironmentConfig":
        problems = naming.name_violations(self.project, self.environment_suffix)
        if problems:
            room = naming.suffix_max_length(self.project)
            raise RuleViolation(
                "environment_suffix",
                self.environment_suffix,
                "; ".join(problems),
                allowed=f"a suffix of at most {room} characters with project {self.project!r}",
            )
        _check_override_list(self.security_overrides, self.tier)
        overridden = {o.rule for o in self.security_overrides}
        weakened: dict[str, str] = {}
        if self.tier == "prod" and self.ha_database is not None:
            _require_prod_grade_ha(self.ha_database)
            weakened.update(_weakened_floors(self.ha_database, "ha_database", overridden))
        for index, override in enumerate(self.security_overrides):
            if override.rule not in weakened:
                raise RuleViolation(
                    f"security_overrides.{index}.rule",
                    override.rule,
                    "nothing in this config lowers that floor, so the override would only hide a future change",
                    allowed="remove the entry",
                )
        return self

    @property
    def stacks(self) -> dict[str, StackConfig]:
        """Stack sections that are present, keyed by their config field name."""
        return {
            field: getattr(self, field)
            for field in type(self).model_fields
            if isinstance(getattr(self, field), StackConfig)
        }


def _check_override_list(overrides: list[SecurityOverride], tier: str) -> None:
    if overrides and tier != "prod":
        raise RuleViolation(
            "security_overrides",
            [o.rule for o in overrides],
            f"only prod enforces the production floors; tier {tier} needs no override",
            allowed="remove security_overrides, or set tier: prod",
        )
    rules = [o.rule for o in overrides]
    duplicates = sorted({r for r in rules if rules.count(r) > 1})
    if duplicates:
        raise RuleViolation("security_overrides", rules, f"listed more than once: {', '.join(duplicates)}")


def _weakened_floors(stack: HaDatabaseStackConfig, prefix: str, overridden: set[str]) -> dict[str, str]:
    """Prod floors this section lowers, as {floor: field path}; refuses any without an override."""
    lowered = {}
    if not stack.database.deletion_protection:
        lowered["deletion-protection"] = (f"{prefix}.database.deletion_protection", False, "true")
    if stack.database.backup_retention_days < PROD_MIN_BACKUP_RETENTION_DAYS:
        lowered["backup-retention"] = (
            f"{prefix}.database.backup_retention_days", stack.database.backup_retention_days,
            f">= {PROD_MIN_BACKUP_RETENTION_DAYS}",
        )
    if stack.network.flow_log_retention_days < PROD_MIN_AUDIT_LOG_RETENTION_DAYS:
        lowered["audit-log-retention"] = (
            f"{prefix}.network.flow_log_retention_days", stack.network.flow_log_retention_days,
            f">= {PROD_MIN_AUDIT_LOG_RETENTION_DAYS}",
        )
    for floor, (path, value, allowed) in lowered.items():
        if floor not in overridden:
            raise RuleViolation(
                path,
                value,
                f"prod keeps {OVERRIDABLE[floor]}",
                allowed=f"{allowed}, or a security_overrides entry {{rule: {floor}, reason: ...}}",
            )
    return {floor: path for floor, (path, _, _) in lowered.items()}


def _require_prod_grade_ha(stack: HaDatabaseStackConfig) -> None:
    if stack.database.reader_count < 2:
        raise RuleViolation(
            "ha_database.database.reader_count", stack.database.reader_count, "prod needs at least 2 Aurora readers", ">= 2"
        )
    if stack.network.nat_gateways != "per_az":
        raise RuleViolation(
            "ha_database.network.nat_gateways",
            stack.network.nat_gateways,
            "prod needs a NAT gateway per AZ so an AZ outage does not cut egress",
            "per_az",
        )
    if stack.network.az_count < 3:
        raise RuleViolation("ha_database.network.az_count", stack.network.az_count, "prod spans 3 AZs", "3")
