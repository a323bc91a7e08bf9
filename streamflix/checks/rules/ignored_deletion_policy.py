"""SF3005: a DeletionPolicy must be one the resource honours.

AWS documentation (AWS::RDS::DBInstance, ``SourceDBInstanceIdentifier``): "Read
replicas don't support deletion policies. AWS CloudFormation ignores any deletion
policy that's associated with a read replica." and "If you remove the
SourceDBInstanceIdentifier property from your template and then update your stack,
AWS CloudFormation promotes the read replica to a standalone DB instance." A replica
that is meant to become the database at failover therefore keeps its data only if
the failover is that stack update: ``SourceDBInstanceIdentifier`` must be removable
by a parameter (``Fn::If`` with ``AWS::NoValue``), so that after promotion the
instance is a standalone DB instance whose ``DeletionPolicy`` (Snapshot) CloudFormation
applies. A literal source pins the resource as a replica forever: deleting or replacing
the stack after a manual promotion deletes the production database with no snapshot.

From the DeletionPolicy attribute documentation: Snapshot is for "resources that
support snapshots (AWS::EC2::Volume, AWS::ElastiCache::CacheCluster,
AWS::ElastiCache::ReplicationGroup, AWS::RDS::DBInstance, AWS::RDS::DBCluster, and
AWS::Redshift::Cluster)"; Snapshot anywhere else keeps nothing.
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.cfn import removable_value
from streamflix.checks.rules.base import EnvironmentRule, StackView, properties, resources

SNAPSHOT_TYPES = frozenset({
    "AWS::EC2::Volume",
    "AWS::ElastiCache::CacheCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::Redshift::Cluster",
    "AWS::Neptune::DBCluster",
    "AWS::DocDB::DBCluster",
})


def promotable(value: Any) -> bool:
    """True when ``value`` is ``Fn::If [cond, source, AWS::NoValue]`` (a stack update can remove it)."""
    return removable_value(value) is not None


class DeletionPolicyIsHonoured(EnvironmentRule):
    id = "SF3005"
    title = "Deletion policies are ones CloudFormation applies"
    description = (
        "CloudFormation ignores DeletionPolicy on a read replica: a replica that may be promoted takes its "
        "source from Fn::If/AWS::NoValue so the failover is a stack update that promotes it in place and "
        "the policy applies. Snapshot only on types that support snapshots."
    )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        for stack in stacks:
            for logical_id, resource in resources(stack.template):
                policy = resource.get("DeletionPolicy")
                if policy == "Snapshot" and resource["Type"] not in SNAPSHOT_TYPES:
                    yield stack, resource, (
                        f"{logical_id} ({resource['Type']}) has DeletionPolicy: Snapshot, which this type does "
                        "not support; use Retain or RetainExceptOnCreate"
                    )
            for logical_id, replica in resources(stack.template, "AWS::RDS::DBInstance"):
                source = properties(replica).get("SourceDBInstanceIdentifier")
                if source is None or promotable(source):
                    continue
                yield stack, replica, (
                    f"{logical_id} is a read replica: CloudFormation ignores its DeletionPolicy "
                    f"({replica.get('DeletionPolicy', 'none')}), and nothing in the template can make it a "
                    "standalone instance; take SourceDBInstanceIdentifier from Fn::If [<replica condition>, "
                    "<source>, !Ref AWS::NoValue] so the failover update promotes it in place"
                )
