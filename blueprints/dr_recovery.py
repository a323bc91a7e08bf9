"""The DR pair's recovery stack (us-east-1 by default): warm, replicated, ready to take over.

    VPC (its own key, its own CIDR)
      -> tier security groups (service -> database, cache, file system; ALB -> service)
      -> RDS cross-region read replica of the primary   (promote at failover)
      -> ElastiCache replication group (warm: starts empty)
      -> EFS replication destination (own key, access point; writable once replication is deleted)
      -> ECS Fargate warm standby behind its own ALB    (ServiceTaskCount scales it up)
      -> Route 53 failover records + primary health check (when DNS is configured)
      -> alarms (ReplicaLag above the RPO-bound threshold) + dashboard

Every input from the primary is a parameter, wired from the primary's
outputs (CloudFormation exports do not cross regions). This template creates
its own KMS key and never references the primary's.
"""

from __future__ import annotations

from troposphere import Parameter, Ref

from streamflix.config.models import DrStackConfig, EnvironmentConfig
from streamflix.constructs.cache import CACHE_TIER, add_cache, watch_cache
from streamflix.constructs.compute import add_fargate_service, watch_service
from streamflix.constructs.database import DATABASE_TIER, add_postgres_read_replica, watch_postgres
from streamflix.constructs.dns import AliasEndpoint, add_failover_records
from streamflix.constructs.filesystem import FILE_SYSTEM_TIER, add_replication_destination, watch_file_system
from streamflix.constructs.keys import add_data_key
from streamflix.constructs.load_balancer import add_certificate, add_load_balancer, watch_load_balancer
from streamflix.constructs.network import add_network
from streamflix.constructs.observability import Monitoring, add_observability
from streamflix.constructs.security_groups import SERVICE_SECURITY_GROUP, add_tier_security_groups
from streamflix.registry import Blueprint, register
from streamflix.template import StackTemplate, create_template

NAME = "dr-recovery"
PRIMARY_BLUEPRINT = "dr-primary"
NAME_KEYS = ["postgres_replica", "cache_group", "cache_app_user", "cache_default_user", "cache_user_group",
             "ecs_cluster", "alb", "target_group", "dr_recovery_dashboard"]

PRIMARY_DB_ARN = "PrimaryDatabaseInstanceArn"
PRIMARY_ALB_DNS = "PrimaryLoadBalancerDnsName"
PRIMARY_ALB_ZONE = "PrimaryLoadBalancerHostedZoneId"
SERVICE_TASK_COUNT = "ServiceTaskCount"

_WIRING_GROUP = "From the primary stack"


