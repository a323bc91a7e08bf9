"""PostgreSQL on RDS: an Aurora cluster (HA stack) or a Multi-AZ DB instance and its
cross-region read replica (DR pair).

TLS is forced by the (cluster) parameter group, the master secret belongs to
RDS (see ``secrets``), the service connects with IAM database authentication,
and every data holder is snapshotted on deletion and on replacement. Aurora
member instances hold no data of their own (storage is the cluster's), so they
carry no Snapshot policy; the cluster does. A read replica cannot take a final
snapshot (RDS refuses one when deleting a replica), so it is retained instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awacs import rds_db
from awacs.aws import Statement
from troposphere import Equals, GetAtt, If, NoValue, Parameter, Ref, Sub, Tags, iam, rds

from streamflix.catalog.engines import major_of
from streamflix.config.models import AlarmThresholds, AuroraConfig, PostgresConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.iam_policies import allow, service_trust
from streamflix.constructs.keys import Key
from streamflix.constructs.network import Network
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.constructs.secrets import TemplateSecret, managed_master_credentials
from streamflix.constructs.security_groups import Tier
from streamflix.template import StackTemplate, protect

AURORA_ENGINE = "aurora-postgresql"
POSTGRES_ENGINE = "postgres"
POSTGRES_PORT = 5432
#: The database's place in the tier firewall: only the service reaches it.
DATABASE_TIER = Tier(name="Database", label="database", port=POSTGRES_PORT, protocol="PostgreSQL")

POSTGRES_SUBNET_GROUP = "PostgresSubnetGroup"
POSTGRES_PARAMETER_GROUP = "PostgresParameterGroup"
POSTGRES_PRIMARY = "PostgresPrimaryInstance"
POSTGRES_REPLICA = "PostgresReplicaInstance"
#: The recovery stack's failover switch: ``replica`` until the failover update sets ``standalone``.
DATABASE_ROLE_PARAMETER = "DatabaseRole"
DATABASE_ROLES = ("replica", "standalone")
#: True while the recovery database is a read replica (``DatabaseRole`` = replica).
IS_READ_REPLICA = "IsReadReplica"
#: Logs an RDS for PostgreSQL instance ships to CloudWatch Logs.
POSTGRES_LOG_EXPORTS = ["postgresql", "upgrade"]

AURORA_SUBNET_GROUP = "AuroraSubnetGroup"
AURORA_PARAMETER_GROUP = "AuroraClusterParameterGroup"
AURORA_CLUSTER = "AuroraCluster"
AURORA_WRITER = "AuroraWriterInstance"
DB_MONITORING_ROLE = "DatabaseMonitoringRole"

#: The RDS CA every instance pins (RSA 2048, valid into the 2060s).
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
#: The config pins the exact minor version (checked against the catalogue), so RDS must not
#: move it in the maintenance window: the template stays the engine's only source, a rebuild
#: or a second create gets the version that runs, and a minor upgrade is a reviewed config
#: change (`build.py diff` shows it). SF3007.
AUTO_MINOR_VERSION_UPGRADE = False

#: Parameters every StreamFlix PostgreSQL runs with: TLS only, connection audit trail.
POSTGRES_PARAMETERS = {
    "rds.force_ssl": "1",
    "log_connections": "1",
    "log_disconnections": "1",
    "log_min_duration_statement": "1000",
}


def aurora_reader_id(ordinal: int) -> str:
    """Readers are numbered from 1; removing the last keeps every other ID."""
    return f"AuroraReaderInstance{ordinal}"


@dataclass(frozen=True)
class AuroraCluster:
    cluster: Ref
    identifier_pattern: str
    writer_endpoint: GetAtt
    reader_endpoint: GetAtt
    port: int
    master_secret_arn: GetAtt
    resource_id: GetAtt
    instance_ids: tuple[str, ...]
    app_username: str

    def grant_connect(self) -> Statement:
        """IAM database authentication as the application user (no password)."""
        return iam_connect(self.resource_id, self.app_username)

    def environment(self) -> dict[str, object]:
        return {
            "DB_HOST": self.writer_endpoint,
            "DB_READER_HOST": self.reader_endpoint,
            "DB_PORT": str(self.port),
            "DB_USER": self.app_username,
            "DB_SSLMODE": "verify-full",
        }


def iam_connect(resource_id: Any, username: str) -> Statement:
    """``rds-db:connect`` as one database user of one cluster or instance (by its resource id)."""
    return allow(
        [rds_db.connect],
        [
            Sub(
                "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ResourceId}/" + username,
                ResourceId=resource_id,
            )
        ],
    )


def add_monitoring_role(t: StackTemplate) -> GetAtt:
    """The role Enhanced Monitoring uses to publish OS metrics."""
    role = t.add_resource(
        iam.Role(
            DB_MONITORING_ROLE,
            Description="Lets RDS Enhanced Monitoring publish OS metrics to CloudWatch Logs",
            AssumeRolePolicyDocument=service_trust("monitoring.rds.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
            ],
        )
    )
    return GetAtt(role, "Arn")


def add_aurora_cluster(
    t: StackTemplate,
    cfg: AuroraConfig,
    *,
    project: str,
    network: Network,
    security_group: Ref,
    key: Key,
) -> AuroraCluster:
    """The encrypted Aurora PostgreSQL cluster in the data subnets, its writer and readers spread over the AZs."""
    subnet_group = t.add_resource(
        rds.DBSubnetGroup(
            AURORA_SUBNET_GROUP,
            DBSubnetGroupDescription="Isolated data subnets for Aurora",
            SubnetIds=network.data_subnets,
        )
    )
    parameter_group = t.add_resource(
        rds.DBClusterParameterGroup(
            AURORA_PARAMETER_GROUP,
            Description="StreamFlix Aurora PostgreSQL: TLS only, connection logging",
            Family=f"aurora-postgresql{major_of(cfg.engine_version)}",
            Parameters=dict(POSTGRES_PARAMETERS),
        )
    )
    identifier = NAMES["aurora_cluster"].sub_pattern(project)
    cluster = _add_aurora_db_cluster(
        t, cfg, identifier=identifier, key=key, subnet_group=Ref(subnet_group),
        parameter_group=Ref(parameter_group), security_group=security_group,
    )
    instance_ids = _add_aurora_instances(t, cfg, cluster, network=network, key=key)
    handle = AuroraCluster(
        cluster=Ref(cluster),
        identifier_pattern=identifier,
        writer_endpoint=GetAtt(cluster, "Endpoint.Address"),
        reader_endpoint=GetAtt(cluster, "ReadEndpoint.Address"),
        port=POSTGRES_PORT,
        master_secret_arn=GetAtt(cluster, "MasterUserSecret.SecretArn"),
        resource_id=GetAtt(cluster, "DBClusterResourceId"),
        instance_ids=tuple(instance_ids),
        app_username=cfg.app_username,
    )
    _add_aurora_outputs(t, handle, cluster)
    return handle


def _add_aurora_db_cluster(
    t: StackTemplate,
    cfg: AuroraConfig,
    *,
    identifier: str,
    key: Key,
    subnet_group: Ref,
    parameter_group: Ref,
    security_group: Ref,
) -> rds.DBCluster:
    """Encrypted with the stack key, IAM authentication on, RDS-managed master secret, snapshotted on delete."""
    cluster = t.add_resource(
        rds.DBCluster(
            AURORA_CLUSTER,
            DBClusterIdentifier=Sub(identifier),
            Engine=AURORA_ENGINE,
            EngineVersion=cfg.engine_version,
            AutoMinorVersionUpgrade=AUTO_MINOR_VERSION_UPGRADE,
            Port=POSTGRES_PORT,
            DatabaseName=cfg.database_name,
            **managed_master_credentials(cfg.master_username, key),
            StorageEncrypted=True,
            KmsKeyId=key.ref,
            EnableIAMDatabaseAuthentication=True,
            DeletionProtection=t.deletion_protection(cfg.deletion_protection),
            BackupRetentionPeriod=cfg.backup_retention_days,
            PreferredBackupWindow=cfg.preferred_backup_window,
            PreferredMaintenanceWindow=cfg.preferred_maintenance_window,
            CopyTagsToSnapshot=True,
            EnableCloudwatchLogsExports=["postgresql"],
            DBSubnetGroupName=subnet_group,
            DBClusterParameterGroupName=parameter_group,
            VpcSecurityGroupIds=[security_group],
        )
    )
    protect(cluster, "Snapshot")
    return cluster


def _add_aurora_instances(
    t: StackTemplate, cfg: AuroraConfig, cluster: rds.DBCluster, *, network: Network, key: Key
) -> list[str]:
    """The writer then ``cfg.reader_count`` readers, round-robin over the AZ slots; returns their logical IDs.

    The writer has promotion tier 0 and the readers 1; all share the enhanced-monitoring role.
    """
    monitoring_role = add_monitoring_role(t)
    instance_ids = [AURORA_WRITER] + [aurora_reader_id(n) for n in range(1, cfg.reader_count + 1)]
    for position, logical_id in enumerate(instance_ids):
        slot = network.slots[position % len(network.slots)]
        writer = logical_id == AURORA_WRITER
        t.add_resource(
            rds.DBInstance(
                logical_id,
                DBClusterIdentifier=Ref(cluster),
                Engine=AURORA_ENGINE,
                DBInstanceClass=cfg.instance_class,
                AvailabilityZone=network.availability_zone(slot),
                PromotionTier=0 if writer else 1,
                PubliclyAccessible=False,
                AutoMinorVersionUpgrade=AUTO_MINOR_VERSION_UPGRADE,
                CACertificateIdentifier=CA_CERTIFICATE,
                EnablePerformanceInsights=True,
                PerformanceInsightsKMSKeyId=key.arn,
                PerformanceInsightsRetentionPeriod=cfg.performance_insights_retention_days,
                MonitoringInterval=cfg.monitoring_interval_seconds,
                MonitoringRoleArn=monitoring_role,
                Tags=Tags(Role="writer" if writer else "reader"),
            )
        )
    return instance_ids


def _add_aurora_outputs(t: StackTemplate, handle: AuroraCluster, cluster: rds.DBCluster) -> None:
    t.add_output("DatabaseClusterName", handle.cluster, "Aurora cluster identifier")
    t.add_output("DatabaseWriterEndpoint", handle.writer_endpoint, "Aurora writer endpoint (TLS required)")
    t.add_output("DatabaseReaderEndpoint", handle.reader_endpoint, "Aurora reader endpoint (load-balanced over readers)")
    t.add_output("DatabasePort", GetAtt(cluster, "Endpoint.Port"), "PostgreSQL port")
    t.add_output(
        "DatabaseMasterSecretArn", handle.master_secret_arn, "Secrets Manager ARN of the RDS-managed, rotating master secret"
    )


def watch_aurora(monitoring: Monitoring, db: AuroraCluster, th: AlarmThresholds) -> None:
    """Alarms on the cluster's writer and readers (cluster-level metrics by role)."""

    def by_role(name: str, role: str, statistic: str = "Average") -> Metric:
        return Metric("AWS/RDS", name, (("DBClusterIdentifier", db.cluster), ("Role", role)), statistic)

    alarms = [
        MetricAlarm("AuroraWriterCpuAlarm", by_role("CPUUtilization", "WRITER"), ">", th.db_cpu_percent,
                    f"Aurora writer CPU above {th.db_cpu_percent}% for 15 minutes"),
        MetricAlarm("AuroraWriterFreeableMemoryAlarm", by_role("FreeableMemory", "WRITER", "Minimum"), "<",
                    th.db_freeable_memory_mib * 1024 * 1024,
                    f"Aurora writer freeable memory below {th.db_freeable_memory_mib} MiB"),
        MetricAlarm("AuroraConnectionsAlarm", by_role("DatabaseConnections", "WRITER", "Maximum"), ">",
                    th.db_connections, f"Aurora writer connections above {th.db_connections}"),
    ]
    if len(db.instance_ids) > 1:
        alarms += [
            MetricAlarm("AuroraReaderCpuAlarm", by_role("CPUUtilization", "READER"), ">", th.db_cpu_percent,
                        f"Aurora readers' CPU above {th.db_cpu_percent}% for 15 minutes"),
            MetricAlarm("AuroraReplicaLagAlarm",
                        Metric("AWS/RDS", "AuroraReplicaLagMaximum", (("DBClusterIdentifier", db.cluster),), "Maximum"),
                        ">", th.db_replica_lag_ms, f"Aurora replica lag above {th.db_replica_lag_ms} ms"),
        ]
    monitoring.watch("Aurora PostgreSQL", alarms)


