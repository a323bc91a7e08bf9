"""EFS: an encrypted, TLS-only file system shared by the service tasks, replicated to another region.

Mount targets sit in the app subnets (one per AZ) behind the file-system tier
of the firewall: NFS (2049) from the service and nothing else. Tasks mount
through an access point that confines them to one directory and one POSIX
identity, with IAM authorization and TLS in transit.

Replication: ``ReplicationConfiguration`` makes EFS create the destination file
system in the other region. Its KMS key must belong to THAT region and cannot
change after creation, and the recovery stack (with its own key) is deployed
after the primary, so the destination uses the AWS-managed EFS key of its
region (``aws/elasticfilesystem``). The destination is read-only until the
replication is deleted at failover; ``add_replica_mounts`` makes it mountable
in the recovery VPC without touching it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from awacs import elasticfilesystem as efs_actions
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, Tags, efs

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


def add_file_system(
    t: StackTemplate,
    cfg: EfsConfig,
    *,
    network: Network,
    security_group: Ref,
    key: Key,
    replicate_to: str | None,
    name_prefix: str,
    posix_user: tuple[int, int],
) -> FileSystem:
    """The encrypted file system, its mount targets, the service's access point and, if
    ``replicate_to`` names a region, its replication there."""
    props: dict[str, Any] = {
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
        "FileSystemTags": Tags(Name=Sub(f"{name_prefix}-shared")),
    }
    if replicate_to is not None:
        # No KmsKeyId: the destination gets the AWS-managed EFS key of its own region (see module doc).
        props["ReplicationConfiguration"] = efs.ReplicationConfiguration(
            Destinations=[efs.ReplicationDestination(Region=replicate_to)]
        )
    file_system = t.add_resource(efs.FileSystem(FILE_SYSTEM, **props))
    # EFS has no snapshot for CloudFormation to take: Retain keeps it on delete and replace.
    protect(file_system, "Retain")
    mount_targets = _add_mount_targets(t, Ref(file_system), network, security_group)
    access_point = t.add_resource(
        efs.AccessPoint(
            ACCESS_POINT,
            FileSystemId=Ref(file_system),
            # The container contract's uid/gid: the recovery region mounts the replica without an
            # access point, so the files must belong to the identity the container runs as.
            PosixUser=efs.PosixUser(Uid=str(posix_user[0]), Gid=str(posix_user[1])),
            RootDirectory=efs.RootDirectory(
                Path=cfg.root_directory,
                CreationInfo=efs.CreationInfo(
                    OwnerUid=str(posix_user[0]), OwnerGid=str(posix_user[1]), Permissions="750"
                ),
            ),
            AccessPointTags=Tags(Name=Sub(f"{name_prefix}-service")),
        )
    )
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


def add_replica_mounts(
    t: StackTemplate, cfg: EfsConfig, *, file_system_id: Any, network: Network, security_group: Ref
) -> FileSystem:
    """Mount targets for a replication destination this stack does not own (EFS made it).

    No access point: while it is a destination the file system is read-only, and
    the replicated ``root_directory`` is mounted directly instead. The container
    runs as the same uid the primary's access point enforces, so ownership
    matches after failover. The mount is read-write: writes fail until the
    replication is deleted at failover, then succeed without a redeploy.
    """
    mount_targets = _add_mount_targets(t, file_system_id, network, security_group)
    handle = FileSystem(
        file_system_id=file_system_id,
        arn=Sub(
            "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:file-system/${FileSystemId}",
            FileSystemId=file_system_id,
        ),
        mount_targets=mount_targets,
        container_path=cfg.mount_path,
        root_directory=cfg.root_directory,
    )
    t.add_output("ReplicaFileSystemId", file_system_id, "EFS replica (read-only until its replication is deleted)")
    return handle


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


def watch_file_system(monitoring: Monitoring, fs: FileSystem, th: AlarmThresholds, *, title: str = "EFS") -> None:
    """I/O headroom (General Purpose mode) and who is connected."""
    dims = (("FileSystemId", fs.file_system_id),)
    io_limit = Metric("AWS/EFS", "PercentIOLimit", dims, "Maximum")
    monitoring.watch(
        title,
        [MetricAlarm("FileSystemIoLimitAlarm", io_limit, ">", th.file_system_io_limit_percent,
                     f"EFS above {th.file_system_io_limit_percent}% of its I/O limit")],
        [Metric("AWS/EFS", "ClientConnections", dims, "Sum")],
    )
