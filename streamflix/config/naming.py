"""Physical names derived from the project and the EnvironmentSuffix.

One table serves both sides of the pipeline: the config models check every
derived name against its AWS length limit before anything renders, and the
constructs turn the same pattern into ``!Sub`` so the deployed stack uses the
EnvironmentSuffix parameter. The table is data; nothing here imports troposphere.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``{project}`` is baked in at build time; ``{suffix}`` becomes ``${EnvironmentSuffix}``.
SUFFIX_PLACEHOLDER = "${EnvironmentSuffix}"


@dataclass(frozen=True)
class NameRule:
    """A physical-name pattern and the AWS limit it must fit."""

    pattern: str
    max_length: int
    aws_field: str

    def render(self, project: str, suffix: str) -> str:
        return self.pattern.format(project=project, suffix=suffix)

    def sub_pattern(self, project: str) -> str:
        """The pattern with the suffix left as a CloudFormation ``${...}`` variable."""
        return self.pattern.format(project=project, suffix=SUFFIX_PLACEHOLDER)

    def room_for_suffix(self, project: str) -> int:
        """How many characters the suffix may take and still fit."""
        return self.max_length - len(self.render(project, ""))


NAMES: dict[str, NameRule] = {
    "aurora_cluster": NameRule("{project}-{suffix}-aurora", 63, "DBClusterIdentifier"),
    "postgres_primary": NameRule("{project}-{suffix}-pg-primary", 63, "DBInstanceIdentifier"),
    "postgres_replica": NameRule("{project}-{suffix}-pg-replica", 63, "DBInstanceIdentifier"),
    "cache_group": NameRule("{project}-{suffix}-cache", 40, "ReplicationGroupId"),
    "cache_app_user": NameRule("{project}-{suffix}-app", 40, "ElastiCache UserId"),
    "cache_default_user": NameRule("{project}-{suffix}-default", 40, "ElastiCache UserId"),
    "cache_user_group": NameRule("{project}-{suffix}-users", 40, "ElastiCache UserGroupId"),
    "ecs_cluster": NameRule("{project}-{suffix}", 255, "ECS ClusterName"),
    "stream": NameRule("{project}-{suffix}-events", 128, "Kinesis Stream Name"),
    "alb": NameRule("{project}-{suffix}-alb", 32, "LoadBalancer Name"),
    "target_group": NameRule("{project}-{suffix}-tg", 32, "TargetGroup Name"),
    "dashboard": NameRule("{project}-{suffix}-dashboard", 255, "DashboardName"),
    # CloudWatch dashboard names are account-wide (not regional), so each DR stack has its own.
    "dr_primary_dashboard": NameRule("{project}-{suffix}-dr-primary", 255, "DashboardName"),
    "dr_recovery_dashboard": NameRule("{project}-{suffix}-dr-recovery", 255, "DashboardName"),
}


def suffix_max_length(project: str, rules: list[str] | None = None) -> int:
    """The longest suffix for which every listed name still fits its limit."""
    chosen = [NAMES[key] for key in (rules or NAMES)]
    return min(rule.room_for_suffix(project) for rule in chosen)


def name_violations(project: str, suffix: str, rules: list[str] | None = None) -> list[str]:
    """Human-readable problems, empty when every name fits."""
    problems = []
    for key in rules or NAMES:
        rule = NAMES[key]
        name = rule.render(project, suffix)
        if len(name) > rule.max_length:
            problems.append(
                f"{rule.aws_field} {name!r} is {len(name)} characters; AWS allows {rule.max_length}"
            )
    return problems


def stack_name(project: str, suffix: str, blueprint: str) -> str:
    """The CloudFormation stack name runbooks and helpers use: ``streamflix-prod-ha-database``."""
    return f"{project}-{suffix}-{blueprint}"