# -- RDS for PostgreSQL DB instance and its cross-region read replica ---------


@dataclass(frozen=True)
class PostgresInstance:
    """Handle on a DB instance: the primary, or the replica (read-only until promoted)."""

    instance: Ref
    identifier_pattern: str
    arn: GetAtt
    endpoint: GetAtt
    port: int
    resource_id: GetAtt
    app_username: str

    def grant_connect(self) -> Statement:
        """IAM database authentication as the application user (no password)."""
        return iam_connect(self.resource_id, self.app_username)

    def environment(self) -> dict[str, object]:
        return {
            "DB_HOST": self.endpoint,
            "DB_PORT": str(self.port),
            "DB_USER": self.app_username,
            "DB_SSLMODE": "verify-full",
        }


@dataclass(frozen=True)
class BackupReplication:
    """Automated backups copied to another region (point-in-time restore there).

    The KMS key must live in the destination region, so it arrives as a
    parameter; ``condition`` names the template condition that is true when
    that parameter is set.
    """

    region: str
    kms_key_arn: Any
    condition: str
    retention_days: int


def _postgres_placement(t: StackTemplate, cfg: PostgresConfig, network: Network) -> tuple[Ref, Ref, GetAtt]:
    """Subnet group, TLS-only parameter group and the Enhanced Monitoring role of a region."""
    subnet_group = t.add_resource(
        rds.DBSubnetGroup(
            POSTGRES_SUBNET_GROUP,
            DBSubnetGroupDescription="Isolated data subnets for RDS PostgreSQL",
            SubnetIds=network.data_subnets,
        )
    )
    parameter_group = t.add_resource(
        rds.DBParameterGroup(
            POSTGRES_PARAMETER_GROUP,
            Description="StreamFlix RDS PostgreSQL: TLS only, connection logging",
            Family=f"postgres{major_of(cfg.engine_version)}",
            Parameters=dict(POSTGRES_PARAMETERS),
        )
    )
    return Ref(subnet_group), Ref(parameter_group), add_monitoring_role(t)


