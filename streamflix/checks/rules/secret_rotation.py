from __future__ import annotations

import re
from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, as_int, is_true, properties, ref_target, resources

MAX_ROTATION_DAYS = 30


class CredentialsRotate(Rule):
    id = "SF1005"
    title = "Every credential rotates within 30 days, by a real mechanism"
    description = (
        "Secrets have a RotationSchedule of at most 30 days backed by a rotation function "
        "(hosted or referenced); databases use RDS-managed master secrets; caches carry no "
        "AUTH token (seed 000 #6: a stub rotation Lambda never changed the password)."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        schedules = {
            ref_target(properties(r).get("SecretId")) or properties(r).get("SecretId"): r
            for _, r in resources(template, "AWS::SecretsManager::RotationSchedule")
        }
        for logical_id, secret in resources(template, "AWS::SecretsManager::Secret"):
            schedule = schedules.get(logical_id)
            if schedule is None:
                yield secret, f"secret {logical_id} never rotates (no RotationSchedule)"
                continue
            props = properties(schedule)
            if not (props.get("RotationLambdaARN") or props.get("HostedRotationLambda")):
                yield schedule, f"rotation of {logical_id} names no rotation function"
            days = _rotation_days(props.get("RotationRules") or {})
            if days is None or days > MAX_ROTATION_DAYS:
                yield schedule, f"{logical_id} rotates every {days or '?'} days; at most {MAX_ROTATION_DAYS} allowed"
        for logical_id, db in resources(template, "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
            props = properties(db)
            if "MasterUserPassword" in props:
                yield db, f"{logical_id} sets MasterUserPassword; use ManageMasterUserPassword (RDS rotates it)"
            elif not _inherits_credentials(props) and not is_true(props.get("ManageMasterUserPassword")):
                yield db, f"{logical_id} has no RDS-managed, rotating master secret (ManageMasterUserPassword: true)"
        for logical_id, group in resources(template, "AWS::ElastiCache::ReplicationGroup"):
            if "AuthToken" in properties(group):
                yield group, f"{logical_id} uses an AUTH token, which nothing rotates; use IAM authentication (UserGroupIds)"


def _inherits_credentials(props: dict[str, Any]) -> bool:
    return any(k in props for k in ("DBClusterIdentifier", "SourceDBInstanceIdentifier", "SourceDBClusterIdentifier"))


def _rotation_days(rules: dict[str, Any]) -> int | None:
    days = as_int(rules.get("AutomaticallyAfterDays"))
    if days is not None:
        return days
    expression = rules.get("ScheduleExpression")
    if isinstance(expression, str):
        match = re.fullmatch(r"rate\((\d+) days?\)", expression.strip())
        if match:
            return int(match.group(1))
    return None
