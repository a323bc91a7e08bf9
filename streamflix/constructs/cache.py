"""ElastiCache replication group: Multi-AZ, encrypted at rest and in transit, IAM auth.

Authentication is RBAC with an IAM-authenticated application user: clients
sign a short-lived token with their task role, so there is no AUTH token to
store, leak or rotate. The mandatory ``default`` user is switched off.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import elasticache as elasticache_actions
from awacs.aws import Statement
from troposphere import GetAtt, Ref, Sub, elasticache, logs

from streamflix.config.models import AlarmThresholds, CacheConfig
from streamflix.config.naming import NAMES
from streamflix.constructs.iam_policies import allow
from streamflix.constructs.keys import Key
from streamflix.constructs.network import Network
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.constructs.security_groups import Tier
from streamflix.template import StackTemplate, protect

CACHE_PORT = 6379
#: The cache's place in the tier firewall: only the service reaches it, TLS on 6379.
CACHE_TIER = Tier(name="Cache", label="cache", port=CACHE_PORT, protocol="Cache (TLS)")

CACHE_SUBNET_GROUP = "CacheSubnetGroup"
CACHE_DEFAULT_USER = "CacheDefaultUser"
CACHE_APP_USER = "CacheAppUser"
CACHE_USER_GROUP = "CacheUserGroup"
CACHE_SLOW_LOG_GROUP = "CacheSlowLogGroup"
CACHE_REPLICATION_GROUP = "CacheReplicationGroup"

#: Application access: every key and command except the dangerous ones (FLUSHALL, CONFIG, ...).
APP_ACCESS_STRING = "on ~* +@all -@dangerous"


@dataclass(frozen=True)
class Cache:
    replication_group: Ref
    group_id_pattern: str
    member_ids: tuple[str, ...]
    primary_endpoint: GetAtt
    reader_endpoint: GetAtt
    port: int
    app_user_arn: GetAtt
    app_user_name_pattern: str

    def grant_connect(self) -> Statement:
        """IAM authentication to the replication group as the application user."""
        return allow(
            [elasticache_actions.Connect],
            [
                Sub(
                    "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:replicationgroup:"
                    + self.group_id_pattern
                ),
                self.app_user_arn,
            ],
        )

    def environment(self) -> dict[str, object]:
        return {
            "CACHE_HOST": self.primary_endpoint,
            "CACHE_READER_HOST": self.reader_endpoint,
            "CACHE_PORT": str(self.port),
            "CACHE_USER": Sub(self.app_user_name_pattern),
            "CACHE_TLS": "true",
        }


def add_cache(
    t: StackTemplate,
    cfg: CacheConfig,
    *,
    project: str,
    network: Network,
    security_group: Ref,
    key: Key,
    log_retention_days: int,
) -> Cache:
    """Subnet group, RBAC users, slow log and the replication group, with its outputs.

    Only the application user (IAM-authenticated, ``APP_ACCESS_STRING``) can do anything:
    the ``default`` user every user group must hold is switched off.
    """
    subnet_group = _add_subnet_group(t, network)
    default_user = _add_default_user(t, cfg, project)
    app_user_name = NAMES["cache_app_user"].sub_pattern(project)
    app_user = _add_app_user(t, cfg, app_user_name)
    user_group = _add_user_group(t, cfg, project, members=[default_user, app_user])
    slow_log = _add_slow_log(t, key, log_retention_days)
    group_id = NAMES["cache_group"].sub_pattern(project)
    node_count = 1 + cfg.replicas
    group = _add_replication_group(
        t, cfg, group_id=group_id, node_count=node_count, user_group=user_group, subnet_group=subnet_group,
        security_group=security_group, key=key, slow_log=slow_log,
    )
    handle = Cache(
        replication_group=Ref(group),
        group_id_pattern=group_id,
        # ElastiCache names member clusters <group-id>-001, -002, ...
        member_ids=tuple(f"{group_id}-{n:03d}" for n in range(1, node_count + 1)),
        primary_endpoint=GetAtt(group, "PrimaryEndPoint.Address"),
        reader_endpoint=GetAtt(group, "ReaderEndPoint.Address"),
        port=CACHE_PORT,
        app_user_arn=GetAtt(app_user, "Arn"),
        app_user_name_pattern=app_user_name,
    )
    t.add_output("CacheReplicationGroupId", handle.replication_group, "ElastiCache replication group id")
    t.add_output("CachePrimaryEndpoint", handle.primary_endpoint, "Cache primary endpoint (TLS required)")
    t.add_output("CacheReaderEndpoint", handle.reader_endpoint, "Cache reader endpoint (TLS required)")
    t.add_output("CachePort", GetAtt(group, "PrimaryEndPoint.Port"), "Cache port")
    t.add_output("CacheAppUserName", Sub(app_user_name), "IAM-authenticated cache user the service connects as")
    return handle


def _add_subnet_group(t: StackTemplate, network: Network) -> elasticache.SubnetGroup:
    return t.add_resource(
        elasticache.SubnetGroup(
            CACHE_SUBNET_GROUP,
            Description="Isolated data subnets for ElastiCache",
            SubnetIds=network.data_subnets,
        )
    )


def _add_default_user(t: StackTemplate, cfg: CacheConfig, project: str) -> elasticache.User:
    """The ``default`` user a user group must contain, with every command and key switched off."""
    return t.add_resource(
        elasticache.User(
            CACHE_DEFAULT_USER,
            UserId=Sub(NAMES["cache_default_user"].sub_pattern(project)),
            UserName="default",
            Engine=cfg.engine,
            AccessString="off -@all",
            AuthenticationMode=elasticache.AuthenticationMode(Type="no-password-required"),
        )
    )


def _add_app_user(t: StackTemplate, cfg: CacheConfig, app_user_name: str) -> elasticache.User:
    # IAM-authenticated users must have UserId == UserName.
    return t.add_resource(
        elasticache.User(
            CACHE_APP_USER,
            UserId=Sub(app_user_name),
            UserName=Sub(app_user_name),
            Engine=cfg.engine,
            AccessString=APP_ACCESS_STRING,
            AuthenticationMode=elasticache.AuthenticationMode(Type="iam"),
        )
    )


def _add_user_group(
    t: StackTemplate, cfg: CacheConfig, project: str, *, members: list[elasticache.User]
) -> elasticache.UserGroup:
    return t.add_resource(
        elasticache.UserGroup(
            CACHE_USER_GROUP,
            UserGroupId=Sub(NAMES["cache_user_group"].sub_pattern(project)),
            Engine=cfg.engine,
            UserIds=[Ref(user) for user in members],
        )
    )


def _add_slow_log(t: StackTemplate, key: Key, log_retention_days: int) -> logs.LogGroup:
    slow_log = t.add_resource(
        logs.LogGroup(CACHE_SLOW_LOG_GROUP, RetentionInDays=log_retention_days, KmsKeyId=key.arn)
    )
    # The slow log outlives a delete or a replacement (a failed create still removes it).
    protect(slow_log, "Retain")
    return slow_log


def _add_replication_group(
    t: StackTemplate, cfg: CacheConfig, *, group_id: str, node_count: int, user_group: elasticache.UserGroup,
    subnet_group: elasticache.SubnetGroup, security_group: Ref, key: Key, slow_log: logs.LogGroup,
) -> elasticache.ReplicationGroup:
    """A primary and ``cfg.replicas`` replicas over the AZs, failing over automatically; snapshot on delete."""
    group = t.add_resource(
        elasticache.ReplicationGroup(
            CACHE_REPLICATION_GROUP,
            ReplicationGroupId=Sub(group_id),
            ReplicationGroupDescription="StreamFlix cache: Multi-AZ, encrypted, IAM authentication",
            Engine=cfg.engine,
            EngineVersion=cfg.version,
            CacheNodeType=cfg.node_type,
            NumCacheClusters=node_count,
            MultiAZEnabled=True,
            AutomaticFailoverEnabled=True,
            AtRestEncryptionEnabled=True,
            KmsKeyId=key.ref,
            TransitEncryptionEnabled=True,
            TransitEncryptionMode="required",
            UserGroupIds=[Ref(user_group)],
            Port=CACHE_PORT,
            CacheSubnetGroupName=Ref(subnet_group),
            SecurityGroupIds=[security_group],
            SnapshotRetentionLimit=cfg.snapshot_retention_days,
            SnapshotWindow=cfg.snapshot_window,
            PreferredMaintenanceWindow=cfg.maintenance_window,
            # The config pins the engine's minor version: no upgrade campaign moves it (SF3007).
            AutoMinorVersionUpgrade=False,
            LogDeliveryConfigurations=[
                elasticache.LogDeliveryConfigurationRequest(
                    DestinationType="cloudwatch-logs",
                    DestinationDetails=elasticache.DestinationDetails(
                        CloudWatchLogsDetails=elasticache.CloudWatchLogsDestinationDetails(LogGroup=Ref(slow_log))
                    ),
                    LogFormat="json",
                    LogType="slow-log",
                )
            ],
        )
    )
    protect(group, "Snapshot")
    return group


def watch_cache(monitoring: Monitoring, cache: Cache, th: AlarmThresholds) -> None:
    """Per-node alarms: the primary can move to any member after a failover."""
    alarms = []
    for number, member in enumerate(cache.member_ids, start=1):
        node = (("CacheClusterId", Sub(member)),)
        alarms += [
            MetricAlarm(f"CacheNode{number}CpuAlarm", Metric("AWS/ElastiCache", "EngineCPUUtilization", node), ">",
                        th.cache_cpu_percent, f"Cache node {number} engine CPU above {th.cache_cpu_percent}%"),
            MetricAlarm(f"CacheNode{number}MemoryAlarm",
                        Metric("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", node, "Maximum"), ">",
                        th.cache_memory_percent, f"Cache node {number} memory above {th.cache_memory_percent}%"),
            MetricAlarm(f"CacheNode{number}EvictionsAlarm", Metric("AWS/ElastiCache", "Evictions", node, "Sum"), ">",
                        th.cache_evictions, f"Cache node {number} evicting more than {th.cache_evictions} keys per 5 minutes"),
        ]
    first = (("CacheClusterId", Sub(cache.member_ids[0])),)
    hits = (Metric("AWS/ElastiCache", "CacheHits", first, "Sum"), Metric("AWS/ElastiCache", "CacheMisses", first, "Sum"))
    monitoring.watch("ElastiCache", alarms, hits)