def _note_single_az(t: StackTemplate, instance: rds.DBInstance, cfg: PostgresConfig) -> None:
    if not cfg.multi_az:
        t.suppress_scan(
            instance, "CKV_AWS_157",
            "single-AZ by config (database.multi_az: false) to save cost outside prod; prod refuses it",
        )


def _instance_properties(
    t: StackTemplate, cfg: PostgresConfig, *, key: Key, security_group: Ref, subnet_group: Ref, parameter_group: Ref, monitoring_role: GetAtt
) -> dict[str, Any]:
    """What the primary and the replica share: placement, TLS, IAM auth, monitoring, logs."""
    return {
        "DBInstanceClass": cfg.instance_class,
        "MultiAZ": cfg.multi_az,
        "StorageType": "gp3",
        "MaxAllocatedStorage": cfg.max_allocated_storage_gib,
        "Port": str(POSTGRES_PORT),
        "DBSubnetGroupName": subnet_group,
        "DBParameterGroupName": parameter_group,
        "VPCSecurityGroups": [security_group],
        "PubliclyAccessible": False,
        "CACertificateIdentifier": CA_CERTIFICATE,
        "EnableIAMDatabaseAuthentication": True,
        "DeletionProtection": t.deletion_protection(cfg.deletion_protection),
        "AutoMinorVersionUpgrade": AUTO_MINOR_VERSION_UPGRADE,
        "CopyTagsToSnapshot": True,
        "EnableCloudwatchLogsExports": list(POSTGRES_LOG_EXPORTS),
        "EnablePerformanceInsights": True,
        "PerformanceInsightsKMSKeyId": key.arn,
        "PerformanceInsightsRetentionPeriod": cfg.performance_insights_retention_days,
        "MonitoringInterval": cfg.monitoring_interval_seconds,
        "MonitoringRoleArn": monitoring_role,
    }


