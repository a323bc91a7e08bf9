"""Aurora PostgreSQL: an encrypted cluster with a writer and readers over the AZs.

TLS is forced by the cluster parameter group, the master secret belongs to
RDS (see ``secrets``), the service connects with IAM database authentication,
and the cluster is snapshotted on deletion and on replacement. Member
instances hold no data of their own (storage is the cluster's), so they carry
no Snapshot policy; the cluster does.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import rds_db
from awacs.aws import Statement
from troposphere import GetAtt, Ref, Sub, Tags, iam, rds

from streamflix.catalog.engines import major_of
from streamflix.config.models import AlarmThresholds, AuroraConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.iam_policies import allow, service_trust
from streamflix.constructs.keys import Key
from streamflix.constructs.network import Network, availability_zone
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.constructs.secrets import managed_master_credentials
from streamflix.template import StackTemplate, protect

AURORA_ENGINE = "aurora-postgresql"
POSTGRES_PORT = 5432

AURORA_SUBNET_GROUP = "AuroraSubnetGroup"
AURORA_PARAMETER_GROUP = "AuroraClusterParameterGroup"
AURORA_CLUSTER = "AuroraCluster"
AURORA_WRITER = "AuroraWriterInstance"
DB_MONITORING_ROLE = "DatabaseMonitoringRole"

#: The RDS CA every instance pins (RSA 2048, valid into the 2060s).
CA_CERTIFICATE = "rds-ca-rsa2048-g1"

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
        return allow(
            [rds_db.connect],
            [
                Sub(
                    "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ResourceId}/"
                    + self.app_username,
                    ResourceId=self.resource_id,
                )
            ],
        )

    def environment(self) -> dict[str, object]:
        return {
            "DB_HOST": self.writer_endpoint,
            "DB_READER_HOST": self.reader_endpoint,
            "DB_PORT": str(self.port),
            "DB_USER": self.app_username,
            "DB_SSLMODE": "verify-full",
        }


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
    cluster = t.add_resource(
        rds.DBCluster(
            AURORA_CLUSTER,
            DBClusterIdentifier=Sub(identifier),
            Engine=AURORA_ENGINE,
            EngineVersion=cfg.engine_version,
            Port=POSTGRES_PORT,
            DatabaseName=cfg.database_name,
            **managed_master_credentials(cfg.master_username, key),
            StorageEncrypted=True,
            KmsKeyId=key.ref,
            EnableIAMDatabaseAuthentication=True,
            DeletionProtection=cfg.deletion_protection,
            BackupRetentionPeriod=cfg.backup_retention_days,
            PreferredBackupWindow=cfg.preferred_backup_window,
            PreferredMaintenanceWindow=cfg.preferred_maintenance_window,
            CopyTagsToSnapshot=True,
            EnableCloudwatchLogsExports=["postgresql"],
            DBSubnetGroupName=Ref(subnet_group),
            DBClusterParameterGroupName=Ref(parameter_group),
            VpcSecurityGroupIds=[security_group],
        )
    )
    protect(cluster, "Snapshot")

    monitoring_role = add_monitoring_role(t)
    instance_ids = [AURORA_WRITER] + [aurora_reader_id(n) for n in range(1, cfg.reader_count + 1)]
    for position, logical_id in enumerate(instance_ids):
        slot = network.slots[position % len(network.slots)]
        t.add_resource(
            rds.DBInstance(
                logical_id,
                DBClusterIdentifier=Ref(cluster),
                Engine=AURORA_ENGINE,
                DBInstanceClass=cfg.instance_class,
                AvailabilityZone=availability_zone(slot),
                PromotionTier=0 if logical_id == AURORA_WRITER else 1,
                PubliclyAccessible=False,
                AutoMinorVersionUpgrade=True,
                CACertificateIdentifier=CA_CERTIFICATE,
                EnablePerformanceInsights=True,
                PerformanceInsightsKMSKeyId=key.arn,
                PerformanceInsightsRetentionPeriod=cfg.performance_insights_retention_days,
                MonitoringInterval=cfg.monitoring_interval_seconds,
                MonitoringRoleArn=monitoring_role,
                Tags=Tags(Role="writer" if logical_id == AURORA_WRITER else "reader"),
            )
        )

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
    t.add_output("DatabaseClusterName", handle.cluster, "Aurora cluster identifier")
    t.add_output("DatabaseWriterEndpoint", handle.writer_endpoint, "Aurora writer endpoint (TLS required)")
    t.add_output("DatabaseReaderEndpoint", handle.reader_endpoint, "Aurora reader endpoint (load-balanced over readers)")
    t.add_output("DatabasePort", GetAtt(cluster, "Endpoint.Port"), "PostgreSQL port")
    t.add_output(
        "DatabaseMasterSecretArn", handle.master_secret_arn, "Secrets Manager ARN of the RDS-managed, rotating master secret"
    )
    return handle


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
