"""The DR pair's primary stack (eu-west-2 by default): it serves, and it replicates.

    VPC (public / app / data subnets, NAT or endpoints, flow logs)
      -> tier security groups (service -> database, cache, file system; ALB -> service)
      -> RDS PostgreSQL, Multi-AZ            -> cross-region read replica (dr-recovery)
                                             -> automated backups copied (once wired)
      -> ElastiCache replication group (Multi-AZ)
      -> EFS (IA lifecycle, access point)    -> EFS replication to the recovery region
      -> ECS Fargate service (mounts EFS) behind an internet-facing ALB
      -> alarms + dashboard -> encrypted SNS topic

The recovery point: the database replica lags by seconds (alarmed in the
recovery stack above the configured threshold, at most the RPO); EFS
replication is designed for 15 minutes. CloudFormation exports do not cross
regions, so every value the recovery stack needs is an output here and a
wired parameter there (see streamflix.wiring).
"""

from __future__ import annotations

from troposphere import Equals, GetAtt, Not, Parameter, Ref, Sub

from streamflix.config.models import EFS_REPLICATION_RPO_MINUTES, DrStackConfig, EnvironmentConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.cache import CACHE_TIER, add_cache, watch_cache
from streamflix.constructs.compute import SERVICE_LOG_GROUP, add_fargate_service, watch_service
from streamflix.constructs.db_bootstrap import BootstrapTarget, add_database_bootstrap
from streamflix.constructs.database import (
    DATABASE_TIER,
    POSTGRES_PORT,
    POSTGRES_PRIMARY,
    BackupReplication,
    add_postgres_instance,
    replica_lag_metric,
    watch_postgres,
)
from streamflix.constructs.filesystem import FILE_SYSTEM_TIER, ReplicationTarget, add_file_system, watch_file_system
from streamflix.constructs.keys import add_data_key
from streamflix.constructs.load_balancer import add_certificate, add_load_balancer, watch_load_balancer
from streamflix.constructs.network import add_network
from streamflix.constructs.observability import Monitoring, add_observability
from streamflix.constructs.secrets import SecretReplica, add_hosted_rotation, add_template_secret
from streamflix.constructs.security_groups import SERVICE_SECURITY_GROUP, add_tier_security_groups
from streamflix.registry import Blueprint, register
from streamflix.template import StackTemplate, create_template

NAME = "dr-primary"
#: The stack that produces this one's optional wiring (the backup key of its region).
RECOVERY_BLUEPRINT = "dr-recovery"
#: Physical names this stack derives from the suffix (bounds its length). The
#: replica's name is here too: the dashboard charts its lag from the other region.
NAME_KEYS = ["postgres_primary", "postgres_replica", "cache_group", "cache_app_user", "cache_default_user",
             "cache_user_group", "ecs_cluster", "alb", "target_group", "dr_primary_dashboard"]

RECOVERY_BACKUP_KEY = "RecoveryBackupKmsKeyArn"
REPLICATE_BACKUPS = "ReplicateBackupsToRecoveryRegion"
RECOVERY_FILE_SYSTEM = "RecoveryFileSystemId"
REPLICATE_FILES = "ReplicateFileSystemToRecoveryRegion"