def add_postgres_instance(
    t: StackTemplate,
    cfg: PostgresConfig,
    *,
    project: str,
    network: Network,
    security_group: Ref,
    key: Key,
    backup_replication: BackupReplication | None = None,
    master_secret: TemplateSecret | None = None,
) -> PostgresInstance:
    """The primary: Multi-AZ, encrypted with the stack key, snapshotted on delete and replace.

    ``master_secret`` replaces the RDS-managed master secret with a template-owned
    one: RDS cannot create read replicas of an instance that manages its own.
    """
    subnet_group, parameter_group, monitoring_role = _postgres_placement(t, cfg, network)
    identifier = NAMES["postgres_primary"].sub_pattern(project)
    props = _instance_properties(
        t, cfg, key=key, security_group=security_group, subnet_group=subnet_group,
        parameter_group=parameter_group, monitoring_role=monitoring_role,
    )
    if backup_replication is not None:
        props.update(_backup_replication_properties(backup_replication))
    instance = t.add_resource(
        rds.DBInstance(
            POSTGRES_PRIMARY,
            DBInstanceIdentifier=Sub(identifier),
            Engine=POSTGRES_ENGINE,
            EngineVersion=cfg.engine_version,
            DBName=cfg.database_name,
            **(master_secret.instance_credentials() if master_secret is not None
               else managed_master_credentials(cfg.master_username, key)),
            AllocatedStorage=str(cfg.allocated_storage_gib),
            StorageEncrypted=True,
            KmsKeyId=key.ref,
            BackupRetentionPeriod=cfg.backup_retention_days,
            PreferredBackupWindow=cfg.preferred_backup_window,
            PreferredMaintenanceWindow=cfg.preferred_maintenance_window,
            Tags=Tags(Role="primary"),
            **props,
        )
    )
    protect(instance, "Snapshot")
    _note_single_az(t, instance, cfg)
    handle = _instance_handle(instance, identifier, cfg)
    _add_primary_outputs(t, handle, instance, master_secret)
    return handle


