"""Typed, strict config models: one environment, one section per stack.

Defaults are production-grade and secure (like CDK's L2 constructs); a preset
or a user's file states only what differs. Every cross-field rule lives here,
in a model validator, so a blueprint can trust what it receives. These models
know nothing of troposphere or templates.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Callable, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from streamflix.catalog import limits
from streamflix.catalog import load_catalog, nearest_versions
from streamflix.catalog.engines import major_of, version_key
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


#: An AZ ID: the region's prefix, '-az', a number (use1-az1, euc1-az2, apne1-az4, usgw1-az1).
AZ_ID_PATTERN = re.compile(r"^[a-z]{2,}[0-9]+-az[0-9]+$")


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
    availability_zone_ids: list[str] | None = Field(
        None,
        description=(
            "AZ IDs for the subnets, slot A first (e.g. [use1-az1, use1-az2, use1-az4]): the same physical zones "
            "in every account, rendered as the subnets' AvailabilityZoneId. One per AZ (az_count), with the "
            "region's prefix. Unset: the first az_count zones of !GetAZs, whose mapping to physical zones "
            "differs per account. Setting or changing it on a deployed stack replaces every subnet (the "
            "update fails: new subnets keep their CIDRs), so choose it before the first deploy."
        ),
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

    @field_validator("availability_zone_ids")
    @classmethod
    def _az_ids_well_formed(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        bad = [v for v in value if not AZ_ID_PATTERN.match(v)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} is not an AZ ID (region prefix, '-az', number: use1-az1)")
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _one_az_id_per_az(self) -> "NetworkConfig":
        if self.availability_zone_ids is not None and len(self.availability_zone_ids) != self.az_count:
            raise RuleViolation(
                "availability_zone_ids", list(self.availability_zone_ids),
                f"names {len(self.availability_zone_ids)} AZ IDs for az_count {self.az_count}",
                allowed=f"exactly {self.az_count} AZ IDs, one per AZ slot (A, B{', C' if self.az_count == 3 else ''})",
            )
        return self

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


class PostgresSettings(StrictModel):
    """What every StreamFlix PostgreSQL shares, Aurora or RDS: users, backups, windows, monitoring.

    A base, never used on its own: AuroraConfig and PostgresConfig add the engine
    and the shape (cluster or instance).
    """

    database_name: str = Field(
        "streamflix", pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Initial database created on the server."
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

    @model_validator(mode="after")
    def _windows_do_not_overlap(self) -> "PostgresSettings":
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


class AuroraConfig(PostgresSettings):
    """Aurora PostgreSQL cluster: one writer and readers spread over the AZs."""

    engine_version: str = Field(
        AURORA_DEFAULT_VERSION,
        description="aurora-postgresql version, quoted. Must exist in the stack's region per the catalogue.",
    )
    instance_class: str = Field("db.r6g.large", description="Instance class of the writer and every reader.")
    reader_count: int = Field(2, ge=0, le=15, description="Aurora Replicas besides the writer. Prod needs at least 2.")

    @field_validator("engine_version")
    @classmethod
    def _provisioned_release(cls, value: str) -> str:
        # '-limitless' builds only run in Aurora Limitless (sharded) clusters; this is a provisioned cluster.
        if not re.fullmatch(r"\d+\.\d+", value):
            raise ValueError("a provisioned Aurora cluster needs a plain release like '16.15' (no '-limitless' builds)")
        return value


class PostgresConfig(PostgresSettings):
    """RDS for PostgreSQL DB instance (Multi-AZ), the DR pair's database.

    Defaults follow the DR post-mortem: db.t3.medium, Multi-AZ, 7-day backups in
    the 03:00-05:00 UTC window. The cross-region read replica in the recovery
    region uses the same instance class, so it can take the full load after promotion.
    """

    engine_version: str = Field(
        POSTGRES_DEFAULT_VERSION,
        description="postgres version, quoted. Must exist in BOTH DR regions per the catalogue.",
    )
    instance_class: str = Field(
        "db.t3.medium", description="Instance class of the primary and of its cross-region replica (both regions must offer it)."
    )
    multi_az: bool = Field(
        True, description="Synchronous standby in a second AZ, for the primary and the replica. Prod requires it."
    )
    allocated_storage_gib: int = Field(100, ge=20, le=65536, description="Initial gp3 storage, GiB.")
    max_allocated_storage_gib: int = Field(
        500, ge=21, le=65536, description="Storage autoscaling ceiling, GiB; above allocated_storage_gib."
    )
    preferred_backup_window: DailyWindow = Field(
        "03:00-05:00", description="Daily backup window, UTC, at least 30 minutes (off-peak for StreamFlix)."
    )
    preferred_maintenance_window: WeeklyWindow = Field(
        "sun:05:30-sun:06:30", description="Weekly maintenance window, UTC; must not overlap the backup window."
    )

    @model_validator(mode="after")
    def _storage_can_grow(self) -> "PostgresConfig":
        if self.max_allocated_storage_gib <= self.allocated_storage_gib:
            raise RuleViolation(
                "max_allocated_storage_gib",
                self.max_allocated_storage_gib,
                f"must exceed allocated_storage_gib ({self.allocated_storage_gib}) for storage autoscaling",
                allowed=f"> {self.allocated_storage_gib}",
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


#: The shipped default image: NGINX's unprivileged build, stable line 1.30 (nginx.org supports
#: the current stable and mainline lines only; 1.27 is out of support). Every fact the
#: container contract below relies on is read from the image's own Dockerfile,
#: github.com/nginx/docker-nginx-unprivileged, stable/alpine-slim/Dockerfile (commit
#: e26803b, 2026-07-15, "Updated mainline to 1.31.3, stable to 1.30.4"):
#:   ENV NGINX_VERSION=1.30.4 ............................ the tag below
#:   ARG UID=101 / ARG GID=101 ... USER $UID ............. uid/gid 101
#:   sed 's,listen 80;,listen 8080;' ... EXPOSE 8080 ..... port 8080
#:   pid -> /tmp/nginx.pid; proxy/client_body/fastcgi/uwsgi/scgi temp paths -> /tmp/* .. /tmp is written
#:   chown -R $UID:0 /var/cache/nginx (the compiled-in cache root) ........ /var/cache/nginx may be written
#:   the build itself runs `wget -O ...` before installing any package: busybox wget and chown
#:   are in the base image (health-check command and the volume-owner init container)
#:   docker-entrypoint.d/10-listen-on-ipv6-by-default.sh `touch`es default.conf first and exits 0
#:   on a read-only file system; the other entrypoint scripts write nothing unless their
#:   NGINX_ENTRYPOINT_* variables or /etc/nginx/templates exist
#: Its .github/workflows/alpine-stable.yml pushes public.ecr.aws/nginx/nginx-unprivileged with the
#: tag <major>.<minor>.<patch>-alpine-slim for linux/arm64 (our tasks' architecture) among others.
#: Not pinned by digest: a digest can only be read from the registry, which this build (offline)
#: cannot reach, and we never write one we have not read. Pin it before production with
#: `docker buildx imagetools inspect <image>` (or `crane digest <image>`) and set
#: ``compute.container.image: <image>@sha256:<digest>``; until then every template says so
#: in Metadata.StreamFlix.SecurityNotes.
DEFAULT_CONTAINER_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.30.4-alpine-slim"
#: What the default image writes at run time (see above); each gets a task volume.
DEFAULT_WRITABLE_PATHS: tuple[str, ...] = ("/tmp", "/var/cache/nginx")
#: Container image reference: registry/repository, then a tag and/or a sha256 digest.
IMAGE_PATTERN = r"^[a-z0-9][a-z0-9.\-/_]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})?(@sha256:[0-9a-f]{64})?$"
_IMAGE_PATH = r"^/[A-Za-z0-9._\-/]{1,200}$"


class ContainerHealthCheck(StrictModel):
    """How ECS and the load balancer decide the container is healthy: one path, one port."""

    path: str = Field(
        "/",
        pattern=r"^/[A-Za-z0-9._~/\-]*$",
        description="HTTP path that answers 2xx/3xx when the app is healthy; the ALB target group, the Route 53 "
        "failover check and the container health check all request it.",
    )
    command: str = Field(
        "wget -q -O /dev/null http://127.0.0.1:{port}{path} || exit 1",
        min_length=1,
        max_length=1000,
        description="Shell command ECS runs inside the container (CMD-SHELL); exit 0 is healthy. It must contain "
        "{port} and {path}, filled from this contract, so it cannot probe something the load balancer does not.",
    )
    interval_seconds: int = Field(30, ge=5, le=300, description="Seconds between container health checks.")
    timeout_seconds: int = Field(5, ge=2, le=60, description="Seconds a check may take.")
    retries: int = Field(3, ge=1, le=10, description="Consecutive failures before the container is unhealthy.")
    start_period_seconds: int = Field(
        15, ge=0, le=300, description="Grace after start before failures count (the app's start-up time)."
    )

    @model_validator(mode="after")
    def _command_uses_the_contract(self) -> "ContainerHealthCheck":
        missing = [p for p in ("{port}", "{path}") if p not in self.command]
        if missing:
            raise RuleViolation(
                "command", self.command,
                f"must contain {' and '.join(missing)} so the check probes the contract's port and path",
                allowed="e.g. 'wget -q -O /dev/null http://127.0.0.1:{port}{path} || exit 1'",
            )
        if self.timeout_seconds >= self.interval_seconds:
            raise RuleViolation(
                "timeout_seconds", self.timeout_seconds, "must be shorter than interval_seconds",
                allowed=f"< {self.interval_seconds}",
            )
        return self

    def rendered_command(self, port: int) -> str:
        return self.command.replace("{port}", str(port)).replace("{path}", self.path)


class ContainerConfig(StrictModel):
    """The container contract: what the image is and needs, so the task can actually run it.

    The root file system is always read-only (no switch turns that off); every path the
    image writes gets a task volume, owned by the container's uid/gid before it starts.
    """

    image: str = Field(
        DEFAULT_CONTAINER_IMAGE,
        pattern=IMAGE_PATTERN,
        description="Image reference (tag and/or @sha256 digest); default of the ContainerImage parameter, "
        "which may name another tag or digest of the same repository at deploy time.",
    )
    port: int = Field(8080, ge=1024, le=65535, description="Port the image listens on (unprivileged: >= 1024).")
    uid: int = Field(101, ge=1, le=2147483647, description="User id the container runs as (never root).")
    gid: int = Field(101, ge=1, le=2147483647, description="Group id the container runs as.")
    writable_paths: list[Annotated[str, Field(pattern=_IMAGE_PATH)]] = Field(
        default_factory=lambda: list(DEFAULT_WRITABLE_PATHS),
        description="Every directory the image writes at run time (pid files, temp files, caches). Each gets "
        "a task volume; with a read-only root file system, anything else written fails.",
    )
    health_check: ContainerHealthCheck = Field(
        default_factory=ContainerHealthCheck, description="Container and load-balancer health check."
    )

    @field_validator("writable_paths")
    @classmethod
    def _paths_are_distinct_directories(cls, value: list[str]) -> list[str]:
        normalised = [p.rstrip("/") or "/" for p in value]
        duplicates = sorted({p for p in normalised if normalised.count(p) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        for path in normalised:
            if path in ("/", "/proc", "/sys", "/dev") or any(part in ("", ".", "..") for part in path.split("/")[1:]):
                raise ValueError(f"{path!r} cannot be a task volume; name the directories the image writes")
            parents = [p for p in normalised if p != path and path.startswith(p + "/")]
            if parents:
                raise ValueError(f"{path} is inside {parents[0]}, which is already writable")
        # Task volumes are named after their path with punctuation folded ('/var/cache' -> scratch-var-cache).
        folded = [re.sub(r"[^a-z0-9]+", "-", p.strip("/").lower()) for p in normalised]
        clashes = sorted({p for p, f in zip(normalised, folded) if folded.count(f) > 1})
        if clashes:
            raise ValueError(f"{', '.join(clashes)} would share one task volume name; rename one directory")
        return normalised

    @property
    def user(self) -> str:
        """ECS ``User``: uid:gid."""
        return f"{self.uid}:{self.gid}"

    @property
    def repository(self) -> str:
        """The image without its tag and digest (what pull permissions are about)."""
        name = self.image.split("@", 1)[0]
        last = name.rsplit("/", 1)
        if ":" in last[-1]:
            name = name.rsplit(":", 1)[0]
        return name

    @property
    def pinned_by_digest(self) -> bool:
        return "@sha256:" in self.image


class ComputeConfig(StrictModel):
    """ECS Fargate service running in the private app subnets."""

    container: ContainerConfig = Field(
        default_factory=ContainerConfig,
        description="The container contract: image, port, user, writable paths, health check.",
    )
    cpu: Literal[256, 512, 1024, 2048, 4096] = Field(512, description="Task CPU units.")
    memory: int = Field(1024, description="Task memory, MiB; must suit the CPU size (Fargate's table).")
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

    db_cpu_percent: int = Field(80, ge=1, le=100, description="Database CPUUtilization, per instance, average over 5 minutes.")
    db_freeable_memory_mib: int = Field(512, ge=64, description="Database FreeableMemory floor, per instance.")
    db_replica_lag_ms: int = Field(1000, ge=10, description="AuroraReplicaLagMaximum ceiling (Aurora readers, same region).")
    db_replica_lag_seconds: int = Field(
        300, ge=1, le=86400,
        description="ReplicaLag ceiling of a cross-region RDS read replica, seconds; at most the DR pair's RPO.",
    )
    db_connections: int = Field(1000, ge=1, description="DatabaseConnections ceiling on the writer.")
    cache_cpu_percent: int = Field(75, ge=1, le=100, description="EngineCPUUtilization ceiling per node.")
    cache_memory_percent: int = Field(80, ge=1, le=100, description="DatabaseMemoryUsagePercentage ceiling per node.")
    cache_evictions: int = Field(100, ge=0, description="Evictions per 5 minutes per node.")
    stream_iterator_age_ms: int = Field(60000, ge=1000, description="GetRecords.IteratorAgeMilliseconds ceiling.")
    file_system_io_limit_percent: int = Field(
        90, ge=1, le=100, description="EFS PercentIOLimit ceiling (General Purpose file systems)."
    )
    target_response_ms: int = Field(
        1000, ge=1, le=600000, description="ALB TargetResponseTime ceiling (average over 5 minutes), milliseconds."
    )


#: Domains that can never receive mail, so a subscription to them is never confirmed:
#: RFC 2606 section 2 (.test, .example, .invalid, .localhost top-level names) and section 3
#: (example.com, example.net, example.org), RFC 6761 section 6.
RESERVED_MAIL_TLDS = ("example", "test", "invalid", "localhost")
RESERVED_MAIL_DOMAINS = ("example.com", "example.net", "example.org")


def reserved_mail_domain(address: str) -> str | None:
    """The reserved domain ``address`` is on, or None when it can receive mail."""
    domain = address.rsplit("@", 1)[-1].lower().rstrip(".")
    if domain.rsplit(".", 1)[-1] in RESERVED_MAIL_TLDS:
        return "." + domain.rsplit(".", 1)[-1]
    for reserved in RESERVED_MAIL_DOMAINS:
        if domain == reserved or domain.endswith("." + reserved):
            return reserved
    return None


class ObservabilityConfig(StrictModel):
    """Where alarms go and what they watch."""

    alarm_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]] = Field(
        default_factory=list,
        description="Addresses subscribed to the encrypted alarm topic (each must confirm). Reserved and "
        "example domains (.example, .test, .invalid, .localhost, example.com/net/org) are refused: they never confirm.",
    )
    existing_alarm_topic: bool = Field(
        False,
        description="Also send every alarm to an existing SNS topic (your paging integration) in the stack's "
        "region, whose ARN is the ExistingAlarmTopicArn deploy-time parameter (no default: the deploy needs it).",
    )
    thresholds: AlarmThresholds = Field(default_factory=AlarmThresholds, description="Alarm thresholds.")

    @field_validator("alarm_emails")
    @classmethod
    def _recipients_can_receive_mail(cls, value: list[str]) -> list[str]:
        for address in value:
            reserved = reserved_mail_domain(address)
            if reserved is not None:
                raise ValueError(
                    f"{address} is on the reserved domain {reserved}, which never receives mail, so the SNS "
                    "subscription is never confirmed and the alarms reach nobody; use a real address"
                )
        duplicates = sorted({a for a in value if value.count(a) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value

    @property
    def reaches_someone(self) -> bool:
        return bool(self.alarm_emails) or self.existing_alarm_topic


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
        check_class_for_version("aurora-postgresql", self.database.engine_version, self.database.instance_class,
                                "database.instance_class")
        check_az_count(self.region, self.network.az_count, "network.az_count")
        check_az_ids(self.region, self.network, "network.availability_zone_ids")
        check_node_type(self.region, self.cache.node_type, "cache.node_type")
        if self.cache.replicas + 1 < 2 or self.network.az_count < 2:
            raise RuleViolation("cache.replicas", self.cache.replicas, "Multi-AZ needs a replica in a second AZ", ">= 1")
        return self


#: EFS replication is designed for a 15-minute RPO for most file systems (AWS EFS user guide).
EFS_REPLICATION_RPO_MINUTES = 15
#: Months-to-days choices EFS lifecycle policies accept for TransitionToIA.
EfsTransitionDays = Literal[1, 7, 14, 30, 60, 90, 180, 270, 365]

_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$")


class EfsConfig(StrictModel):
    """Shared EFS file system of the DR service, replicated to the recovery region."""

    throughput_mode: Literal["elastic", "bursting"] = Field(
        "elastic", description="'elastic' scales with the workload; 'bursting' earns credits with size."
    )
    transition_to_ia_days: EfsTransitionDays = Field(
        30, description="Days without access before a file moves to Infrequent Access storage."
    )
    automatic_backups: bool = Field(True, description="AWS Backup's daily EFS backup plan (35-day retention).")
    mount_path: str = Field(
        "/mnt/shared",
        pattern=r"^/[a-z0-9][a-z0-9_\-/]{0,126}$",
        description="Where the container sees the file system (the only writable path: its root file system is read-only).",
    )
    root_directory: str = Field(
        "/streamflix",
        pattern=r"^/[a-z0-9][a-z0-9_\-/]{0,99}$",
        description="Directory of the file system the service is confined to (the access point's root).",
    )


class LoadBalancerConfig(StrictModel):
    """Internet-facing ALB in front of the service, one per DR region."""

    primary_certificate_arn: str | None = Field(
        None,
        description="ACM certificate in the primary region: HTTPS on 443 and HTTP redirects to it. None serves plain HTTP.",
    )
    recovery_certificate_arn: str | None = Field(
        None, description="ACM certificate in the recovery region (ACM certificates are regional). Set with the primary's."
    )
    certificates_as_parameters: bool = Field(
        False,
        description="Take each region's ACM certificate as the CertificateArn deploy-time parameter of its stack "
        "(HTTPS on 443, HTTP redirects) instead of naming the ARNs here.",
    )
    ssl_policy: str = Field(
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        pattern=r"^ELBSecurityPolicy-[A-Za-z0-9-]+$",
        description="TLS policy of the HTTPS listener (TLS 1.3 and 1.2 only).",
    )
    deletion_protection: bool = Field(True, description="ALB deletion protection. Prod requires it.")
    access_log_retention_days: int = Field(
        90, ge=1, le=3650, description="Days the access-log bucket keeps ALB access logs."
    )

    @model_validator(mode="after")
    def _certificates(self) -> "LoadBalancerConfig":
        for field in ("primary_certificate_arn", "recovery_certificate_arn"):
            arn = getattr(self, field)
            if arn is not None and not _ACM_ARN.match(arn):
                raise RuleViolation(
                    field, arn, "not an ACM certificate ARN", "arn:aws:acm:<region>:<account>:certificate/<uuid>"
                )
        if self.certificates_as_parameters and self.primary_certificate_arn is not None:
            raise RuleViolation(
                "certificates_as_parameters", True, "the certificate ARNs are already in the config",
                allowed="false, or remove primary_certificate_arn and recovery_certificate_arn",
            )
        if (self.primary_certificate_arn is None) != (self.recovery_certificate_arn is None):
            missing = "recovery_certificate_arn" if self.recovery_certificate_arn is None else "primary_certificate_arn"
            raise RuleViolation(
                missing,
                None,
                "set both certificates or neither: a failover must not downgrade HTTPS to HTTP (or the reverse)",
                allowed="an ACM certificate ARN in that stack's region",
            )
        return self

    @property
    def https(self) -> bool:
        return self.primary_certificate_arn is not None or self.certificates_as_parameters


class DnsFailoverConfig(StrictModel):
    """Route 53 failover: PRIMARY record on the primary ALB (health-checked), SECONDARY on the recovery ALB."""

    hosted_zone_id: str | None = Field(
        None,
        pattern=r"^Z[A-Z0-9]{1,31}$",
        description="Public hosted zone that holds the record. Omit (with record_name) to take both as the "
        "HostedZoneId and FailoverRecordName deploy-time parameters of the recovery stack.",
    )
    record_name: str | None = Field(
        None,
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$",
        description="Fully qualified name users resolve, e.g. app.streamflix.com. Omit with hosted_zone_id.",
    )
    health_check_interval_seconds: Literal[10, 30] = Field(
        30, description="Seconds between Route 53 health checks of the primary ALB (10 costs more)."
    )
    health_check_failure_threshold: int = Field(
        3, ge=1, le=10, description="Consecutive failed checks before Route 53 fails over."
    )

    @model_validator(mode="after")
    def _zone_and_name_together(self) -> "DnsFailoverConfig":
        if (self.hosted_zone_id is None) != (self.record_name is None):
            missing = "record_name" if self.record_name is None else "hosted_zone_id"
            raise RuleViolation(
                missing, None, "set hosted_zone_id and record_name together, or omit both to take them as "
                "deploy-time parameters", allowed="both, or neither",
            )
        return self

    @property
    def names_as_parameters(self) -> bool:
        return self.record_name is None

    @property
    def detection_seconds(self) -> int:
        """How long an outage lasts before Route 53 declares the primary unhealthy."""
        return self.health_check_interval_seconds * self.health_check_failure_threshold


class StandbyConfig(StrictModel):
    """How much of the service runs in the recovery region before a failover."""

    mode: Literal["warm_standby", "hot_standby"] = Field(
        "warm_standby",
        description=(
            "'warm_standby': a few tasks run (and the cache, the replica) and the service scales up at "
            "failover; 'hot_standby': the recovery service runs at full size all the time."
        ),
    )
    task_count: int | None = Field(
        None,
        ge=1,
        le=100,
        description=(
            "Tasks the recovery service runs before failover. Default: 1 for warm_standby; "
            "hot_standby always runs compute.desired_count."
        ),
    )


class DrStackConfig(StackConfig):
    """The disaster-recovery pair: a primary region and a warm recovery region.

    One section feeds two blueprints (``dr-primary`` and ``dr-recovery``). Every
    fact that must hold in BOTH regions (engine versions, instance classes, node
    types, certificates) is checked here, before anything renders.
    """

    primary_region: str = Field("eu-west-2", description="Region that serves traffic (dr-primary stack).")
    recovery_region: str = Field(
        "us-east-1", description="Region the data is replicated to and the service fails over to (dr-recovery stack)."
    )
    data_residency: Literal["eu", "unrestricted"] = Field(
        "unrestricted",
        description=(
            "Where this pair's data may live. The DR pair copies the database and the file system to the "
            "recovery region BY DESIGN, so this is stated for the pair itself: 'unrestricted' accepts a "
            "recovery region outside the EU (the default us-east-1); 'eu' requires both regions in the EU."
        ),
    )
    rto_minutes: int = Field(
        15, ge=5, le=1440, description="Recovery time objective: minutes from outage to serving from the recovery region."
    )
    rpo_minutes: int = Field(
        EFS_REPLICATION_RPO_MINUTES,
        ge=1,
        le=1440,
        description=(
            "Recovery point objective, minutes of data the pair may lose. At least 15: EFS replication is "
            "designed for a 15-minute RPO; the database replica usually lags by seconds."
        ),
    )
    dns: DnsFailoverConfig | None = Field(
        None, description="Route 53 failover records and the primary health check. Omit to switch DNS by hand."
    )
    standby: StandbyConfig = Field(default_factory=StandbyConfig, description="What runs in the recovery region at rest.")
    primary_network: NetworkConfig = Field(
        default_factory=lambda: NetworkConfig(vpc_cidr="10.50.0.0/16"), description="VPC of the primary region."
    )
    recovery_network: NetworkConfig = Field(
        default_factory=lambda: NetworkConfig(vpc_cidr="10.60.0.0/16"),
        description="VPC of the recovery region; must not overlap the primary's (so the two can be peered).",
    )
    database: PostgresConfig = Field(default_factory=PostgresConfig, description="RDS PostgreSQL and its replica.")
    cache: CacheConfig = Field(
        default_factory=lambda: CacheConfig(node_type="cache.t3.micro", replicas=1),
        description="ElastiCache replication group, one per region (the recovery one starts empty: a warm cache).",
    )
    file_system: EfsConfig = Field(default_factory=EfsConfig, description="EFS file system, replicated to the recovery region.")
    compute: ComputeConfig = Field(
        default_factory=lambda: ComputeConfig(desired_count=2, max_count=6),
        description="ECS Fargate service; desired_count is the primary's size and the recovery's size after failover.",
    )
    load_balancer: LoadBalancerConfig = Field(
        default_factory=LoadBalancerConfig, description="The ALB of each region and its access logs."
    )
    observability: ObservabilityConfig = Field(
        default_factory=ObservabilityConfig, description="Alarms and dashboards of both stacks."
    )

    @property
    def standby_task_count(self) -> int:
        """Tasks the recovery service runs before failover."""
        if self.standby.mode == "hot_standby":
            return self.compute.desired_count
        return self.standby.task_count or 1

    @model_validator(mode="after")
    def _regions(self) -> "DrStackConfig":
        if limits.partition_of(self.primary_region) != limits.partition_of(self.recovery_region):
            raise RuleViolation(
                "recovery_region", self.recovery_region,
                f"is in partition {limits.partition_of(self.recovery_region)} and primary_region "
                f"{self.primary_region} in {limits.partition_of(self.primary_region)}: a cross-region read replica, "
                "EFS replication and KMS grants cannot cross partitions (botocore endpoint data)",
                allowed=f"a region of the {limits.partition_of(self.primary_region)} partition",
            )
        check_region(self.primary_region, "primary_region")
        check_region(self.recovery_region, "recovery_region")
        if self.primary_region == self.recovery_region:
            raise RuleViolation(
                "recovery_region",
                self.recovery_region,
                "must differ from primary_region: a regional outage would take both stacks",
                allowed=f"any catalogued region except {self.primary_region}",
            )
        if self.data_residency == "eu":
            for field in ("primary_region", "recovery_region"):
                region = getattr(self, field)
                if region not in EU_REGIONS:
                    raise RuleViolation(
                        field,
                        region,
                        "data_residency is 'eu': the DR pair replicates its data into both regions, so both stay in the EU",
                        allowed=", ".join(EU_REGIONS) + " (or set data_residency: unrestricted)",
                    )
        return self

    @model_validator(mode="after")
    def _both_regions_offer_the_engines(self) -> "DrStackConfig":
        regions = (self.primary_region, self.recovery_region)
        check_version_in_regions("postgres", regions, self.database.engine_version, "database.engine_version")
        check_version_in_regions(self.cache.engine, regions, self.cache.version, "cache.engine_version")
        check_class_for_version("postgres", self.database.engine_version, self.database.instance_class,
                                "database.instance_class")
        check_az_count(self.primary_region, self.primary_network.az_count, "primary_network.az_count")
        check_az_count(self.recovery_region, self.recovery_network.az_count, "recovery_network.az_count")
        check_az_ids(self.primary_region, self.primary_network, "primary_network.availability_zone_ids")
        check_az_ids(self.recovery_region, self.recovery_network, "recovery_network.availability_zone_ids")
        for region in regions:
            check_instance_class("postgres", region, self.database.instance_class, "database.instance_class")
            check_node_type(region, self.cache.node_type, "cache.node_type")
        if self.cache.replicas < 1 or min(self.primary_network.az_count, self.recovery_network.az_count) < 2:
            raise RuleViolation("cache.replicas", self.cache.replicas, "Multi-AZ needs a replica in a second AZ", ">= 1")
        return self

    @model_validator(mode="after")
    def _certificates_live_in_their_region(self) -> "DrStackConfig":
        for field, region in (
            ("load_balancer.primary_certificate_arn", self.primary_region),
            ("load_balancer.recovery_certificate_arn", self.recovery_region),
        ):
            arn = getattr(self.load_balancer, field.split(".")[1])
            if arn is not None and _ACM_ARN.match(arn).group("region") != region:
                raise RuleViolation(
                    field, arn, f"an ALB can only use an ACM certificate from its own region ({region})",
                    allowed=f"a certificate ARN in {region}",
                )
        return self

    @model_validator(mode="after")
    def _scratch_volumes_do_not_hide_the_file_system(self) -> "DrStackConfig":
        shared = self.file_system.mount_path.rstrip("/")
        for path in self.compute.container.writable_paths:
            if path == shared or shared.startswith(path + "/") or path.startswith(shared + "/"):
                raise RuleViolation(
                    "compute.container.writable_paths", path,
                    f"overlaps file_system.mount_path {shared}: a task scratch volume would hide the shared files",
                    allowed=f"paths outside {shared}",
                )
        return self

    @model_validator(mode="after")
    def _networks_do_not_overlap(self) -> "DrStackConfig":
        primary = ipaddress.IPv4Network(self.primary_network.vpc_cidr)
        recovery = ipaddress.IPv4Network(self.recovery_network.vpc_cidr)
        if primary.overlaps(recovery):
            raise RuleViolation(
                "recovery_network.vpc_cidr",
                self.recovery_network.vpc_cidr,
                f"overlaps primary_network.vpc_cidr {self.primary_network.vpc_cidr}; the two VPCs could never be peered",
                allowed="a private range disjoint from the primary's, e.g. 10.60.0.0/16",
            )
        return self

    @model_validator(mode="after")
    def _objectives_are_reachable(self) -> "DrStackConfig":
        if self.rpo_minutes < EFS_REPLICATION_RPO_MINUTES:
            raise RuleViolation(
                "rpo_minutes",
                self.rpo_minutes,
                f"EFS replication is designed for an RPO of {EFS_REPLICATION_RPO_MINUTES} minutes; "
                "a tighter target cannot be promised for the file system",
                allowed=f">= {EFS_REPLICATION_RPO_MINUTES}",
            )
        lag = self.observability.thresholds.db_replica_lag_seconds
        if lag > self.rpo_minutes * 60:
            raise RuleViolation(
                "observability.thresholds.db_replica_lag_seconds",
                lag,
                f"the ReplicaLag alarm would fire only after the RPO ({self.rpo_minutes} min) is already lost",
                allowed=f"<= {self.rpo_minutes * 60}",
            )
        if self.dns is not None and self.dns.detection_seconds >= self.rto_minutes * 60:
            raise RuleViolation(
                "dns.health_check_failure_threshold",
                self.dns.health_check_failure_threshold,
                f"Route 53 would need {self.dns.detection_seconds} s to detect the outage, beyond the "
                f"RTO of {self.rto_minutes} minutes",
                allowed=f"interval x threshold < {self.rto_minutes * 60} s",
            )
        return self

    @model_validator(mode="after")
    def _standby_fits_the_service(self) -> "DrStackConfig":
        count = self.standby.task_count
        if count is None:
            return self
        if self.standby.mode == "hot_standby" and count != self.compute.desired_count:
            raise RuleViolation(
                "standby.task_count", count, "hot_standby runs the full compute.desired_count",
                allowed=f"omit it or {self.compute.desired_count}",
            )
        if self.standby.mode == "warm_standby" and count >= self.compute.desired_count:
            raise RuleViolation(
                "standby.task_count",
                count,
                f"a warm standby runs fewer tasks than the primary ({self.compute.desired_count}); "
                "for full size choose mode: hot_standby",
                allowed=f"1..{self.compute.desired_count - 1}",
            )
        return self


def check_region(region: str, path: str) -> None:
    regions = load_catalog().regions
    if region not in regions:
        raise RuleViolation(path, region, "not a region the catalogue knows", ", ".join(regions))
    partition = limits.partition_of(region)
    if partition != "aws":
        raise RuleViolation(
            path, region,
            f"is in the {partition} partition; the blueprints write the aws partition's service principals and "
            "endpoint names (amazonaws.com), which do not exist there",
            allowed="a region of the aws partition: " + ", ".join(r for r in regions if limits.partition_of(r) == "aws"),
        )


def check_az_ids(region: str, network: "NetworkConfig", path: str) -> None:
    """Refuse AZ IDs of another region (use1-az1 in eu-central-1): the subnets could not be created."""
    ids = network.availability_zone_ids
    prefix = limits.az_id_prefix(region)
    if ids is None or prefix is None:
        return
    foreign = [i for i in ids if i.rsplit("-az", 1)[0] != prefix]
    if foreign:
        raise RuleViolation(
            path, list(ids), f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not in {region}, "
            f"whose AZ IDs start with {prefix}-",
            allowed=f"{prefix}-az1, {prefix}-az2, ... (aws ec2 describe-availability-zones --region {region})",
        )


def check_az_count(region: str, az_count: int, path: str) -> None:
    """Refuse more AZs than the region offers (cfn-lint's table): ``!Select [2, !GetAZs '']`` fails."""
    zones = limits.availability_zones(region)
    if zones is not None and az_count > len(zones):
        raise RuleViolation(
            path, az_count,
            f"{region} offers {len(zones)} Availability Zones to an account ({', '.join(zones)}, cfn-lint's data); "
            f"subnet {az_count} would select a zone that does not exist",
            allowed=f"at most {len(zones)}",
        )


def check_class_for_version(engine: str, version: str, instance_class: str, path: str) -> None:
    """Refuse an instance class the engine version does not run on (the data of cfn-lint E3062)."""
    classes = limits.instance_classes_for_version(engine, version)
    if classes is not None and instance_class not in classes:
        family = instance_class.split(".")[1] if instance_class.count(".") >= 2 else ""
        similar = sorted(c for c in classes if family[:1] and c.split(".")[1][:1] == family[:1]) or sorted(classes)
        raise RuleViolation(
            path, instance_class, f"{engine} {version} does not run on it (cfn-lint E3062's data)",
            ", ".join(similar[:12]) + (", ..." if len(similar) > 12 else ""),
        )


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


def check_version_in_regions(engine: str, regions: tuple[str, ...], version: str, path: str) -> None:
    """Refuse a version that some of ``regions`` cannot create, naming those that all of them can."""
    catalog = load_catalog()
    lacking = [region for region in regions if not catalog.has_version(engine, region, version)]
    if lacking:
        common = set.intersection(*(set(catalog.versions(engine, region)) for region in regions))
        near = nearest_versions(version, common)
        raise RuleViolation(
            path,
            version,
            f"{engine} {version} cannot create new instances in {', '.join(lacking)} "
            f"(catalogue of {catalog.snapshot_date}); it must exist in {' and '.join(regions)}",
            allowed="available in both: " + (", ".join(near) or "none"),
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


# AWS's tag pattern (Tagging API, "Tag naming limits"): Unicode letters, digits and
# spaces plus _ . : / = + - @ (pydantic's Rust regex engine understands \p{..}).
TagKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$")]
TagValue = Annotated[str, Field(max_length=256, pattern=r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$")]

#: Tag keys the template core sets on every resource; config tags may not override them.
STANDARD_TAG_KEYS = ("Project", "Environment", "EnvironmentSuffix", "ManagedBy")
#: AWS allows 50 user tags per resource; the build sets the standard ones and
#: constructs add one more on some resources (Name or Role), so the config gets the rest.
AWS_TAGS_PER_RESOURCE = 50
MAX_CONFIG_TAGS = AWS_TAGS_PER_RESOURCE - len(STANDARD_TAG_KEYS) - 1


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


#: Config sections that blueprints from other packages declare: top-level key ->
#: its StackConfig model. The registry supplies it (``streamflix.registry``), so
#: this module knows no blueprint; without a registry only the built-in sections exist.
ExtensionSections = Callable[[], Mapping[str, type["StackConfig"]]]
_extension_sections: ExtensionSections = lambda: {}  # noqa: E731


def set_extension_sections(provider: ExtensionSections) -> None:
    """Where EnvironmentConfig finds the sections registered blueprints declare."""
    global _extension_sections
    _extension_sections = provider


def extension_sections() -> dict[str, type["StackConfig"]]:
    return dict(_extension_sections())


def _error_details(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[InitErrorDetails]:
    """``exc``'s errors, re-rooted under ``prefix``, to merge into one ValidationError."""
    details: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        detail = InitErrorDetails(type=error["type"], loc=(*prefix, *error["loc"]), input=error["input"])
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        try:
            ValidationError.from_exception_data("probe", [detail])
        except (KeyError, TypeError, ValueError):
            # a custom error type (PydanticCustomError) is not a built-in type name: keep its message
            detail = InitErrorDetails(type=PydanticCustomError(error["type"], error["msg"].replace("{", "{{").replace("}", "}}")),
                                      loc=detail["loc"], input=error["input"])
        details.append(detail)
    return details


LifecyclePhase = Literal["create-rollback", "delete", "second-create", "failover"]


class LifecycleException(StrictModel):
    """A lifecycle outcome that needs manual cleanup, accepted with a reason (see streamflix.lifecycle).

    The build fails on any such outcome the config does not name; a named one is
    rendered into the stack's metadata, shown in its runbook's lifecycle table and
    in the first lines of its compliance report.
    """

    stack: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$", description="The stack (blueprint name), e.g. dr-primary.")
    resource: str = Field(pattern=r"^[A-Za-z0-9]{1,255}$", description="The resource's logical ID.")
    phase: LifecyclePhase = Field(description="When the outcome happens: create-rollback, delete, second-create, failover.")
    reason: str = Field(
        min_length=20,
        max_length=400,
        pattern=r"^[^\n]+$",
        description="Why it is accepted and how to clean up, in one line an operator can act on.",
    )


class EnvironmentConfig(StrictModel):
    """One environment (dev, staging, prod, or a user's own) and the stacks it builds.

    Besides the fields below, a config may hold the section of any registered
    blueprint that declares one (``Blueprint.config_model``): it is validated by
    that model and read with :meth:`section`. Any other top-level key is an
    error naming the allowed sections.
    """

    # Registered sections are kept as extras, already validated by their own
    # (strict) models; _sections_of_registered_blueprints refuses every other key.
    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$", description="Environment name; also the out/ sub-folder.")
    tier: Tier = Field(description="Which production rules apply: prod is the strictest.")
    project: str = Field("streamflix", pattern=r"^[a-z][a-z0-9]{1,15}$", description="Prefix of every physical name.")
    environment_suffix: str = Field(
        pattern=r"^[a-z][a-z0-9]{0,11}$",
        description="Default of the EnvironmentSuffix parameter; part of every physical name.",
    )
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        max_length=MAX_CONFIG_TAGS, description="Extra tags for every taggable resource (the standard tags are added)."
    )
    ha_database: HaDatabaseStackConfig | None = Field(
        None, description="The HA database stack (eu-central-1 by default). Omit to not build it."
    )
    dr: DrStackConfig | None = Field(
        None,
        description="The disaster-recovery pair (eu-west-2 primary, us-east-1 recovery by default). Omit to not build it.",
    )
    security_overrides: list[SecurityOverride] = Field(
        default_factory=list,
        description=(
            "Prod only: explicit exceptions to production floors (deletion protection, backup retention, "
            "audit-log retention), each with a reason. Encryption and network isolation have no switch to override."
        ),
    )

    @model_validator(mode="wrap")
    @classmethod
    def _sections_of_registered_blueprints(cls, data: Any, handler: Any) -> "EnvironmentConfig":
        """Validate registered sections with their models; refuse unknown keys, naming the allowed ones."""
        if not isinstance(data, dict):
            return handler(data)
        sections = extension_sections()
        # like a built-in section, a registered one set to null (`work_queue:`) is omitted
        data = {key: value for key, value in data.items() if not (key in sections and value is None)}
        extras = [key for key in data if key not in cls.model_fields]
        errors: list[InitErrorDetails] = []
        validated: dict[str, Any] = {}
        for key in extras:
            model = sections.get(key)
            if model is None:
                allowed = sorted(set(cls.model_fields) | set(sections))
                errors.append(InitErrorDetails(
                    type=PydanticCustomError(
                        "unknown_section",
                        "unknown field or stack section; allowed: {allowed}",
                        {"allowed": ", ".join(allowed)},
                    ),
                    loc=(key,),
                    input=data[key],
                ))
                continue
            try:
                validated[key] = data[key] if isinstance(data[key], model) else model.model_validate(data[key])
            except ValidationError as exc:
                errors += _error_details(exc, (key,))
        try:
            result = handler({**data, **validated})
        except ValidationError as exc:
            if not errors:
                raise
            errors = _error_details(exc, ()) + errors
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return result

    def section(self, name: str) -> "StackConfig | None":
        """A stack section by its top-level key: a built-in field or a registered blueprint's section."""
        if name in type(self).model_fields:
            value = getattr(self, name)
            return value if isinstance(value, StackConfig) else None
        return (self.model_extra or {}).get(name)

    lifecycle_exceptions: list[LifecycleException] = Field(
        default_factory=list,
        description=(
            "Lifecycle outcomes that need manual cleanup (a failed create keeping a resource, a retained resource "
            "blocking a second create), each accepted with a reason. Any other such outcome fails the build."
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
            weakened.update(_enforce_floors(_ha_floors(self.ha_database), overridden))
        if self.tier == "prod" and self.dr is not None:
            _require_prod_grade_dr(self.dr)
            weakened.update(_enforce_floors(_dr_floors(self.dr), overridden))
        if self.ha_database is not None and self.dr is not None:
            _stacks_do_not_share_a_region(self.ha_database, self.dr)
        for index, override in enumerate(self.security_overrides):
            if override.rule not in weakened:
                raise RuleViolation(
                    f"security_overrides.{index}.rule",
                    override.rule,
                    "nothing in this config lowers that floor, so the override would only hide a future change",
                    allowed="remove the entry",
                )
        if self.tier == "prod":
            # After the floors: what a working prod service needs beyond them (issue 11).
            for field, section in self.stacks.items():
                _require_alarm_recipients(field, section)
            if self.dr is not None:
                _require_dr_failover_name_and_tls(self.dr)
        return self

    @property
    def stacks(self) -> dict[str, StackConfig]:
        """Stack sections that are present, keyed by their config field name."""
        builtin = {
            field: getattr(self, field)
            for field in type(self).model_fields
            if isinstance(getattr(self, field), StackConfig)
        }
        return {**builtin, **dict(sorted((self.model_extra or {}).items()))}


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


#: A prod floor a section lowers: (floor, field path, value, what is allowed).
LoweredFloor = tuple[str, str, object, str]


def _ha_floors(stack: HaDatabaseStackConfig) -> list[LoweredFloor]:
    lowered: list[LoweredFloor] = []
    if not stack.database.deletion_protection:
        lowered.append(("deletion-protection", "ha_database.database.deletion_protection", False, "true"))
    if stack.database.backup_retention_days < PROD_MIN_BACKUP_RETENTION_DAYS:
        lowered.append(("backup-retention", "ha_database.database.backup_retention_days",
                        stack.database.backup_retention_days, f">= {PROD_MIN_BACKUP_RETENTION_DAYS}"))
    if stack.network.flow_log_retention_days < PROD_MIN_AUDIT_LOG_RETENTION_DAYS:
        lowered.append(("audit-log-retention", "ha_database.network.flow_log_retention_days",
                        stack.network.flow_log_retention_days, f">= {PROD_MIN_AUDIT_LOG_RETENTION_DAYS}"))
    return lowered


def _dr_floors(dr: DrStackConfig) -> list[LoweredFloor]:
    lowered: list[LoweredFloor] = []
    if not dr.database.deletion_protection:
        lowered.append(("deletion-protection", "dr.database.deletion_protection", False, "true"))
    if not dr.load_balancer.deletion_protection:
        lowered.append(("deletion-protection", "dr.load_balancer.deletion_protection", False, "true"))
    if dr.database.backup_retention_days < PROD_MIN_BACKUP_RETENTION_DAYS:
        lowered.append(("backup-retention", "dr.database.backup_retention_days",
                        dr.database.backup_retention_days, f">= {PROD_MIN_BACKUP_RETENTION_DAYS}"))
    # No plaintext-listener floor here: prod's DR pair requires HTTPS outright
    # (_require_dr_failover_name_and_tls), so no override can lower it.
    for field in ("primary_network", "recovery_network"):
        network: NetworkConfig = getattr(dr, field)
        if network.flow_log_retention_days < PROD_MIN_AUDIT_LOG_RETENTION_DAYS:
            lowered.append(("audit-log-retention", f"dr.{field}.flow_log_retention_days",
                            network.flow_log_retention_days, f">= {PROD_MIN_AUDIT_LOG_RETENTION_DAYS}"))
    return lowered


def _enforce_floors(lowered: list[LoweredFloor], overridden: set[str]) -> dict[str, str]:
    """Refuse any lowered prod floor without an override; return {floor: field path} of the rest."""
    for floor, path, value, allowed in lowered:
        if floor not in overridden:
            raise RuleViolation(
                path,
                value,
                f"prod keeps {OVERRIDABLE[floor]}",
                allowed=f"{allowed}, or a security_overrides entry {{rule: {floor}, reason: ...}}",
            )
    return {floor: path for floor, path, _, _ in lowered}


def _require_alarm_recipients(field: str, section: StackConfig) -> None:
    observability = getattr(section, "observability", None)
    if isinstance(observability, ObservabilityConfig) and not observability.reaches_someone:
        raise RuleViolation(
            f"{field}.observability.alarm_emails",
            [],
            "prod alarms must reach someone (ReplicaLag, HealthyHostCount and RunningTaskCount page nobody otherwise)",
            allowed="at least one address on a real domain, or existing_alarm_topic: true (the "
            "ExistingAlarmTopicArn deploy-time parameter)",
        )


def engine_upgrades(config: "EnvironmentConfig") -> list[str]:
    """One line per pinned engine version the catalogue knows a newer minor of.

    Minor versions never upgrade themselves (``AutoMinorVersionUpgrade: false``, SF3007),
    so the build says when the catalogue lists a newer one; the upgrade is a config change.
    """
    catalog = load_catalog()
    pins: list[tuple[str, str, str, tuple[str, ...]]] = []
    for field, section in config.stacks.items():
        if isinstance(section, HaDatabaseStackConfig):
            regions: tuple[str, ...] = (section.region,)
            pins.append((f"{field}.database.engine_version", "aurora-postgresql", section.database.engine_version, regions))
        elif isinstance(section, DrStackConfig):
            regions = (section.primary_region, section.recovery_region)
            pins.append((f"{field}.database.engine_version", "postgres", section.database.engine_version, regions))
        else:
            continue
        pins.append((f"{field}.cache.engine_version", section.cache.engine, section.cache.version, regions))
    lines = []
    for path, engine, version, regions in pins:
        newest = [catalog.newest_minor(engine, region, major_of(version)) for region in regions]
        # the newest minor every region of the section offers
        common = min((v for v in newest if v is not None), key=version_key, default=None)
        if common is not None and version_key(common) > version_key(version) and all(newest):
            lines.append(
                f"{path} is {version}; the catalogue ({catalog.snapshot_date}) lists {engine} {common} in "
                f"{', '.join(regions)}. Minor versions do not upgrade themselves (AutoMinorVersionUpgrade is off): "
                "bump it to upgrade, and read `build.py diff` first"
            )
    return lines


def alarm_gaps(config: "EnvironmentConfig") -> list[str]:
    """One line per stack section whose alarms reach nobody (dev and staging may build so; prod may not)."""
    return [
        f"{field}: alarms reach nobody ({field}.observability.alarm_emails is empty and existing_alarm_topic is "
        "false); they still change state and show on the dashboard"
        for field, section in config.stacks.items()
        if isinstance(getattr(section, "observability", None), ObservabilityConfig)
        and not section.observability.reaches_someone  # type: ignore[attr-defined]
    ]


def _require_dr_failover_name_and_tls(dr: DrStackConfig) -> None:
    """prod's DR pair: a Route 53 name to fail over and HTTPS in both regions (no plaintext override)."""
    if dr.dns is None:
        raise RuleViolation(
            "dr.dns", None,
            f"prod clients need one name that Route 53 fails over to the recovery region within the "
            f"{dr.rto_minutes}-minute RTO",
            allowed="dns: {hosted_zone_id: Z..., record_name: app.<your domain>}, or dns: {} to take both as "
            "deploy-time parameters of dr-recovery",
        )
    if not dr.load_balancer.https:
        raise RuleViolation(
            "dr.load_balancer.primary_certificate_arn", None,
            "prod serves the DR pair over HTTPS in both regions (a failover must not fall back to plain HTTP)",
            allowed="primary_certificate_arn and recovery_certificate_arn (ACM, one per region), or "
            "certificates_as_parameters: true",
        )


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


def _require_prod_grade_dr(dr: DrStackConfig) -> None:
    """The HA stack's production rules, for the DR pair.

    Both networks follow them: after a failover the recovery region IS production,
    and there is no time during an incident to add NAT gateways or AZs.
    """
    if not dr.database.multi_az:
        raise RuleViolation("dr.database.multi_az", False, "prod databases run Multi-AZ", "true")
    for field in ("primary_network", "recovery_network"):
        network: NetworkConfig = getattr(dr, field)
        if network.nat_gateways != "per_az":
            raise RuleViolation(
                f"dr.{field}.nat_gateways",
                network.nat_gateways,
                "prod needs a NAT gateway per AZ so an AZ outage does not cut egress",
                "per_az",
            )
        if network.az_count < 3:
            raise RuleViolation(f"dr.{field}.az_count", network.az_count, "prod spans 3 AZs", "3")


def _stacks_do_not_share_a_region(ha: HaDatabaseStackConfig, dr: DrStackConfig) -> None:
    """Both stack families derive the same regional physical names (ECS cluster, cache group and
    users) from project and suffix, so two of them in one region would collide at deploy time."""
    for field in ("primary_region", "recovery_region"):
        region = getattr(dr, field)
        if region == ha.region:
            raise RuleViolation(
                f"dr.{field}",
                region,
                f"the HA database stack already deploys to {region} with the same physical names",
                allowed=f"a region other than {ha.region}",
            )
