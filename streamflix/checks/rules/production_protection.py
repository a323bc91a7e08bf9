from __future__ import annotations

from typing import Any, Iterator

from streamflix.cfn import text_of
from streamflix.checks.rules.base import (
    Rule,
    RuleContext,
    as_int,
    audit_log_groups,
    is_true,
    properties,
    resources,
    security_overrides,
    stack_metadata,
)
from streamflix.checks.rules.base import value_after_follow_up_updates
from streamflix.floors import PROD_MIN_AUDIT_LOG_RETENTION_DAYS, PROD_MIN_BACKUP_RETENTION_DAYS

TIERS = ("dev", "staging", "prod")

#: Types whose service offers deletion protection, and the property that turns it on.
DELETION_PROTECTION = {
    "AWS::RDS::DBCluster": "DeletionProtection",
    "AWS::RDS::DBInstance": "DeletionProtection",
    "AWS::DocDB::DBCluster": "DeletionProtection",
    "AWS::Neptune::DBCluster": "DeletionProtection",
    "AWS::DynamoDB::Table": "DeletionProtectionEnabled",
}
#: Databases whose automated backups must reach the floor (RDS's default is 1 day).
BACKED_UP = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::DocDB::DBCluster", "AWS::Neptune::DBCluster")


class ProductionDataProtection(Rule):
    id = "SF2001"
    title = "Production keeps its data: deletion protection, backups, audit-log retention"
    description = (
        "Every template states its tier in Metadata.StreamFlix.Tier. In prod: deletion protection is on "
        "(directly, or by a follow-up update listed in Metadata.StreamFlix.FollowUpUpdates) "
        "wherever the service offers it (RDS/DocDB/Neptune clusters and standalone instances, DynamoDB "
        "tables, the load balancer attribute deletion_protection.enabled, Cognito user pools); automated "
        f"database backups are kept at least {PROD_MIN_BACKUP_RETENTION_DAYS} days; audit log groups at least "
        f"{PROD_MIN_AUDIT_LOG_RETENTION_DAYS} days. A floor lowered by a Metadata.StreamFlix.SecurityOverrides "
        "entry (which carries its reason) is not reported."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        tier = stack_metadata(template).get("Tier")
        if tier not in TIERS:
            yield template.get("Metadata") or template, (
                f"Metadata.StreamFlix.Tier is {tier!r}; it must be one of {', '.join(TIERS)} "
                "so production rules know whether they apply"
            )
            return
        if tier != "prod":
            return
        overridden = security_overrides(template)
        if "deletion-protection" not in overridden:
            yield from _deletion_protection(template)
        if "backup-retention" not in overridden:
            yield from _backups(template)
        if "audit-log-retention" not in overridden:
            yield from _audit_retention(template)


def _is_cluster_member(props: dict[str, Any]) -> bool:
    return "DBClusterIdentifier" in props


def _deletion_protection(template: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    for logical_id, resource in resources(template, *DELETION_PROTECTION):
        props = properties(resource)
        if resource["Type"] == "AWS::RDS::DBInstance" and _is_cluster_member(props):
            continue  # a member is protected through its cluster
        key = DELETION_PROTECTION[resource["Type"]]
        if not is_true(value_after_follow_up_updates(template, props.get(key))):
            yield resource, f"{logical_id} ({resource['Type']}) in prod needs {key}: true"
    for logical_id, pool in resources(template, "AWS::Cognito::UserPool"):
        if properties(pool).get("DeletionProtection") != "ACTIVE":
            yield pool, f"{logical_id} (AWS::Cognito::UserPool) in prod needs DeletionProtection: ACTIVE"
    for logical_id, balancer in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        attributes = {
            a.get("Key"): a.get("Value")
            for a in properties(balancer).get("LoadBalancerAttributes") or []
            if isinstance(a, dict)
        }
        if not is_true(value_after_follow_up_updates(template, attributes.get("deletion_protection.enabled"))):
            yield balancer, f"{logical_id} (load balancer) in prod needs the attribute deletion_protection.enabled: 'true'"


def _backups(template: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    for logical_id, resource in resources(template, *BACKED_UP):
        props = properties(resource)
        if resource["Type"] == "AWS::RDS::DBInstance" and (
            _is_cluster_member(props) or "SourceDBInstanceIdentifier" in props
        ):
            continue  # members back up through the cluster; read replicas cannot hold automated backups of their own
        days = as_int(props.get("BackupRetentionPeriod", 1))
        if days is None or days < PROD_MIN_BACKUP_RETENTION_DAYS:
            yield resource, (
                f"{logical_id} keeps automated backups {text_of(props.get('BackupRetentionPeriod', '1 (default)'))} days; "
                f"prod needs at least {PROD_MIN_BACKUP_RETENTION_DAYS}"
            )
    for logical_id, table in resources(template, "AWS::DynamoDB::Table"):
        recovery = properties(table).get("PointInTimeRecoverySpecification") or {}
        if not is_true(recovery.get("PointInTimeRecoveryEnabled")):
            yield table, f"{logical_id} (DynamoDB table) in prod needs point-in-time recovery"


def _audit_retention(template: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    for logical_id, writer in sorted(audit_log_groups(template).items()):
        group = template["Resources"][logical_id]
        retention = properties(group).get("RetentionInDays")
        days = as_int(retention)
        if retention is not None and (days is None or days < PROD_MIN_AUDIT_LOG_RETENTION_DAYS):
            yield group, (
                f"{logical_id} (audit log group of {writer}) keeps logs {retention} days; "
                f"prod needs at least {PROD_MIN_AUDIT_LOG_RETENTION_DAYS}"
            )