def _backup_replication_properties(backup_replication: BackupReplication) -> dict[str, Any]:
    """Automated backups copied to another region, only while ``backup_replication.condition`` holds."""
    enabled = backup_replication.condition
    return {
        "AutomaticBackupReplicationRegion": If(enabled, backup_replication.region, NoValue),
        "AutomaticBackupReplicationKmsKeyId": If(enabled, backup_replication.kms_key_arn, NoValue),
        "AutomaticBackupReplicationRetentionPeriod": If(enabled, backup_replication.retention_days, NoValue),
    }


def _add_primary_outputs(
    t: StackTemplate, handle: PostgresInstance, instance: rds.DBInstance, master_secret: TemplateSecret | None
) -> None:
    t.add_output("DatabaseInstanceArn", handle.arn, "ARN of the primary DB instance (source of the cross-region replica)")
    t.add_output("DatabaseInstanceIdentifier", handle.instance, "Identifier of the primary DB instance")
    t.add_output("DatabaseEndpoint", handle.endpoint, "Primary DB endpoint (TLS required)")
    t.add_output("DatabasePort", GetAtt(instance, "Endpoint.Port"), "PostgreSQL port")
    if master_secret is not None:
        t.add_output(
            "DatabaseMasterSecretArn", master_secret.secret,
            "Secrets Manager ARN of the template-owned master secret (AWS-hosted rotation; replicated to the recovery region)",
        )
    else:
        t.add_output(
            "DatabaseMasterSecretArn",
            GetAtt(instance, "MasterUserSecret.SecretArn"),
            "Secrets Manager ARN of the RDS-managed, rotating master secret",
        )