def build(env: EnvironmentConfig, dr: DrStackConfig) -> StackTemplate:
    region, recovery = dr.primary_region, dr.recovery_region
    t = create_template(
        env,
        blueprint=NAME,
        region=region,
        description=(
            f"StreamFlix DR primary ({env.name}, {region}): RDS PostgreSQL Multi-AZ, ElastiCache, EFS and ECS "
            f"Fargate behind an ALB, replicating to {recovery} (RTO {dr.rto_minutes} min, RPO {dr.rpo_minutes} min)."
        ),
        name_keys=NAME_KEYS,
    )
    prefix = f"{env.project}-${{EnvironmentSuffix}}"

    key = add_data_key(t, alias=f"{prefix}-dr-primary-data", purpose="DR primary stack")
    network = add_network(t, dr.primary_network, name_prefix=prefix, key=key)
    firewall = add_tier_security_groups(
        t, network, name_prefix=prefix, tiers=[DATABASE_TIER, CACHE_TIER, FILE_SYSTEM_TIER]
    )

    # Copying automated backups needs a key in the recovery region, which exists only once
    # dr-recovery is deployed: optional wiring, applied by a second deploy of this stack.
    t.add_wired_parameter(
        Parameter(
            RECOVERY_BACKUP_KEY,
            Type="String",
            Default="",
            AllowedPattern=rf"^$|^arn:aws[a-z-]*:kms:{recovery}:[0-9]{{12}}:key/[0-9a-f-]{{36}}$",
            ConstraintDescription=f"empty, or the ARN of a KMS key in {recovery} (the recovery stack's DataKeyArn)",
            Description=(
                f"KMS key in {recovery} for the copies of the database's automated backups. Empty until "
                "dr-recovery exists; then its DataKeyArn turns on cross-region backup replication."
            ),
        ),
        source_blueprint=RECOVERY_BLUEPRINT,
        source_output="DataKeyArn",
        group="Cross-region wiring",
        label=f"Backup key in {recovery}",
    )
    t.template.add_condition(REPLICATE_BACKUPS, Not(Equals(Ref(RECOVERY_BACKUP_KEY), "")))
    # EFS replicates into a file system dr-recovery owns (its key, its lifecycle), so replication
    # starts with this same second deploy: a failed first create leaves nothing in the other region.
    t.add_wired_parameter(
        Parameter(
            RECOVERY_FILE_SYSTEM,
            Type="String",
            Default="",
            AllowedPattern=r"^$|^fs-[0-9a-f]{8,40}$",
            ConstraintDescription=f"empty, or an EFS file system id in {recovery} (the recovery stack's ReplicaFileSystemId)",
            Description=(
                f"EFS file system in {recovery} to replicate into. Empty until dr-recovery exists; then its "
                "ReplicaFileSystemId turns on EFS replication."
            ),
        ),
        source_blueprint=RECOVERY_BLUEPRINT,
        source_output="ReplicaFileSystemId",
        group="Cross-region wiring",
        label=f"Replication destination in {recovery}",
    )
    t.template.add_condition(REPLICATE_FILES, Not(Equals(Ref(RECOVERY_FILE_SYSTEM), "")))
    file_replication = ReplicationTarget(region=recovery, file_system_id=Ref(RECOVERY_FILE_SYSTEM), condition=REPLICATE_FILES)

    # RDS refuses read replicas of a source that manages its master password, so the
    # template owns this secret; it follows the database to the recovery region.
    master_secret = add_template_secret(
        t, username=dr.database.master_username, key=key,
        description=f"Master credentials of the DR primary database (replicated to {recovery} once wired)",
        replica=SecretReplica(region=recovery, kms_key_arn=Ref(RECOVERY_BACKUP_KEY), condition=REPLICATE_BACKUPS),
    )
    database = add_postgres_instance(
        t, dr.database, project=env.project, network=network, security_group=firewall.group(DATABASE_TIER), key=key,
        backup_replication=BackupReplication(
            region=recovery, kms_key_arn=Ref(RECOVERY_BACKUP_KEY), condition=REPLICATE_BACKUPS,
            retention_days=dr.database.backup_retention_days,
        ),
        master_secret=master_secret,
    )
    add_hosted_rotation(
        t, master_secret, instance=database.instance, vpc=network.vpc, subnets=network.app_subnets,
        database_group=DATABASE_TIER.group_id, database_port=DATABASE_TIER.port, name_prefix=prefix,
        egress=network.app_egress,
    )
    cache = add_cache(
        t, dr.cache, project=env.project, network=network, security_group=firewall.group(CACHE_TIER), key=key,
        log_retention_days=dr.compute.log_retention_days,
    )
    files = add_file_system(
        t, dr.file_system, network=network, security_group=firewall.group(FILE_SYSTEM_TIER), key=key,
        replicate_to=file_replication, name_prefix=prefix,
        posix_user=(dr.compute.container.uid, dr.compute.container.gid),
    )
    certificate = add_certificate(t, dr.load_balancer, region, dr.load_balancer.primary_certificate_arn)
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
    )
    # Only the primary: the replica is read-only, and the role reaches it (and survives its
    # promotion) through replication.
    add_database_bootstrap(
        t,
        BootstrapTarget(host=database.endpoint, port=POSTGRES_PORT, database=dr.database.database_name,
                        app_username=dr.database.app_username,
                        master_secret_arn=GetAtt(POSTGRES_PRIMARY, "MasterUserSecret.SecretArn")),
        project=env.project, key=key, log_group=SERVICE_LOG_GROUP,
    )

    monitoring = Monitoring()
    thresholds = dr.observability.thresholds
    replica_name = Sub(NAMES["postgres_replica"].sub_pattern(env.project))
    watch_postgres(monitoring, database, thresholds, title="RDS PostgreSQL (primary; replica lag from the recovery region)",
                   extra_metrics=(replica_lag_metric(replica_name, region=recovery),))
    watch_cache(monitoring, cache, thresholds)
    watch_file_system(monitoring, files, thresholds, replication=file_replication, rpo_minutes=dr.rpo_minutes)
    watch_service(monitoring, service, floor=1)
    watch_load_balancer(monitoring, balancer, thresholds)
    add_observability(
        t, dr.observability, project=env.project, key=key, monitoring=monitoring, dashboard_name="dr_primary_dashboard"
    )

    t.add_output("RecoveryRegion", recovery, "Region of the dr-recovery stack")
    t.add_output("RecoveryTimeObjectiveMinutes", str(dr.rto_minutes), "RTO the pair is built for, minutes")
    t.add_output("RecoveryPointObjectiveMinutes", str(dr.rpo_minutes), "RPO the pair is built for, minutes")
    t.add_output(
        "RecoveryPointMechanism",
        (
            f"Database: asynchronous RDS cross-region read replica in {recovery}, alarmed when ReplicaLag exceeds "
            f"{thresholds.db_replica_lag_seconds} s; automated backups copied to {recovery} once "
            f"{RECOVERY_BACKUP_KEY} is set. Files: EFS replication to {recovery} once "
            f"{RECOVERY_FILE_SYSTEM} is set, designed for a {EFS_REPLICATION_RPO_MINUTES}-minute RPO and alarmed "
            f"when the last sync is older than {dr.rpo_minutes} min. Cache: not replicated (warm, rebuilt from the database)."
        ),
        "How the recovery point objective is met",
    )
    t.add_output("EnvironmentSuffix", t.suffix.ref(), "Environment suffix used for this deployment")
    return t


BLUEPRINT = register(
    Blueprint(
        name=NAME,
        config_field="dr",
        description="DR primary: RDS PostgreSQL Multi-AZ, ElastiCache, EFS, ECS Fargate behind an ALB, replicating out",
        build=build,
        region_of=lambda section: section.primary_region,  # type: ignore[attr-defined]
    )
)
