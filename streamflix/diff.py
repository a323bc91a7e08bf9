"""What deploying this build over a previous one will do, before anyone deploys it.

``build.py diff --against DIR`` compares the stacks the config renders now with
the templates of a previous build (``DIR/<env>/``, e.g. the last release's
``out/``), offline: no AWS account, no change set. Per stack it lists the
resources added, removed and modified, the property paths that changed, and for
every modification whether CloudFormation will replace the resource:

- **always** when the resource's ``Type`` changes, or a value changes under one
  of the type's ``createOnlyProperties`` (the CloudFormation registry schemas
  cfn-lint ships for each region); a logical-ID rename is a removal plus an
  addition;
- per :data:`CONDITIONAL_REPLACEMENTS` (a small table from the AWS resource
  reference) for properties the schema lists as ``conditionalCreateOnlyProperties``
  or not at all, e.g. a DB cluster's ``Engine``;
- **conditional** ("may replace") for any other ``conditionalCreateOnlyProperties``
  change.

A value changes when its text changes, and also when it references (``Ref``,
``GetAtt``, ``${...}`` in ``Sub``) a resource that is replaced or a parameter
whose default changed: replacing a subnet group therefore replaces the cluster
whose create-only ``DBSubnetGroupName`` points at it.

Removing or replacing a stateful resource (:data:`DATA_LOSS_TYPES`) is a
**data-loss risk**, and so is a "may replace" on one. Templates are read with the
CloudFormation-aware loader (``streamflix.render.load_template``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from cfnlint.schema._exceptions import ResourceNotFoundError

from streamflix.catalog.engines import version_key
from streamflix.cfn import is_intrinsic, is_true, references, removable_value, text_of
from streamflix.config.models import EnvironmentConfig
from streamflix.errors import ConfigError
from streamflix.render import TemplateParseError, load_template

Replacement = Literal["never", "conditional", "always"]
Action = Literal["add", "remove", "modify"]
_STRENGTH = {"never": 0, "conditional": 1, "always": 2}

#: Stateful resource types: removing or replacing one loses what it holds.
#: Kept in step with SF1006's STATEFUL_TYPES by tests/test_diff.py.
DATA_LOSS_TYPES: dict[str, str] = {
    "AWS::RDS::DBCluster": "the database: its storage and automated backups",
    "AWS::RDS::DBInstance": "the database: its storage and automated backups",
    "AWS::ElastiCache::ReplicationGroup": "the cache's data (sessions, queues)",
    "AWS::ElastiCache::CacheCluster": "the cache's data",
    "AWS::EFS::FileSystem": "every file on the file system",
    "AWS::Kinesis::Stream": "the records not yet consumed",
    "AWS::KMS::Key": "the ability to decrypt everything encrypted with the key",
    "AWS::SecretsManager::Secret": "the secret's value and its rotation history",
    "AWS::S3::Bucket": "every object in the bucket",
    "AWS::DynamoDB::Table": "every item in the table",
    "AWS::Logs::LogGroup": "the log history (audit and forensic evidence)",
    "AWS::Backup::BackupVault": "the recovery points in the vault",
}


def _aurora_member(props: Mapping[str, Any]) -> bool:
    return "DBClusterIdentifier" in props


#: Stateful types with members that hold no data of their own.
_NOT_STATEFUL_WHEN: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    # An Aurora instance's data is the cluster's storage; replacing or removing
    # one changes capacity, not data (the same exception as SF1006).
    "AWS::RDS::DBInstance": _aurora_member,
}


@dataclass(frozen=True)
class Verdict:
    replacement: Replacement
    reason: str


#: (before value, after value, before properties, after properties) -> verdict,
#: where a value is ``MISSING`` when the property is not set.
ConditionalRule = Callable[[Any, Any, Mapping[str, Any], Mapping[str, Any]], Verdict]


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


MISSING: Any = _Missing()


def _always(reason: str) -> ConditionalRule:
    return lambda before, after, before_props, after_props: Verdict("always", reason)


def _in_place_unless_custom(reason: str) -> ConditionalRule:
    def rule(before, after, before_props, after_props) -> Verdict:
        if str(after_props.get("Engine", "")).startswith("custom-"):
            return Verdict("always", "RDS Custom engines replace the instance for this change")
        return Verdict("never", reason)

    return rule


def _pi_key(before, after, before_props, after_props) -> Verdict:
    if before is MISSING or after is MISSING:
        return Verdict("never", "adding or removing PerformanceInsightsKMSKeyId is applied in place")
    return Verdict("always", "a different Performance Insights KMS key replaces the instance")


def _replica_source(before, after, before_props, after_props) -> Verdict:
    if after is MISSING:
        return Verdict("never", "removing SourceDBInstanceIdentifier promotes the read replica in place")
    return Verdict("always", "pointing an instance at another source (or making it a replica) replaces it")


#: Properties a promotable replica takes from ``Fn::If [<replica condition>, <value>, AWS::NoValue]``:
#: the failover update (a parameter) removes them, so CloudFormation promotes the replica in place.
FAILOVER_SWITCHED = {"AWS::RDS::DBInstance": ("SourceDBInstanceIdentifier", "SourceRegion")}


def _switched(value: Any) -> Any:
    """``X`` for ``Fn::If [cond, X, AWS::NoValue]``, else MISSING."""
    present = removable_value(value)
    return MISSING if present is None else present


def _failover_switch(
    resource_type: str, old_props: Mapping[str, Any], new_props: Mapping[str, Any]
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """Putting a replica's source behind (or taking it out of) the failover switch changes nothing
    while the stack is a replica: CloudFormation resolves the ``Fn::If`` to the same value. Compare the
    values it resolves to, so wrapping ``SourceDBInstanceIdentifier`` for an in-place promotion is not
    reported as pointing the instance at a new source (a replacement)."""
    old, new = dict(old_props), dict(new_props)
    for prop in FAILOVER_SWITCHED.get(resource_type, ()):
        before, after = old.get(prop, MISSING), new.get(prop, MISSING)
        if _switched(after) is not MISSING and _switched(after) == before:
            new[prop] = before
        elif _switched(before) is not MISSING and _switched(before) == after:
            old[prop] = after
        elif _switched(before) is not MISSING and _switched(before) == _switched(after):
            old[prop] = new[prop] = _switched(before)
    return old, new


def _replicas_with_node_groups(before, after, before_props, after_props) -> Verdict:
    if "NodeGroupConfiguration" in after_props:
        return Verdict("always", "ReplicasPerNodeGroup together with NodeGroupConfiguration replaces the group")
    return Verdict("never", "ReplicasPerNodeGroup without NodeGroupConfiguration is applied in place")


#: Documented replacement behaviour the schemas do not state outright, from the
#: "Update requires" lines of the AWS CloudFormation resource reference (and the
#: schema descriptions). Keys are (type, top-level property); applied when that
#: property's value changes. Extend it when a stack starts using a new case.
CONDITIONAL_REPLACEMENTS: dict[tuple[str, str], ConditionalRule] = {
    ("AWS::RDS::DBCluster", "Engine"): _always("a DB cluster's Engine cannot change in place: a new cluster is created"),
    ("AWS::RDS::DBCluster", "MasterUsername"): _always("a DB cluster's MasterUsername is set at creation"),
    ("AWS::RDS::DBCluster", "AvailabilityZones"): _always("a DB cluster's AvailabilityZones are set at creation"),
    ("AWS::RDS::DBInstance", "Engine"): _always("a DB instance's Engine cannot change in place: a new instance is created"),
    ("AWS::RDS::DBInstance", "AutoMinorVersionUpgrade"): _in_place_unless_custom("applied in place"),
    ("AWS::RDS::DBInstance", "BackupRetentionPeriod"): _in_place_unless_custom("applied in place (0 <-> n reboots)"),
    ("AWS::RDS::DBInstance", "DBParameterGroupName"): _in_place_unless_custom("applied in place (may reboot)"),
    ("AWS::RDS::DBInstance", "MultiAZ"): _in_place_unless_custom("applied in place"),
    ("AWS::RDS::DBInstance", "PreferredMaintenanceWindow"): _in_place_unless_custom("applied in place"),
    ("AWS::RDS::DBInstance", "PerformanceInsightsKMSKeyId"): _pi_key,
    ("AWS::RDS::DBInstance", "SourceDBInstanceIdentifier"): _replica_source,
    ("AWS::RDS::DBInstance", "DBSnapshotIdentifier"): _always("restoring from another snapshot creates a new instance"),
    ("AWS::RDS::DBInstance", "DBClusterSnapshotIdentifier"): _always("restoring from another snapshot creates a new instance"),
    ("AWS::RDS::DBInstance", "RestoreTime"): _always("a point-in-time restore creates a new instance"),
    ("AWS::RDS::DBInstance", "UseLatestRestorableTime"): _always("a point-in-time restore creates a new instance"),
    ("AWS::RDS::DBInstance", "SourceDBInstanceAutomatedBackupsArn"): _always("a restore creates a new instance"),
    ("AWS::RDS::DBInstance", "SourceDbiResourceId"): _always("a restore creates a new instance"),
    ("AWS::RDS::DBInstance", "SourceDBClusterIdentifier"): _always("a restore creates a new instance"),
    ("AWS::ElastiCache::ReplicationGroup", "ReplicasPerNodeGroup"): _replicas_with_node_groups,
    ("AWS::DynamoDB::Table", "KeySchema"): _always("a table's key schema is fixed at creation"),
}


# -- the diff's data --------------------------------------------------------------


@dataclass(frozen=True)
class PropertyChange:
    """One changed path of a resource, e.g. ``Properties.DBClusterIdentifier``."""

    path: str
    before: Any
    after: Any
    #: Resources/parameters whose replacement or new default changes this value
    #: although its text did not change.
    via: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "before": _plain(self.before), "after": _plain(self.after), "via": list(self.via)}


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    action: Action
    resource_type: str
    replacement: Replacement = "never"
    #: Why it is (or may be) replaced, one line each.
    reasons: tuple[str, ...] = ()
    changes: tuple[PropertyChange, ...] = ()
    stateful: bool = False
    #: Mitigations and consequences worth reading (policies, renames, custom names).
    notes: tuple[str, ...] = ()
    #: Why CloudFormation or the service will refuse this update (it fails and rolls
    #: back), one line each: see ``_refusals``.
    refusals: tuple[str, ...] = ()

    @property
    def data_loss(self) -> bool:
        """Removing or (possibly) replacing a stateful resource."""
        return self.stateful and (self.action == "remove" or self.replacement != "never")

    def to_dict(self) -> dict[str, Any]:
        return {
            "logical_id": self.logical_id,
            "action": self.action,
            "type": self.resource_type,
            "replacement": self.replacement,
            "reasons": list(self.reasons),
            "changes": [change.to_dict() for change in self.changes],
            "stateful": self.stateful,
            "data_loss": self.data_loss,
            "notes": list(self.notes),
            "refusals": list(self.refusals),
        }


@dataclass(frozen=True)
class NamedChanges:
    """Added, removed and modified names of a template section (Parameters, Outputs)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)

    def to_dict(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed), "modified": list(self.modified)}