def add_postgres_read_replica(
    t: StackTemplate,
    cfg: PostgresConfig,
    *,
    project: str,
    source_arn: Any,
    source_region: str,
    network: Network,
    security_group: Ref,
    key: Key,
) -> PostgresInstance:
    """A cross-region read replica of ``source_arn``, encrypted with THIS region's key.

    Engine, version, storage size and master credentials come from the source.
    Promoting it (``aws rds promote-read-replica``) makes it a standalone
    primary with the same endpoint, so the service needs no redeploy.
    """
    subnet_group, parameter_group, monitoring_role = _postgres_placement(t, cfg, network)
    identifier = NAMES["postgres_replica"].sub_pattern(project)
    _add_database_role_switch(t)
    replica = t.add_resource(
        rds.DBInstance(
            POSTGRES_REPLICA,
            DBInstanceIdentifier=Sub(identifier),
            # "If you remove the SourceDBInstanceIdentifier property from your template and then update
            # your stack, AWS CloudFormation promotes the read replica to a standalone DB instance."
            # After that the stack owns a standalone instance whose DeletionPolicy applies (SF3005).
            SourceDBInstanceIdentifier=If(IS_READ_REPLICA, source_arn, NoValue),
            SourceRegion=If(IS_READ_REPLICA, source_region, NoValue),
            BackupRetentionPeriod=If(IS_READ_REPLICA, NoValue, cfg.backup_retention_days),
            PreferredBackupWindow=If(IS_READ_REPLICA, NoValue, cfg.preferred_backup_window),
            # A cross-region replica of an encrypted source must name a key of its own region.
            KmsKeyId=key.arn,
            Tags=Tags(Role="replica"),
            **_instance_properties(
                t, cfg, key=key, security_group=security_group, subnet_group=subnet_group,
                parameter_group=parameter_group, monitoring_role=monitoring_role,
            ),
        )
    )
    # troposphere's client-side DBInstance checks predate Multi-AZ replicas and demand
    # StorageEncrypted with KmsKeyId, which CloudFormation forbids on a replica (it is
    # inherited); cfn-lint validates the rendered resource against the current schema.
    replica.no_validation()
    # "Read replicas don't support deletion policies. AWS CloudFormation ignores any deletion
    # policy that's associated with a read replica." While a replica it is deleted with the
    # stack (the primary holds the data); once the failover update made it standalone it is
    # the database, and Snapshot applies like on the primary.
    protect(replica, "Snapshot")
    _note_single_az(t, replica, cfg)
    t.suppress_scan(
        replica, "CKV_AWS_16",
        "a replica inherits encryption from its encrypted source; CloudFormation forbids StorageEncrypted "
        "beside SourceDBInstanceIdentifier, and KmsKeyId names this region's customer key",
    )
    handle = _instance_handle(replica, identifier, cfg)
    _add_replica_outputs(t, handle, replica)
    return handle


