from __future__ import annotations

import re
from typing import Any, Iterator

from streamflix.cfn import sub_parts
from streamflix.checks.rules.base import Rule, RuleContext, as_int, is_true, properties, resources, target_of

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
        # A schedule may name the secret through its SecretTargetAttachment (whose Ref is the secret's ARN).
        attached = {
            logical_id: target_of(properties(r).get("SecretId"))
            for logical_id, r in resources(template, "AWS::SecretsManager::SecretTargetAttachment")
        }
        schedules = {}
        for _, r in resources(template, "AWS::SecretsManager::RotationSchedule"):
            target = target_of(properties(r).get("SecretId")) or properties(r).get("SecretId")
            schedules[attached.get(target, target) if isinstance(target, str) else target] = r
        rotating = {logical_id for logical_id, r in schedules.items() if _rotates_in_time(properties(r))}
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
                if _secret_of(props["MasterUserPassword"]) in rotating:
                    continue  # resolved at deploy time from a template secret that rotates (checked above)
                yield db, (
                    f"{logical_id} sets MasterUserPassword; use ManageMasterUserPassword (RDS rotates it), or a "
                    "{{resolve:secretsmanager:...}} reference to a secret of this template with a rotation schedule"
                )
            elif not _inherits_credentials(props) and not is_true(props.get("ManageMasterUserPassword")):
                yield db, f"{logical_id} has no RDS-managed, rotating master secret (ManageMasterUserPassword: true)"
        for logical_id, group in resources(template, "AWS::ElastiCache::ReplicationGroup"):
            if "AuthToken" in properties(group):
                yield group, f"{logical_id} uses an AUTH token, which nothing rotates; use IAM authentication (UserGroupIds)"


def _rotates_in_time(schedule: dict[str, Any]) -> bool:
    days = _rotation_days(schedule.get("RotationRules") or {})
    has_function = bool(schedule.get("RotationLambdaARN") or schedule.get("HostedRotationLambda"))
    return has_function and days is not None and days <= MAX_ROTATION_DAYS


def _secret_of(value: Any) -> str | None:
    """The logical id X of ``!Sub '{{resolve:secretsmanager:${X}:SecretString:password}}'``, else None."""
    if not isinstance(value, dict) or "Fn::Sub" not in value:
        return None
    body, variables = sub_parts(value["Fn::Sub"])
    if not isinstance(body, str):
        return None
    match = re.fullmatch(r"\{\{resolve:secretsmanager:\$\{([A-Za-z0-9]+)\}:SecretString:password\}\}", body)
    if match is None:
        return None
    name = match.group(1)
    return target_of(variables[name]) if name in variables else name


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
