from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, audit_log_groups, properties, resources

#: Stateful types and the policy that keeps their data: Snapshot where the
#: service supports it, else Retain.
STATEFUL_TYPES = {
    "AWS::RDS::DBCluster": "Snapshot",
    "AWS::RDS::DBInstance": "Snapshot",
    "AWS::ElastiCache::ReplicationGroup": "Snapshot",
    "AWS::ElastiCache::CacheCluster": "Snapshot",
    "AWS::EFS::FileSystem": "Retain",
    "AWS::Kinesis::Stream": "Retain",
    "AWS::KMS::Key": "Retain",
    "AWS::SecretsManager::Secret": "Retain",
    "AWS::S3::Bucket": "Retain",
    "AWS::DynamoDB::Table": "Retain",
}


class StatefulResourcesKeepData(Rule):
    id = "SF1006"
    title = "Stateful resources survive deletion and replacement"
    description = (
        "Databases, caches, file systems, streams, keys, secrets and audit log groups (the "
        "destinations of VPC flow logs and CloudTrail trails) carry DeletionPolicy AND "
        "UpdateReplacePolicy: Snapshot where supported, else Retain (as DeletionPolicy, RetainExceptOnCreate "
        "counts as Retain). Aurora member instances "
        "(their data is the cluster's) and read replicas (RDS cannot snapshot them) may use Retain or Delete."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        audit = audit_log_groups(template)
        for logical_id, writer in sorted(audit.items()):
            resource = template["Resources"][logical_id]
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                actual = resource.get(policy)
                if _policy_kind(policy, actual) != "Retain":
                    yield resource, (
                        f"{logical_id} (audit log group of {writer}) has {policy}: {actual or 'Delete (default)'}; "
                        "needs Retain so the audit trail survives"
                    )
        for logical_id, resource in resources(template, *STATEFUL_TYPES):
            props = properties(resource)
            if resource["Type"] == "AWS::RDS::DBInstance" and (
                "DBClusterIdentifier" in props or "SourceDBInstanceIdentifier" in props
            ):
                continue
            wanted = STATEFUL_TYPES[resource["Type"]]
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                actual = resource.get(policy)
                if _policy_kind(policy, actual) != wanted:
                    yield resource, (
                        f"{logical_id} ({resource['Type']}) has {policy}: {actual or 'Delete (default)'}; "
                        f"needs {wanted} so its data survives"
                    )


def _policy_kind(attribute: str, value: object) -> object:
    """RetainExceptOnCreate keeps the resource on every delete but a failed create's rollback
    (when it holds no data yet), so as a DeletionPolicy it counts as Retain."""
    if attribute == "DeletionPolicy" and value == "RetainExceptOnCreate":
        return "Retain"
    return value
