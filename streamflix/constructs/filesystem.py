"""EFS: an encrypted, TLS-only file system shared by the service tasks, replicated to another region.

Mount targets sit in the app subnets (one per AZ) behind the file-system tier
of the firewall: NFS (2049) from the service and nothing else. Tasks mount
through an access point that confines them to one directory and one POSIX
identity, with IAM authorization and TLS in transit.

Replication goes to a file system the recovery stack owns
(``add_replication_destination``): encrypted with the recovery region's
customer-managed key, with ``ReplicationOverwriteProtection: DISABLED`` so EFS
may replicate into it, mounted through its own access point. The primary turns
replication on (``ReplicationTarget``, a condition on the wired destination id)
only once that file system exists, so a failed first create of the primary
leaves nothing behind in the other region, and CloudFormation (not EFS) owns
every file system. The destination is read-only while replicating; deleting the
replication at failover makes it writable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from awacs import elasticfilesystem as efs_actions
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, If, NoValue, Ref, Sub, Tags, efs

from streamflix.config.models import AlarmThresholds, EfsConfig
from streamflix.constructs.compute import EfsVolume
from streamflix.constructs.iam_policies import allow
from streamflix.constructs.keys import Key
from streamflix.constructs.network import Network
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring
from streamflix.constructs.security_groups import Tier
from streamflix.template import StackTemplate, protect

NFS_PORT = 2049
#: The file system's place in the tier firewall: NFS over TLS, from the service only.
FILE_SYSTEM_TIER = Tier(name="FileSystem", label="file system", port=NFS_PORT, protocol="NFS (TLS)")

FILE_SYSTEM = "FileSystem"
ACCESS_POINT = "FileSystemAccessPoint"
REPLICA_FILE_SYSTEM = "ReplicaFileSystem"
VOLUME_NAME = "shared"


def mount_target_id(slot: str) -> str:
    """Mount targets are named by AZ slot, like the subnets they sit in."""
    return f"FileSystemMountTarget{slot}"


@dataclass(frozen=True)
class FileSystem:
    """Handle on a file system the service mounts (the primary's, or a replica)."""

    file_system_id: Any
    arn: Any
    mount_targets: tuple[str, ...]
    container_path: str
    access_point_id: Any = None
    access_point_arn: Any = None
    root_directory: str | None = None

    def grant_mount(self) -> Statement:
        """Mount and write with the task role (IAM authorization), through the access point if any."""
        condition = None
        if self.access_point_arn is not None:
            condition = Condition(StringEquals("elasticfilesystem:AccessPointArn", self.access_point_arn))
        return allow([efs_actions.ClientMount, efs_actions.ClientWrite], [self.arn], condition)

    def volume(self) -> EfsVolume:
        return EfsVolume(
            name=VOLUME_NAME,
            file_system_id=self.file_system_id,
            container_path=self.container_path,
            access_point_id=self.access_point_id,
            root_directory=None if self.access_point_id is not None else self.root_directory,
            depends_on=self.mount_targets,
        )

    def environment(self) -> dict[str, object]:
        return {"SHARED_FILES_PATH": self.container_path}


@dataclass(frozen=True)
class ReplicationTarget:
    """Replicate to ``file_system_id`` (a file system another stack owns) in ``region`` while ``condition`` holds."""

    region: str
    file_system_id: Any
    condition: str


def _storage_properties(cfg: EfsConfig, key: Key, name: Any) -> dict[str, Any]:
    return {
        "Encrypted": True,
        "KmsKeyId": key.arn,
        "PerformanceMode": "generalPurpose",
        "ThroughputMode": cfg.throughput_mode,
        "LifecyclePolicies": [
            efs.LifecyclePolicy(TransitionToIA=f"AFTER_{cfg.transition_to_ia_days}_DAY{'S' if cfg.transition_to_ia_days > 1 else ''}"),
            efs.LifecyclePolicy(TransitionToPrimaryStorageClass="AFTER_1_ACCESS"),
        ],
        "BackupPolicy": efs.BackupPolicy(Status="ENABLED" if cfg.automatic_backups else "DISABLED"),
        "FileSystemPolicy": json.loads(_tls_only_policy().to_json()),
        "FileSystemTags": Tags(Name=name),
    }


def add_file_system(
    t: StackTemplate,
    cfg: EfsConfig,
    *,
    network: Network,
    security_group: Ref,
    key: Key,
    replicate_to: ReplicationTarget | None,
    name_prefix: str,
    posix_user: tuple[int, int],
) -> FileSystem:
    """The encrypted file system, its mount targets, the service's access point and, if
    ``replicate_to`` is given, its replication to that file system (while its condition holds)."""
    props = _storage_properties(cfg, key, Sub(f"{name_prefix}-shared"))
    if replicate_to is not None:
        # The destination's key is its own (the recovery region's customer-managed key).
        props["ReplicationConfiguration"] = If(
            replicate_to.condition,
            efs.ReplicationConfiguration(
                Destinations=[efs.ReplicationDestination(FileSystemId=replicate_to.file_system_id, Region=replicate_to.region)]
            ),
            NoValue,
        )
    file_system = t.add_resource(efs.FileSystem(FILE_SYSTEM, **props))
    # EFS has no snapshot for CloudFormation to take: Retain keeps it on delete and replace.
    protect(file_system, "Retain")
    mount_targets = _add_mount_targets(t, Ref(file_system), network, security_group)
    access_point = _add_access_point(t, cfg, Ref(file_system), ACCESS_POINT, name_prefix, posix_user)
    handle = FileSystem(
        file_system_id=Ref(file_system),
        arn=GetAtt(file_system, "Arn"),
        mount_targets=mount_targets,
        container_path=cfg.mount_path,
        access_point_id=Ref(access_point),
        access_point_arn=GetAtt(access_point, "Arn"),
    )
    t.add_output("FileSystemId", handle.file_system_id, "EFS file system id (source of the cross-region replication)")
    t.add_output("FileSystemAccessPointId", handle.access_point_id, "EFS access point the service mounts")
    return handle


def add_replication_destination(
    t: StackTemplate, cfg: EfsConfig, *, network: Network, security_group: Ref, key: Key, name_prefix: str,
    posix_user: tuple[int, int],
) -> FileSystem:
    """The file system the primary replicates into: this stack's, with this region's key.

    ``ReplicationOverwriteProtection: DISABLED`` lets EFS use it as a replication
    destination (replication then keeps it read-only); the service mounts it
    through an access point with the same POSIX identity and root directory as
    the primary's, so ownership matches after failover, when deleting the
    replication makes it writable.
    """
    props = _storage_properties(cfg, key, Sub(f"{name_prefix}-shared-replica"))
    props["FileSystemProtection"] = efs.FileSystemProtection(ReplicationOverwriteProtection="DISABLED")
    file_system = t.add_resource(efs.FileSystem(REPLICA_FILE_SYSTEM, **props))
    protect(file_system, "Retain")
    mount_targets = _add_mount_targets(t, Ref(file_system), network, security_group)
    access_point = _add_access_point(t, cfg, Ref(file_system), ACCESS_POINT, name_prefix, posix_user)
    handle = FileSystem(
        file_system_id=Ref(file_system),
        arn=GetAtt(file_system, "Arn"),
        mount_targets=mount_targets,
        container_path=cfg.mount_path,
        access_point_id=Ref(access_point),
        access_point_arn=GetAtt(access_point, "Arn"),
    )
    t.add_output(
        "ReplicaFileSystemId", handle.file_system_id,
        "EFS replication destination owned by this stack (read-only while the primary replicates into it)",
    )
    t.add_output("FileSystemAccessPointId", handle.access_point_id, "EFS access point the service mounts")
    return handle


def _add_access_point(
    t: StackTemplate, cfg: EfsConfig, file_system_id: Any, logical_id: str, name_prefix: str,
    posix_user: tuple[int, int],
) -> efs.AccessPoint:
    """The service's access point, as the container contract's uid/gid: both regions' tasks
    mount through one, so the replicated files belong to the identity the container runs as."""
    uid, gid = (str(n) for n in posix_user)
    return t.add_resource(
        efs.AccessPoint(
            logical_id,
            FileSystemId=file_system_id,
            PosixUser=efs.PosixUser(Uid=uid, Gid=gid),
            RootDirectory=efs.RootDirectory(
                Path=cfg.root_directory,
                CreationInfo=efs.CreationInfo(OwnerUid=uid, OwnerGid=gid, Permissions="750"),
            ),
            AccessPointTags=Tags(Name=Sub(f"{name_prefix}-service")),
        )
    )


def _add_mount_targets(t: StackTemplate, file_system_id: Any, network: Network, security_group: Ref) -> tuple[str, ...]:
    ids = []
    for slot, subnet in zip(network.slots, network.app_subnets):
        target = t.add_resource(
            efs.MountTarget(
                mount_target_id(slot), FileSystemId=file_system_id, SubnetId=subnet, SecurityGroups=[security_group]
            )
        )
        ids.append(target.title)
    return tuple(ids)


def _tls_only_policy() -> PolicyDocument:
    """Refuse any client that does not mount over TLS, whoever it is (static JSON: no intrinsics)."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="DenyUnencryptedTransport",
                Effect=Deny,
                Principal=Principal("AWS", "*"),
                Action=[efs_actions.Action("*")],
                Resource=["*"],
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            )
        ],
    )


def watch_file_system(
    monitoring: Monitoring,
    fs: FileSystem,
    th: AlarmThresholds,
    *,
    title: str = "EFS",
    replication: ReplicationTarget | None = None,
    rpo_minutes: int | None = None,
) -> None:
    """I/O headroom (General Purpose mode), who is connected and, for a replicated file
    system, the time since the last successful sync against the recovery point objective."""
    dims = (("FileSystemId", fs.file_system_id),)
    io_limit = Metric("AWS/EFS", "PercentIOLimit", dims, "Maximum")
    alarms = [MetricAlarm("FileSystemIoLimitAlarm", io_limit, ">", th.file_system_io_limit_percent,
                          f"EFS above {th.file_system_io_limit_percent}% of its I/O limit")]
    if replication is not None and rpo_minutes is not None:
        # TimeSinceLastSync carries both dimensions: the source and the destination file system.
        lag = Metric("AWS/EFS", "TimeSinceLastSync",
                     dims + (("DestinationFileSystemId", replication.file_system_id),), "Maximum")
        alarms.append(
            MetricAlarm("FileSystemReplicationLagAlarm", lag, ">", rpo_minutes * 60,
                        f"EFS replication last synced more than {rpo_minutes} min ago (file RPO at risk)",
                        condition=replication.condition)
        )
    monitoring.watch(title, alarms, [Metric("AWS/EFS", "ClientConnections", dims, "Sum")])