@dataclass(frozen=True)
class StackDiff:
    stack: str
    region: str
    #: File names relative to ``<env>/`` (None: the stack is not in that build).
    before_file: str | None
    after_file: str | None
    resources: tuple[ResourceChange, ...] = ()
    parameters: NamedChanges = field(default_factory=NamedChanges)
    outputs: NamedChanges = field(default_factory=NamedChanges)

    def of(self, action: Action) -> list[ResourceChange]:
        return [r for r in self.resources if r.action == action]

    @property
    def replaced(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.action == "modify" and r.replacement != "never"]

    @property
    def data_loss(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.data_loss]

    @property
    def changed(self) -> bool:
        return bool(self.resources or self.parameters or self.outputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "before_file": self.before_file,
            "after_file": self.after_file,
            "summary": {
                "added": len(self.of("add")),
                "removed": len(self.of("remove")),
                "modified": len(self.of("modify")),
                "replaced": len(self.replaced),
                "data_loss": len(self.data_loss),
            },
            "resources": [r.to_dict() for r in self.resources],
            "parameters": self.parameters.to_dict(),
            "outputs": self.outputs.to_dict(),
        }


@dataclass(frozen=True)
class EnvironmentDiff:
    environment: str
    stacks: tuple[StackDiff, ...]

    @property
    def data_loss(self) -> list[tuple[str, ResourceChange]]:
        return [(s.stack, r) for s in self.stacks for r in s.data_loss]

    @property
    def refused(self) -> list[tuple[str, ResourceChange]]:
        """Updates CloudFormation or the service will refuse (the stack update fails)."""
        return [(s.stack, r) for s in self.stacks for r in s.resources if r.refusals]

    def exit_code(self, *, allow_replacement: bool = False) -> int:
        """1 when a stateful resource would be removed or replaced (unless allowed), or
        when an update would be refused (no flag allows that: it cannot deploy)."""
        return 1 if (self.data_loss and not allow_replacement) or self.refused else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "data_loss": [{"stack": stack, "logical_id": r.logical_id, "type": r.resource_type, "action": r.action}
                          for stack, r in self.data_loss],
            "refused": [{"stack": stack, "logical_id": r.logical_id, "type": r.resource_type, "reasons": list(r.refusals)}
                        for stack, r in self.refused],
            "stacks": [s.to_dict() for s in self.stacks],
        }

    def to_json(self) -> str:
        """Deterministic JSON for CI bots."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- schemas ------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeRules:
    create_only: tuple[tuple[str, ...], ...]
    conditional: tuple[tuple[str, ...], ...]
    #: The property that names the resource, when the name is user-settable.
    name_property: tuple[str, ...] | None
    known: bool = True


def _pointer(pointer: str) -> tuple[str, ...]:
    """``/properties/A/*/B`` -> ``("A", "*", "B")`` (JSON-pointer escapes undone)."""
    parts = pointer.split("/")[2:]
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in parts)


@lru_cache(maxsize=None)
def type_rules(region: str, resource_type: str) -> TypeRules:
    """createOnly / conditionalCreateOnly pointers of a type, from cfn-lint's registry schema for ``region``."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except ResourceNotFoundError:
        return TypeRules((), (), None, known=False)
    create_only = tuple(_pointer(p) for p in schema.get("createOnlyProperties", []) if p.startswith("/properties/"))
    conditional = tuple(
        _pointer(p) for p in schema.get("conditionalCreateOnlyProperties", []) if p.startswith("/properties/")
    )
    identifier = schema.get("primaryIdentifier") or []
    name_property = _pointer(identifier[0]) if len(identifier) == 1 and identifier[0] in schema.get(
        "createOnlyProperties", []) else None
    return TypeRules(create_only, conditional, name_property)


# -- comparing values -----------------------------------------------------------------


def _values_at(node: Any, parts: Sequence[str]) -> list[Any]:
    """Values under a createOnly pointer (``*`` walks every list item); MISSING where absent.

    Under a ``*`` only the items that set the property count: adding a list item
    that leaves a create-only sub-property unset does not change that property,
    and neither does an absent list whose items would not set it.
    """
    if not parts:
        return [node]
    if node is MISSING:
        return [] if "*" in parts else [MISSING]
    if is_intrinsic(node):
        # an intrinsic (Fn::If, ...) that decides the whole subtree
        return [node]
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not isinstance(node, list):
            return [node]
        return [value for item in node for value in _values_at(item, rest) if value is not MISSING]
    if isinstance(node, dict):
        return _values_at(node.get(head, MISSING), rest)
    if isinstance(node, list) and head.isdigit():
        return _values_at(node[int(head)] if int(head) < len(node) else MISSING, rest)
    return [MISSING]


def _tag_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) and set(item) == {"Key", "Value"} for item in value)


def _property_changes(before: Any, after: Any, path: str, dirty: Mapping[str, Replacement]) -> list[PropertyChange]:
    """Leaf-level changes between two values; equal text that refers to ``dirty`` names counts too."""
    if before == after:
        via = tuple(sorted(references(after) & set(dirty)))
        if not via:
            return []
        if not isinstance(after, (dict, list)) or is_intrinsic(after):
            return [PropertyChange(path, before, after, via)]
    if isinstance(before, dict) and isinstance(after, dict) and not is_intrinsic(before) and not is_intrinsic(after):
        changes = []
        for key in list(before) + [k for k in after if k not in before]:
            changes += _property_changes(before.get(key, MISSING), after.get(key, MISSING), f"{path}.{key}", dirty)
        return changes
    if _tag_list(before) and _tag_list(after):
        old = {tag["Key"]: tag["Value"] for tag in before}
        new = {tag["Key"]: tag["Value"] for tag in after}
        changes = []
        for key in list(old) + [k for k in new if k not in old]:
            changes += _property_changes(old.get(key, MISSING), new.get(key, MISSING), f"{path}[{key}]", dirty)
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for index, (old_item, new_item) in enumerate(zip(before, after)):
            changes += _property_changes(old_item, new_item, f"{path}[{index}]", dirty)
        return changes
    via = tuple(sorted(references(after) & set(dirty))) if after is not MISSING else ()
    return [PropertyChange(path, before, after, via)]


def _differs(before: Any, after: Any, dirty: Mapping[str, Replacement]) -> tuple[Replacement, str]:
    """("always", "") when the text differs; otherwise how surely the referenced dirty names change it.

    The second item names those references (" with AuroraSubnetGroup") for the reason text.
    """
    if before != after:
        return "always", ""
    names = sorted(name for name in references(after) if name in dirty)
    strength = max((dirty[name] for name in names), key=_STRENGTH.__getitem__, default="never")
    return strength, f" with {', '.join(names)}" if names else ""


def _pointer_text(parts: Sequence[str]) -> str:
    return "/".join(parts).replace("/*", "[*]")


@dataclass(frozen=True)
class Assessment:
    """Every reason an update replaces (or may replace) one resource; the strongest one wins."""

    replacement: Replacement
    reasons: tuple[str, ...]


def _replacement(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    region: str,
    dirty: Mapping[str, Replacement],
) -> Assessment | None:
    """Whether updating ``before`` to ``after`` replaces the resource, and why (None: updated in place)."""
    if before["Type"] != after["Type"]:
        return Assessment("always", (f"Type changes from {before['Type']} to {after['Type']}",))
    resource_type = after["Type"]
    rules = type_rules(region, resource_type)
    old_props, new_props = _failover_switch(resource_type, before.get("Properties") or {}, after.get("Properties") or {})
    verdicts: list[Verdict] = []
    if not rules.known:
        if _differs(old_props, new_props, dirty)[0] != "never":
            verdicts.append(Verdict("conditional", f"no registry schema for {resource_type} in {region}"))
    changed_create_only = {}
    for parts in rules.create_only:
        strength, via = _differs(_values_at(old_props, parts), _values_at(new_props, parts), dirty)
        if strength != "never":
            changed_create_only[parts] = (strength, via)
    for parts, (strength, via) in changed_create_only.items():
        if any(other[: len(parts)] == parts and len(other) > len(parts) and found[0] == strength
               for other, found in changed_create_only.items()):
            continue  # a deeper create-only path says which part changed (RootDirectory -> .../OwnerUid)
        how = "changes" if strength == "always" else "may change"
        verdicts.append(Verdict(strength, f"{_pointer_text(parts)} {how}{via} and is create-only"))
    tabled = {prop for (kind, prop) in CONDITIONAL_REPLACEMENTS if kind == resource_type}
    for parts in rules.conditional:
        if parts[0] in tabled:
            continue
        strength, via = _differs(_values_at(old_props, parts), _values_at(new_props, parts), dirty)
        if strength != "never":
            verdicts.append(Verdict("conditional", f"{_pointer_text(parts)} changes{via} and may require replacement "
                                                   f"(conditionally create-only; see the AWS resource reference)"))
    for prop in sorted(tabled):
        old_value, new_value = old_props.get(prop, MISSING), new_props.get(prop, MISSING)
        strength, via = _differs(old_value, new_value, dirty)
        if strength == "never":
            continue
        verdict = CONDITIONAL_REPLACEMENTS[(resource_type, prop)](old_value, new_value, old_props, new_props)
        if verdict.replacement != "never":
            replacement = verdict.replacement if strength == "always" else "conditional"
            verdicts.append(Verdict(replacement, f"{prop} changes{via}: {verdict.reason}"))
    if not verdicts:
        return None
    level = max((v.replacement for v in verdicts), key=_STRENGTH.__getitem__)
    return Assessment(level, tuple(v.reason for v in verdicts))


# -- stacks ---------------------------------------------------------------------------


def _is_stateful(resource: Mapping[str, Any]) -> bool:
    resource_type = resource.get("Type", "")
    if resource_type not in DATA_LOSS_TYPES:
        return False
    exempt = _NOT_STATEFUL_WHEN.get(resource_type)
    return not (exempt and exempt(resource.get("Properties") or {}))


def _policy_note(resource: Mapping[str, Any], policy: str, event: str) -> str:
    value = resource.get(policy, "Delete")
    if value == "Snapshot":
        return f"{policy} Snapshot: a final snapshot is taken on {event}; the live resource, its endpoint and " \
               "every write after the snapshot are gone, and restoring it is a manual recovery"
    if value in ("Retain", "RetainExceptOnCreate"):
        return f"{policy} {value}: the old resource is kept outside the stack on {event} (orphaned, still billed); " \
               "nothing in the stack uses its data any more"
    return f"{policy} {value}: the resource and its data are deleted on {event}"


def _section_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> NamedChanges:
    return NamedChanges(
        added=tuple(sorted(set(after) - set(before))),
        removed=tuple(sorted(set(before) - set(after))),
        modified=tuple(sorted(name for name in set(before) & set(after) if before[name] != after[name])),
    )


def _changed_parameter_defaults(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Replacement]:
    """Parameters whose default changed: every value using them changes when deployed with defaults."""
    return {
        name: "always"
        for name in set(before) & set(after)
        if (before[name] or {}).get("Default", MISSING) != (after[name] or {}).get("Default", MISSING)
    }


def _assess_replacements(
    old_resources: Mapping[str, Any], new_resources: Mapping[str, Any], region: str, changed_parameters: Mapping[str, Replacement]
) -> dict[str, Assessment]:
    """Replacement verdicts of every resource in both templates, following references to a fixed point.

    A replaced resource changes every value that refers to it, which may replace
    its dependants in turn: repeat until no verdict grows (verdicts only grow,
    so this ends after at most one round per level of the dependency graph).
    """
    common = [logical_id for logical_id in new_resources if logical_id in old_resources]
    dirty = dict(changed_parameters)
    assessments: dict[str, Assessment] = {}
    while True:
        for logical_id in common:
            assessment = _replacement(old_resources[logical_id], new_resources[logical_id], region, dirty)
            if assessment is not None:
                assessments[logical_id] = assessment
        grown = {logical_id: a.replacement for logical_id, a in assessments.items() if dirty.get(logical_id) != a.replacement}
        if not grown:
            return assessments
        dirty.update(grown)


def _removal(logical_id: str, resource: Mapping[str, Any], new_resources: Mapping[str, Any], added: Sequence[str]) -> ResourceChange:
    stateful = _is_stateful(resource)
    notes = []
    renamed_to = [a for a in added if new_resources[a].get("Type") == resource.get("Type")]
    if renamed_to:
        notes.append(f"same type added as {', '.join(renamed_to)}: if this is a rename, CloudFormation creates "
                     f"the new resource and deletes {logical_id}; keep the old logical ID instead")
    if stateful:
        notes.append(f"holds {DATA_LOSS_TYPES[resource['Type']]}")
        notes.append(_policy_note(resource, "DeletionPolicy", "removal"))
    return ResourceChange(logical_id, "remove", resource.get("Type", "?"), stateful=stateful, notes=tuple(notes))


def _modification(
    logical_id: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    assessment: Assessment | None,
    region: str,
    dirty: Mapping[str, Replacement],
    resources: Mapping[str, Any] | None = None,
) -> ResourceChange | None:
    path_changes: list[PropertyChange] = []
    for key in list(old) + [k for k in new if k not in old]:
        path_changes += _property_changes(old.get(key, MISSING), new.get(key, MISSING), key, dirty)
    if not path_changes and assessment is None:
        return None
    stateful = _is_stateful(old) or _is_stateful(new)
    notes = _engine_notes(old, new)
    if assessment is not None:
        name_parts = type_rules(region, new["Type"]).name_property
        old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
        if (
            name_parts
            and assessment.replacement == "always"
            and _values_at(new_props, name_parts) != [MISSING]
            and _differs(_values_at(old_props, name_parts), _values_at(new_props, name_parts), dirty)[0] == "never"
        ):
            notes.append(f"custom-named ({'/'.join(name_parts)} is set and unchanged): CloudFormation cannot "
                         "replace a custom-named resource, so this update FAILS and rolls back")
        if stateful:
            notes.append(f"holds {DATA_LOSS_TYPES[old['Type'] if _is_stateful(old) else new['Type']]}")
            notes.append(_policy_note(old, "UpdateReplacePolicy", "replacement"))
    return ResourceChange(
        logical_id,
        "modify",
        new.get("Type", "?"),
        assessment.replacement if assessment else "never",
        assessment.reasons if assessment else (),
        tuple(path_changes),
        stateful,
        tuple(notes),
        _refusals(old, new, path_changes, dirty, resources or {},
                  replacement=assessment.replacement if assessment else "never"),
    )


#: Types whose EngineVersion AWS can move by itself (AutoMinorVersionUpgrade) and never lowers.
_ENGINE_TYPES = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup",
                 "AWS::ElastiCache::CacheCluster")


def _is_downgrade(before: Any, after: Any) -> bool:
    return (isinstance(before, str) and isinstance(after, str) and before != after
            and version_key(after) < version_key(before))


def _auto_upgraded(resource: Mapping[str, Any]) -> bool:
    """Did AWS upgrade this engine's minor version by itself (AutoMinorVersionUpgrade on; RDS defaults it on)?"""
    props = resource.get("Properties") or {}
    value = props.get("AutoMinorVersionUpgrade")
    if value is None:
        return str(resource.get("Type", "")).startswith("AWS::RDS::")
    return is_true(value)


def _engine_notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What the previous template cannot tell: AWS may have upgraded the engine since (SF3007)."""
    if new.get("Type") not in _ENGINE_TYPES or not _auto_upgraded(old):
        return []
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    before, after = old_props.get("EngineVersion"), new_props.get("EngineVersion")
    if not isinstance(before, str):
        return []
    read = ("aws elasticache describe-replication-groups" if "ElastiCache" in new["Type"]
            else "aws rds describe-db-clusters / describe-db-instances")
    if before != after:
        return [f"AutoMinorVersionUpgrade was on, so the running engine may already be newer than {before}: read it "
                f"({read}); if it is newer than {after}, RDS/ElastiCache refuses this as a downgrade"]
    if not _auto_upgraded(new):
        return [f"AutoMinorVersionUpgrade goes off while the template says {before}; AWS may already have upgraded "
                f"the engine: read the running version ({read}) and, if newer, set engine_version to it so the "
                "template states what runs (a later change below it would be refused as a downgrade)"]
    return []


#: Subnet groups whose members cannot move to another VPC while a cluster runs in them.
_SUBNET_GROUP_TYPES = ("AWS::RDS::DBSubnetGroup", "AWS::ElastiCache::SubnetGroup")


def _major(version: Any) -> str | None:
    """PostgreSQL's major version: '16' of '16.4' (and '9.6' of '9.6.20')."""
    if not isinstance(version, (str, int, float)):
        return None
    parts = str(version).split(".")
    return ".".join(parts[:2]) if parts[0] == "9" else parts[0]


def _refusals(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    path_changes: Sequence[PropertyChange],
    dirty: Mapping[str, Replacement],
    resources: Mapping[str, Any],
    *,
    replacement: Replacement = "never",
) -> tuple[str, ...]:
    """Updates that pass lint but that CloudFormation or the service refuses.

    - A major engine version change without ``AllowMajorVersionUpgrade: true``:
      "AllowMajorVersionUpgrade: A value that indicates whether major version
      upgrades are allowed. Constraints: Major version upgrades must be allowed
      when specifying a value for the EngineVersion parameter that is a different
      major version than the DB instance's current version." (RDS API,
      ModifyDBInstance / ModifyDBCluster).
    - A lower ``EngineVersion`` (RDS, Aurora, ElastiCache): no engine is downgraded in
      place; RDS answers "Cannot upgrade ... from 16.16 to 16.15".
    - A subnet replaced in the same VPC with the same ``CidrBlock`` (e.g. switched to
      ``AvailabilityZoneId``): CloudFormation creates the replacement before it deletes
      the old subnet ("CloudFormation creates the new resource, changes references ...
      and then deletes the old resource"), and EC2 refuses a subnet whose CIDR overlaps
      another in the VPC (``InvalidSubnet.Conflict``).
    - A subnet group whose subnets are replaced (e.g. the VPC CIDR changed, so the
      VPC and every subnet are new) while a database or cache runs in it: RDS and
      ElastiCache refuse to move a running cluster's subnet group into another VPC
      ("The new Subnets are not in the same Vpc as the existing subnet group").
    """
    reasons = []
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    if new.get("Type") in ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
        before, after = _major(old_props.get("EngineVersion")), _major(new_props.get("EngineVersion"))
        if before and after and before != after and new_props.get("AllowMajorVersionUpgrade") not in (True, "true"):
            reasons.append(f"EngineVersion moves from major version {before} to {after} without "
                           "AllowMajorVersionUpgrade: true; RDS refuses the modification and the update rolls back")
    if new.get("Type") in _ENGINE_TYPES and _is_downgrade(old_props.get("EngineVersion"), new_props.get("EngineVersion")):
        reasons.append(f"EngineVersion goes down from {old_props['EngineVersion']} to {new_props['EngineVersion']}; "
                       "an engine is never downgraded in place, so the update is refused and rolls back")
    if new.get("Type") == "AWS::EC2::Subnet" and replacement == "always":
        cidr_moves = any(change.path in ("Properties.CidrBlock", "Properties.VpcId") for change in path_changes)
        if not cidr_moves:
            reasons.append(f"it is replaced in the same VPC with the same CidrBlock {old_props.get('CidrBlock')}: "
                           "CloudFormation creates the new subnet before deleting this one, and EC2 refuses the "
                           "overlapping CIDR (InvalidSubnet.Conflict); placement (AZ, AZ ID) is chosen before "
                           "the first deploy, or the network moves to a new CIDR")
    if new.get("Type") in _SUBNET_GROUP_TYPES:
        moved = sorted({name for change in path_changes if change.path.startswith("Properties.SubnetIds")
                        for name in change.via if dirty.get(name, "never") != "never"})
        users = sorted(logical_id for logical_id, resource in resources.items()
                       if _is_stateful(resource) and _uses(resource, new_group=new, resources=resources))
        if moved and users:
            reasons.append(f"its subnets ({', '.join(moved)}) are replaced while {', '.join(users)} use it; "
                           "RDS and ElastiCache refuse to move a running cluster's subnet group into new subnets "
                           "of another VPC: move the data with a snapshot restore or a replica instead")
    return tuple(reasons)


def _uses(resource: Mapping[str, Any], *, new_group: Mapping[str, Any], resources: Mapping[str, Any]) -> bool:
    group_ids = [logical_id for logical_id, candidate in resources.items() if candidate is new_group]
    return bool(group_ids) and bool(references(resource.get("Properties") or {}) & set(group_ids))


def diff_templates(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    region: str,
    stack: str,
    before_file: str | None = None,
    after_file: str | None = None,
) -> StackDiff:
    """Compare two parsed templates (``None``: the stack does not exist on that side)."""
    before = before or {}
    after = after or {}
    old_resources: Mapping[str, Any] = before.get("Resources") or {}
    new_resources: Mapping[str, Any] = after.get("Resources") or {}

    dirty: dict[str, Replacement] = _changed_parameter_defaults(before.get("Parameters") or {}, after.get("Parameters") or {})
    assessments = _assess_replacements(old_resources, new_resources, region, dirty)
    dirty.update({logical_id: a.replacement for logical_id, a in assessments.items()})

    added = [logical_id for logical_id in new_resources if logical_id not in old_resources]
    removed = [logical_id for logical_id in old_resources if logical_id not in new_resources]
    changes = [_removal(logical_id, old_resources[logical_id], new_resources, added) for logical_id in removed]
    changes += [
        ResourceChange(logical_id, "add", new_resources[logical_id].get("Type", "?"),
                       stateful=_is_stateful(new_resources[logical_id]))
        for logical_id in added
    ]
    for logical_id in new_resources:
        if logical_id in old_resources:
            modified = _modification(logical_id, old_resources[logical_id], new_resources[logical_id],
                                     assessments.get(logical_id), region, dirty, new_resources)
            if modified is not None:
                changes.append(modified)
    order = {"remove": 0, "modify": 1, "add": 2}
    changes.sort(key=lambda c: (not (c.data_loss or c.refusals), order[c.action], c.logical_id))
    return StackDiff(
        stack=stack,
        region=region,
        before_file=before_file,
        after_file=after_file,
        resources=tuple(changes),
        parameters=_section_changes(before.get("Parameters") or {}, after.get("Parameters") or {}),
        outputs=_section_changes(before.get("Outputs") or {}, after.get("Outputs") or {}),
    )


# -- environments -----------------------------------------------------------------------

_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


def _is_template(document: Mapping[str, Any]) -> bool:
    resources = document.get("Resources")
    return isinstance(resources, dict) and bool(resources) and all(
        isinstance(body, dict) and isinstance(body.get("Type"), str) for body in resources.values()
    )


def previous_templates(folder: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Templates of a previous build's ``<env>/`` folder: stack name -> (file name, parsed template).

    A file is a template when its ``Resources`` map logical IDs to typed
    resources (other artifacts, e.g. JSON reports, are skipped; the format
    version is not required, older templates lacked it); the stack
    name is ``Metadata.StreamFlix.Blueprint``, else the file's stem. A YAML/JSON
    file that does not parse is an error, not a skip: silently missing a stack
    would hide its data loss.
    """
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix not in _TEMPLATE_SUFFIXES:
            continue
        try:
            template = load_template(path.read_text("utf-8"))
        except (TemplateParseError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot compare against it: {exc}") from None
        if not _is_template(template):
            continue
        name = str(((template.get("Metadata") or {}).get("StreamFlix") or {}).get("Blueprint") or path.stem)
        if name in found:
            raise ConfigError(f"{folder}: two templates for stack {name}: {found[name][0]} and {path.name}")
        found[name] = (path.name, template)
    return found


def diff_environment(
    config: EnvironmentConfig, against: str | Path, *, stacks: Sequence[str] | None = None
) -> EnvironmentDiff:
    """Diff what ``config`` renders now against ``against/<env>/`` (a previous ``out/``).

    Without ``stacks``, a stack that only the previous build has counts as removed
    (every resource in it would be deleted with the stack).
    """
    from streamflix.pipeline import render_environment  # the pipeline does not need the diff

    folder = Path(against) / config.name
    if not folder.is_dir():
        raise ConfigError(f"--against {against}: no folder {config.name}/ in it; give a previous out/ folder "
                          f"(it holds one sub-folder per environment)")
    previous = previous_templates(folder)
    if not previous:
        raise ConfigError(f"--against {against}: {folder} holds no CloudFormation templates; "
                          "give the out/ folder of a previous build")
    current = {stack.blueprint: stack for stack in render_environment(config, stacks)}
    names = list(current) + ([] if stacks else sorted(name for name in previous if name not in current))
    diffs = []
    for name in names:
        stack = current.get(name)
        before_file, before = previous.get(name, (None, None))
        region = stack.region if stack else str(((before or {}).get("Metadata") or {}).get("StreamFlix", {}).get(
            "Region", "us-east-1"))
        diffs.append(
            diff_templates(
                before,
                load_template(stack.text) if stack else None,
                region=region,
                stack=name,
                before_file=before_file,
                after_file=stack.filename if stack else None,
            )
        )
    return EnvironmentDiff(config.name, tuple(diffs))


# -- presentation ---------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready plain data (MISSING -> None)."""
    if value is MISSING:
        return None
    return json.loads(json.dumps(value))


def _short(value: Any, limit: int = 70) -> str:
    """A changed value for one line of the terminal diff: ``text_of`` on one line, cut at ``limit`` characters."""
    if value is MISSING:
        return "(not set)"
    text = text_of(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(diff: EnvironmentDiff, *, allow_replacement: bool = False) -> list[str]:
    """The diff as lines of rich markup, for a terminal."""
    from rich.markup import escape

    lines: list[str] = []
    for stack in diff.stacks:
        if stack.before_file is None:
            where = f"new stack ({escape(stack.after_file or '')})"
        elif stack.after_file is None:
            where = (f"[bold red]stack no longer rendered[/] (was {escape(stack.before_file)}): "
                     "deleting it deletes everything in it")
        else:
            where = escape(stack.after_file)
        lines.append(f"[bold]{escape(stack.stack)}[/] ({escape(stack.region)}) {where}")
        if not stack.changed:
            lines.append("  no changes")
            continue
        lines.append(
            f"  {len(stack.of('add'))} added, {len(stack.of('remove'))} removed, {len(stack.of('modify'))} modified, "
            f"{len(stack.replaced)} replaced, {len(stack.data_loss)} data-loss risk"
        )
        for change in stack.resources:
            marker = {"add": "[green]+[/]", "remove": "[red]-[/]", "modify": "[yellow]~[/]"}[change.action]
            flags = []
            if change.action == "modify" and change.replacement == "always":
                flags.append("[bold yellow]REPLACEMENT[/]")
            elif change.action == "modify" and change.replacement == "conditional":
                flags.append("[yellow]MAY REPLACE[/]")
            if change.data_loss:
                flags.append("[bold red]DATA LOSS RISK[/]")
            if change.refusals:
                flags.append("[bold red]UPDATE REFUSED[/]")
            lines.append(f"  {marker} {escape(change.logical_id)} ({escape(change.resource_type)}) {' '.join(flags)}".rstrip())
            for reason in change.reasons:
                lines.append(f"      because {escape(reason)}")
            for refusal in change.refusals:
                lines.append(f"      refused: {escape(refusal)}")
            for prop in change.changes:
                if not prop.via:
                    lines.append(f"      {escape(prop.path)}: {escape(_short(prop.before))} -> {escape(_short(prop.after))}")
            follow_on = [prop for prop in change.changes if prop.via]
            if follow_on:
                names = sorted({name for prop in follow_on for name in prop.via})
                lines.append(f"      [dim]{len(follow_on)} value(s) follow {escape(', '.join(names))}: "
                             f"{escape(', '.join(p.path for p in follow_on[:4]))}{', ...' if len(follow_on) > 4 else ''}[/]")
            for note in change.notes:
                lines.append(f"      [dim]note:[/] {escape(note)}")
        for label, section in (("parameters", stack.parameters), ("outputs", stack.outputs)):
            for kind in ("added", "removed", "modified"):
                names = getattr(section, kind)
                if names:
                    lines.append(f"  {label} {kind}: {escape(', '.join(names))}")
        if stack.parameters.modified:
            lines.append("  [dim]note:[/] values that use a parameter whose Default changed are counted as changed "
                         "(true when the stack is deployed with defaults)")
        if stack.outputs.removed:
            lines.append("  [dim]note:[/] a removed export fails the update while another stack imports it")
    for stack_name, change in diff.refused:
        lines.append(f"[bold red]UPDATE REFUSED[/] {escape(stack_name)}/{escape(change.logical_id)}: "
                     "CloudFormation cannot apply this update (exit 1, whatever the flags)")
    risks = diff.data_loss
    if risks:
        listed = ", ".join(f"{stack}/{r.logical_id}" for stack, r in risks)
        if allow_replacement:
            lines.append(f"[bold red]DATA LOSS RISK[/] in {escape(listed)}: allowed by --allow-replacement")
        else:
            lines.append(f"[bold red]DATA LOSS RISK[/] in {escape(listed)}: refusing (exit 1); keep the logical IDs and "
                         "create-only values, or pass --allow-replacement after planning the data's migration")
    else:
        lines.append("no data-loss risk")
    return lines