def _add_database_role_switch(t: StackTemplate) -> None:
    """The DatabaseRole parameter and the IsReadReplica condition: the failover is a stack update to standalone."""
    role = t.add_parameter(
        Parameter(
            DATABASE_ROLE_PARAMETER,
            Type="String",
            AllowedValues=list(DATABASE_ROLES),
            Default=DATABASE_ROLES[0],
            Description=(
                "replica: a cross-region read replica of the primary. standalone: the failover update; "
                "CloudFormation removes SourceDBInstanceIdentifier and so promotes the replica in place."
            ),
        ),
        group="Failover",
        label="Database role (standalone = promote at failover)",
    )
    t.template.add_condition(IS_READ_REPLICA, Equals(Ref(role), DATABASE_ROLES[0]))


def _add_replica_outputs(t: StackTemplate, handle: PostgresInstance, replica: rds.DBInstance) -> None:
    t.add_output("ReplicaInstanceArn", handle.arn, "ARN of the cross-region read replica")
    t.add_output("ReplicaInstanceIdentifier", handle.instance, "Identifier of the replica (promote this at failover)")
    t.add_output("ReplicaEndpoint", handle.endpoint, "Replica endpoint: read-only until promoted, then the writer")
    t.add_output("DatabasePort", GetAtt(replica, "Endpoint.Port"), "PostgreSQL port")


def _instance_handle(instance: rds.DBInstance, identifier: str, cfg: PostgresConfig) -> PostgresInstance:
    return PostgresInstance(
        instance=Ref(instance),
        identifier_pattern=identifier,
        arn=GetAtt(instance, "DBInstanceArn"),
        endpoint=GetAtt(instance, "Endpoint.Address"),
        port=POSTGRES_PORT,
        resource_id=GetAtt(instance, "DbiResourceId"),
        app_username=cfg.app_username,
    )


def replica_lag_metric(replica_identifier: Any, region: str | None = None) -> Metric:
    """RDS ReplicaLag (seconds) of a read replica; ``region`` when it lives in another region."""
    return Metric("AWS/RDS", "ReplicaLag", (("DBInstanceIdentifier", replica_identifier),), "Maximum", 60, region)


def watch_postgres(
    monitoring: Monitoring,
    db: PostgresInstance,
    th: AlarmThresholds,
    *,
    title: str,
    is_replica: bool = False,
    extra_metrics: tuple[Metric, ...] = (),
) -> None:
    """CPU, memory and connections; on a replica also ReplicaLag against the RPO-bound threshold."""

    def of_instance(name: str, statistic: str = "Average") -> Metric:
        return Metric("AWS/RDS", name, (("DBInstanceIdentifier", db.instance),), statistic)

    alarms = [
        MetricAlarm("DatabaseCpuAlarm", of_instance("CPUUtilization"), ">", th.db_cpu_percent,
                    f"Database CPU above {th.db_cpu_percent}% for 15 minutes"),
        MetricAlarm("DatabaseFreeableMemoryAlarm", of_instance("FreeableMemory", "Minimum"), "<",
                    th.db_freeable_memory_mib * 1024 * 1024,
                    f"Database freeable memory below {th.db_freeable_memory_mib} MiB"),
        MetricAlarm("DatabaseConnectionsAlarm", of_instance("DatabaseConnections", "Maximum"), ">",
                    th.db_connections, f"Database connections above {th.db_connections}"),
    ]
    if is_replica:
        # Missing data while a replica means replication is not reporting at all: that is the DR
        # risk itself. The alarm exists only while the instance is a replica (IsReadReplica), so the
        # failover update that promotes it removes the alarm instead of paging on the promotion.
        alarms.append(
            MetricAlarm("ReplicaLagAlarm", replica_lag_metric(db.instance), ">", th.db_replica_lag_seconds,
                        f"Cross-region replica more than {th.db_replica_lag_seconds} s behind the primary (RPO at risk)",
                        evaluation_periods=5, treat_missing_data="breaching", condition=IS_READ_REPLICA)
        )
    monitoring.watch(title, alarms, extra_metrics)
