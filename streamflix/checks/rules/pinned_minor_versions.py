"""SF3007: an engine whose template pins the minor version is not upgraded behind the template's back.

AWS documentation (AWS::RDS::DBInstance and AWS::RDS::DBCluster, ``AutoMinorVersionUpgrade``):
"A value that indicates whether minor engine upgrades are applied automatically to the
DB instance during the maintenance window. By default, minor engine upgrades are applied
automatically." (the DBCluster text adds "Valid for Cluster Type: Aurora DB clusters and
Multi-AZ DB cluster"); a read replica's value, when not set, "Inherits the value from the
source DB instance" (CreateDBInstanceReadReplica). ElastiCache (ModifyReplicationGroup):
"If you are running Valkey or Redis OSS engine version 6.0 or later, set this parameter to
yes if you want to opt-in to the next auto minor version upgrade campaign." CloudFormation
(DetectStackDrift): "Only resource properties explicitly defined in the stack template are
checked for drift."

So a template that pins ``EngineVersion: '16.15'`` while the engine upgrades itself drifts
as soon as AWS moves it: drift detection reports the database as MODIFIED, the next
deliberate bump to a version below the running one is refused as a downgrade and rolls the
update back, and a second create, a rebuilt replica or a restore from the template gets the
older minor than the one that ran (or one AWS has since deprecated, and the create fails).
StreamFlix pins exact, catalogue-checked versions, so the policy is: where the minor is
pinned, ``AutoMinorVersionUpgrade`` is explicitly false (the default is true) and a minor
upgrade is a config change that ``build.py diff`` shows. A template that pins only the
major (``'16'``, or ElastiCache's ``'6.x'``) may let AWS upgrade it.

Checked: DB clusters and instances that pin a minor; an Aurora instance whose cluster pins
one (RDS upgrades a cluster's minor through its instances' setting); a read replica whose
source (in the template, or across the pair through a wired parameter) pins one; ElastiCache
replication groups and cache clusters that pin one.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from streamflix.cfn import value_when_present
from streamflix.checks.rules.base import (
    EnvironmentRule,
    StackView,
    is_true,
    properties,
    resources,
    target_of,
    wired_source,
)

_RDS = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance")
_CACHE = ("AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::CacheCluster")
_MAJOR_ONLY = re.compile(r"^\d+(\.x)?$")


def pins_minor(resource_type: str, version: Any) -> bool:
    """True when ``version`` names a minor release: '16.15', '8.0.35', ElastiCache '7.1' (not '16' or '6.x').

    A non-literal version (a parameter) is treated as pinned: the template still states it.
    """
    if version is None:
        return False
    if not isinstance(version, (str, int, float)):
        return True
    text = str(version)
    if resource_type in _RDS and text.startswith("9.") and text.count(".") == 1:
        return False  # PostgreSQL 9.6 is a major version
    return not _MAJOR_ONLY.match(text)


def _explicitly_false(props: dict[str, Any]) -> bool:
    value = props.get("AutoMinorVersionUpgrade")
    return value is False or (isinstance(value, str) and value.lower() == "false")


class PinnedMinorVersionsStayPinned(EnvironmentRule):
    id = "SF3007"
    title = "A pinned minor engine version is not upgraded automatically"
    description = (
        "Where the template pins a minor engine version (RDS, Aurora, ElastiCache), AutoMinorVersionUpgrade "
        "must be explicitly false: otherwise AWS upgrades the engine in the maintenance window, the template "
        "drifts behind it, and later updates or re-creates use (or are refused for) the older version."
    )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        for stack in stacks:
            all_resources = stack.template.get("Resources") or {}
            for logical_id, resource in resources(stack.template, *_RDS, *_CACHE):
                props = properties(resource)
                pinned_by = self._pinned_by(stacks, stack, all_resources, logical_id, resource)
                if pinned_by is None:
                    continue
                value = props.get("AutoMinorVersionUpgrade")
                if is_true(value) or (value is None and resource.get("Type") in _RDS):
                    setting = "true" if value is not None else "not set (RDS defaults it to true)"
                    yield stack, resource, (
                        f"{logical_id} runs {pinned_by} but AutoMinorVersionUpgrade is {setting}: AWS upgrades the "
                        "engine in the maintenance window and the template drifts behind it; set it to false and "
                        "upgrade through the config's engine_version"
                    )
                elif value is not None and not _explicitly_false(props):
                    yield stack, resource, (
                        f"{logical_id} runs {pinned_by} and AutoMinorVersionUpgrade is not a literal false"
                    )

    @staticmethod
    def _pinned_by(stacks: list[StackView], stack: StackView, all_resources: dict[str, Any],
                   logical_id: str, resource: dict[str, Any]) -> str | None:
        """Which pinned minor version this resource runs, and why ('minor version 16.15 (its EngineVersion)'), else None."""
        props = properties(resource)
        kind = resource.get("Type", "")
        version = props.get("EngineVersion")
        if pins_minor(kind, version):
            return f"minor version {version} (its EngineVersion)"
        if kind != "AWS::RDS::DBInstance":
            return None
        cluster = target_of(props.get("DBClusterIdentifier"))
        if cluster in all_resources:
            cluster_version = properties(all_resources[cluster]).get("EngineVersion")
            if pins_minor("AWS::RDS::DBCluster", cluster_version):
                return f"minor version {cluster_version} (its cluster {cluster}'s EngineVersion)"
        source = _replica_source(props.get("SourceDBInstanceIdentifier"))
        if source is None:
            return None
        local = target_of(source)
        if local in all_resources:
            origin: tuple[StackView, str] | None = (stack, local)
        else:
            origin = wired_source(stacks, stack, source)
        if origin is None:
            return None
        source_stack, source_id = origin
        source_version = properties((source_stack.template.get("Resources") or {})[source_id]).get("EngineVersion")
        if pins_minor("AWS::RDS::DBInstance", source_version):
            return f"minor version {source_version} (a replica of {source_id}, which pins it)"
        return None


def _replica_source(value: Any) -> Any:
    """The source of a replica, also behind ``Fn::If [cond, source, AWS::NoValue]`` (the failover switch)."""
    return value_when_present(value)