def build(env: EnvironmentConfig, dr: DrStackConfig) -> StackTemplate:
    region, primary = dr.recovery_region, dr.primary_region
    t = create_template(
        env,
        blueprint=NAME,
        region=region,
        description=(
            f"StreamFlix DR recovery ({env.name}, {region}): cross-region read replica of the {primary} database, "
            f"EFS replica mounts, warm ElastiCache and a {dr.standby.mode.replace('_', ' ')} ECS service behind "
            f"an ALB (RTO {dr.rto_minutes} min)."
        ),
        name_keys=NAME_KEYS,
    )
    prefix = f"{env.project}-${{EnvironmentSuffix}}"

    source_arn = t.add_wired_parameter(
        Parameter(
            PRIMARY_DB_ARN,
            Type="String",
            AllowedPattern=rf"^arn:aws[a-z-]*:rds:{primary}:[0-9]{{12}}:db:[a-z][a-z0-9-]{{0,62}}$",
            ConstraintDescription=f"the ARN of a DB instance in {primary} (dr-primary's DatabaseInstanceArn)",
            Description="The primary DB instance this stack's read replica follows.",
        ),
        source_blueprint=PRIMARY_BLUEPRINT, source_output="DatabaseInstanceArn",
        group=_WIRING_GROUP, label=f"Primary DB instance ARN ({primary})",
    )
    task_count = t.add_parameter(
        Parameter(
            SERVICE_TASK_COUNT,
            Type="Number",
            Default=dr.standby_task_count,
            MinValue=1,
            MaxValue=dr.compute.max_count,
            Description=(
                f"Tasks the recovery service runs: {dr.standby_task_count} at rest ({dr.standby.mode}); "
                f"set {dr.compute.desired_count} at failover (a stack update with this parameter only)."
            ),
        ),
        group="Failover",
        label="Recovery service task count",
    )

    key = add_data_key(t, alias=f"{prefix}-dr-recovery-data", purpose="DR recovery stack")
    network = add_network(t, dr.recovery_network, name_prefix=prefix, key=key)
    firewall = add_tier_security_groups(
        t, network, name_prefix=prefix, tiers=[DATABASE_TIER, CACHE_TIER, FILE_SYSTEM_TIER]
    )
    database = add_postgres_read_replica(
        t, dr.database, project=env.project, source_arn=Ref(source_arn), source_region=primary, network=network,
        security_group=firewall.group(DATABASE_TIER), key=key,
    )
    cache = add_cache(
        t, dr.cache, project=env.project, network=network, security_group=firewall.group(CACHE_TIER), key=key,
        log_retention_days=dr.compute.log_retention_days,
    )
    files = add_replication_destination(
        t, dr.file_system, network=network, security_group=firewall.group(FILE_SYSTEM_TIER), key=key, name_prefix=prefix,
        posix_user=(dr.compute.container.uid, dr.compute.container.gid),
    )
    certificate = add_certificate(t, dr.load_balancer, region, dr.load_balancer.recovery_certificate_arn)
    balancer = add_load_balancer(
        t, dr.load_balancer, project=env.project, region=region, network=network, certificate_arn=certificate,
        container_port=dr.compute.container.port, health_check_path=dr.compute.container.health_check.path,
        service_security_group=SERVICE_SECURITY_GROUP, name_prefix=prefix,
    )
    service = add_fargate_service(
        t, dr.compute, project=env.project, subnets=network.app_subnets, egress=network.app_egress,
        security_group=firewall.service, key=key,
        grants=[database.grant_connect(), cache.grant_connect(), files.grant_mount()],
        environment={**database.environment(), **cache.environment(), **files.environment()},
        load_balancer=balancer.target,
        volumes=[files.volume()],
        role_purpose="connect to the database and cache, mount the shared file system",
        desired_count=Ref(task_count),
    )

    if dr.dns is not None:
        primary_dns = t.add_wired_parameter(
            Parameter(
                PRIMARY_ALB_DNS,
                Type="String",
                AllowedPattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*\.elb\.amazonaws\.com$",
                ConstraintDescription="a load balancer DNS name (dr-primary's LoadBalancerDnsName)",
                Description="The primary ALB: target of the PRIMARY record and of the health check.",
            ),
            source_blueprint=PRIMARY_BLUEPRINT, source_output="LoadBalancerDnsName",
            group=_WIRING_GROUP, label="Primary load balancer DNS name",
        )
        primary_zone = t.add_wired_parameter(
            Parameter(
                PRIMARY_ALB_ZONE,
                Type="String",
                AllowedPattern=r"^Z[A-Z0-9]{1,31}$",
                ConstraintDescription="a Route 53 hosted zone id (dr-primary's LoadBalancerHostedZoneId)",
                Description="Canonical hosted zone of the primary ALB (alias records need it).",
            ),
            source_blueprint=PRIMARY_BLUEPRINT, source_output="LoadBalancerHostedZoneId",
            group=_WIRING_GROUP, label="Primary load balancer hosted zone",
        )
        add_failover_records(
            t, dr.dns,
            primary=AliasEndpoint(Ref(primary_dns), Ref(primary_zone)),
            secondary=AliasEndpoint(balancer.dns_name, balancer.hosted_zone_id),
            protocol=balancer.protocol, health_check_path=dr.compute.container.health_check.path, name_prefix=prefix,
        )

    monitoring = Monitoring()
    thresholds = dr.observability.thresholds
    watch_postgres(monitoring, database, thresholds, title="RDS PostgreSQL (cross-region replica)", is_replica=True)
    watch_cache(monitoring, cache, thresholds)
    watch_file_system(monitoring, files, thresholds, title="EFS (replica)")
    watch_service(monitoring, service, floor=1)
    watch_load_balancer(monitoring, balancer, thresholds)
    add_observability(
        t, dr.observability, project=env.project, key=key, monitoring=monitoring, dashboard_name="dr_recovery_dashboard"
    )

    t.add_output("PrimaryRegion", primary, "Region of the dr-primary stack this one recovers")
    t.add_output("StandbyMode", dr.standby.mode, "What runs here before a failover")
    t.add_output("FailoverTaskCount", str(dr.compute.desired_count), f"{SERVICE_TASK_COUNT} to set at failover")
    t.add_output("EnvironmentSuffix", t.suffix.ref(), "Environment suffix used for this deployment")
    return t


BLUEPRINT = register(
    Blueprint(
        name=NAME,
        config_field="dr",
        description="DR recovery: cross-region read replica, EFS replica mounts, warm cache and ECS standby behind an ALB",
        build=build,
        region_of=lambda section: section.recovery_region,  # type: ignore[attr-defined]
    )
)
