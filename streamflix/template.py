"""The template factory: the only place a CloudFormation template is created.

Every template it makes starts with ``AWSTemplateFormatVersion``, has a
Description, an ``EnvironmentSuffix`` parameter with an AllowedPattern, the
``AWS::CloudFormation::Interface`` metadata grouping the parameters, the
standard tags on every taggable resource, and exports every output as
``${AWS::StackName}-<OutputName>``. There is no way to add an output without an
export name: ``add_output`` builds the Export itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from troposphere import AWSObject, Export, Output, Parameter, Ref, Sub, Tags, Template

from streamflix.catalog import load_catalog
from streamflix.config.models import EnvironmentConfig
from streamflix.config.naming import suffix_max_length

FORMAT_VERSION = "2010-09-09"
SUFFIX_PARAMETER = "EnvironmentSuffix"
MANAGED_BY = "streamflix-blueprints"

#: Top-level key order of every rendered template (format version first, always).
#: The parameter every deletion-protection setting of a stack follows (see StackTemplate.deletion_protection).
DELETION_PROTECTION_PARAMETER = "DeletionProtection"
SECTION_ORDER = (
    "AWSTemplateFormatVersion",
    "Description",
    "Transform",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Resources",
    "Outputs",
)
#: Key order inside a resource, so a reviewer sees Type and policies first.
RESOURCE_KEY_ORDER = ("Type", "Condition", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "Metadata", "Properties")

#: Resources whose tag property has another name (same Key/Value list shape).
_TAG_PROPERTY_ALIASES = {
    "AWS::EFS::FileSystem": "FileSystemTags",
    "AWS::EFS::AccessPoint": "AccessPointTags",
    "AWS::Route53::HealthCheck": "HealthCheckTags",
}

#: How a wired parameter's value is read from its source stack (see streamflix.wiring).
WIRE_FROM_OUTPUT = "stack-output"
WIRE_FROM_EFS_REPLICATION = "efs-replication-destination"
WIRE_RESOLVERS = (WIRE_FROM_OUTPUT, WIRE_FROM_EFS_REPLICATION)

_OUTPUT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,254}$")
_CHECKOV_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")


@dataclass(frozen=True)
class StackIdentity:
    """What a template says about itself in ``Metadata.StreamFlix``."""

    blueprint: str
    environment: str
    #: dev | staging | prod: the rules read it to know whether production floors apply.
    tier: str
    region: str
    project: str
    catalog_snapshot: str
    #: (floor, reason) pairs from the config's ``security_overrides``.
    security_overrides: tuple[tuple[str, str], ...] = ()
    #: (resource, phase, reason) from the config's ``lifecycle_exceptions`` for this stack.
    lifecycle_exceptions: tuple[tuple[str, str, str], ...] = ()


@dataclass
class StackTemplate:
    """A troposphere Template with StreamFlix's invariants built in."""

    identity: StackIdentity
    description: str
    suffix_default: str
    suffix_max_length: int
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.template = Template()
        self.template.set_version(FORMAT_VERSION)
        self.template.set_description(self.description)
        self._parameter_groups: dict[str, list[str]] = {}
        self._parameter_labels: dict[str, str] = {}
        self._lint_suppressions: dict[str, dict[str, str]] = {}
        self._wiring: dict[str, dict[str, str]] = {}
        self._security_notes: list[str] = []
        self._scan_suppressions: dict[str, dict[str, str]] = {}
        self._follow_up_updates: dict[str, dict[str, str]] = {}
        self.suffix = self.add_parameter(
            Parameter(
                SUFFIX_PARAMETER,
                Type="String",
                Default=self.suffix_default,
                AllowedPattern=f"^[a-z][a-z0-9]{{0,{self.suffix_max_length - 1}}}$",
                MinLength=1,
                MaxLength=self.suffix_max_length,
                ConstraintDescription=(
                    f"lower-case letter then letters/digits, at most {self.suffix_max_length} characters "
                    "(every physical name must fit its AWS limit)"
                ),
                Description="Distinguishes this deployment; part of every physical resource name.",
            ),
            group="Environment",
            label="Environment suffix",
        )

    # -- building -------------------------------------------------------

    def add_parameter(self, parameter: Parameter, *, group: str, label: str) -> Parameter:
        """Add a parameter, grouped and labelled in the console's Interface metadata."""
        self.template.add_parameter(parameter)
        self._parameter_groups.setdefault(group, []).append(parameter.title)
        self._parameter_labels[parameter.title] = label
        return parameter

    def add_wired_parameter(
        self,
        parameter: Parameter,
        *,
        source_blueprint: str,
        source_output: str,
        resolve: str = WIRE_FROM_OUTPUT,
        group: str,
        label: str,
    ) -> Parameter:
        """A parameter whose value another stack produces (CloudFormation exports do not cross regions).

        The source is recorded in ``Metadata.StreamFlix.Wiring``; the build turns
        it into ``wiring.json`` and ``streamflix.wiring`` resolves it from the
        deployed source stack. ``resolve`` says how the output becomes the value:
        the output itself, or (``efs-replication-destination``) the destination
        of the EFS replication whose source file system the output names. A
        parameter with a Default is optional wiring: the stack deploys without it.
        """
        if resolve not in WIRE_RESOLVERS:
            raise ValueError(f"resolve {resolve!r}; allowed: {', '.join(WIRE_RESOLVERS)}")
        self.add_parameter(parameter, group=group, label=label)
        self._wiring[parameter.title] = {"FromStack": source_blueprint, "Output": source_output, "Resolve": resolve}
        return parameter

    def deletion_protection(self, enabled: bool) -> Any:
        """The value of every deletion-protection setting of this stack.

        Off: ``False``. On: a ``DeletionProtection`` parameter that defaults to
        ``"false"``, so the create (and a failed create's rollback) can delete what it
        made (SF3002), plus a ``Metadata.StreamFlix.FollowUpUpdates`` entry: once the
        stack is CREATE_COMPLETE, an update sets it to ``"true"`` (the runbook says how).
        """
        if not enabled:
            return False
        if DELETION_PROTECTION_PARAMETER not in self.template.parameters:
            self.add_parameter(
                Parameter(
                    DELETION_PROTECTION_PARAMETER,
                    Type="String",
                    AllowedValues=["false", "true"],
                    Default="false",
                    Description=(
                        "Deletion protection of the databases and load balancers. false for the first create, so "
                        "a failed create can roll back; then true, by the follow-up update (see the runbook)."
                    ),
                ),
                group="Lifecycle",
                label="Deletion protection (true after the first create)",
            )
            self._follow_up_updates[DELETION_PROTECTION_PARAMETER] = {
                "Value": "true",
                "Reason": "deletion protection on at create would turn a failed create's rollback into ROLLBACK_FAILED",
            }
        return Ref(DELETION_PROTECTION_PARAMETER)

    def add_security_note(self, note: str) -> None:
        """A deliberate, reviewable weakening (e.g. plain HTTP), kept in the template's metadata."""
        if not note.strip():
            raise ValueError("a security note needs text")
        self._security_notes.append(note)

    def add_resource(self, resource: AWSObject) -> AWSObject:
        self.template.add_resource(resource)
        return resource

    def add_output(self, name: str, value: Any, description: str) -> Output:
        """Add an output that is always exported as ``${AWS::StackName}-<name>``."""
        if not _OUTPUT_NAME.match(name):
            raise ValueError(f"output name {name!r} must be alphanumeric and start with a letter")
        output = Output(
            name,
            Description=description,
            Value=value,
            Export=Export(Sub("${AWS::StackName}-" + name)),
        )
        self.template.add_output(output)
        return output

    def suppress_lint(self, resource: AWSObject, rule_id: str, reason: str) -> None:
        """Silence one cfn-lint rule on one resource, with the reason kept beside it."""
        self._lint_suppressions.setdefault(resource.title, {})[rule_id] = _one_line_reason(reason, rule_id)

    def suppress_scan(self, resource: AWSObject, check_id: str, reason: str) -> None:
        """Skip one checkov check on one resource because it truly does not apply.

        Rendered as checkov's own ``Metadata.checkov.skip`` entry with the reason as
        its comment, so the skip lives beside the resource and the build lists it.
        """
        if not _CHECKOV_ID.match(check_id):
            raise ValueError(f"{check_id!r} is not a checkov check id (CKV_AWS_123, CKV2_AWS_5)")
        self._scan_suppressions.setdefault(resource.title, {})[check_id] = _one_line_reason(reason, check_id)

    def standard_tags(self) -> dict[str, Any]:
        tags: dict[str, Any] = {
            "Project": self.identity.project,
            "Environment": self.identity.environment,
            "EnvironmentSuffix": Ref(SUFFIX_PARAMETER),
            "ManagedBy": MANAGED_BY,
        }
        tags.update(sorted(self.extra_tags.items()))
        return tags

    # -- output ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The finished template as an ordered dict, ready to render."""
        self._apply_tags()
        raw = self.template.to_dict()
        raw["Metadata"] = self._metadata()
        for logical_id, reasons in self._lint_suppressions.items():
            resource = raw["Resources"][logical_id]
            metadata = resource.setdefault("Metadata", {})
            metadata["cfn-lint"] = {"config": {"ignore_checks": sorted(reasons)}}
            metadata["StreamFlixLintSuppressions"] = dict(sorted(reasons.items()))
        for logical_id, reasons in self._scan_suppressions.items():
            metadata = raw["Resources"][logical_id].setdefault("Metadata", {})
            metadata["checkov"] = {"skip": [{"id": check, "comment": reason} for check, reason in sorted(reasons.items())]}
        raw["Resources"] = {
            logical_id: {key: body[key] for key in RESOURCE_KEY_ORDER if key in body}
            for logical_id, body in raw["Resources"].items()
        }
        unknown = set(raw) - set(SECTION_ORDER)
        if unknown:
            raise ValueError(f"template sections not in SECTION_ORDER: {sorted(unknown)}")
        return {key: raw[key] for key in SECTION_ORDER if key in raw}

    def _metadata(self) -> dict[str, Any]:
        streamflix: dict[str, Any] = {
            "Blueprint": self.identity.blueprint,
            "Environment": self.identity.environment,
            "Tier": self.identity.tier,
            "Region": self.identity.region,
            "CatalogSnapshot": self.identity.catalog_snapshot,
        }
        if self.identity.security_overrides:
            streamflix["SecurityOverrides"] = [
                {"Rule": rule, "Reason": reason} for rule, reason in self.identity.security_overrides
            ]
        if self.identity.lifecycle_exceptions:
            streamflix["LifecycleExceptions"] = [
                {"Resource": resource, "Phase": phase, "Reason": reason}
                for resource, phase, reason in self.identity.lifecycle_exceptions
            ]
        if self._wiring:
            streamflix["Wiring"] = dict(self._wiring)
        if self._security_notes:
            streamflix["SecurityNotes"] = list(self._security_notes)
        if self._follow_up_updates:
            streamflix["FollowUpUpdates"] = [
                {"Parameter": name, **entry} for name, entry in self._follow_up_updates.items()
            ]
        return {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": group}, "Parameters": names}
                    for group, names in self._parameter_groups.items()
                ],
                "ParameterLabels": {name: {"default": label} for name, label in self._parameter_labels.items()},
            },
            "StreamFlix": streamflix,
        }

    def _apply_tags(self) -> None:
        standard = self.standard_tags()
        for resource in self.template.resources.values():
            prop = _TAG_PROPERTY_ALIASES.get(resource.resource_type, "Tags")
            if prop not in resource.props:
                continue
            existing = resource.properties.get(prop)
            expected_type = resource.props[prop][0]
            if expected_type is dict or (isinstance(expected_type, tuple) and dict in expected_type and Tags not in expected_type):
                merged = dict(standard)
                if isinstance(existing, dict):
                    merged.update(existing)
                resource.properties[prop] = merged
                continue
            merged_tags = Tags(**standard)
            if isinstance(existing, Tags):
                own_keys = {tag["Key"] for tag in existing.tags}
                merged_tags.tags = [t for t in merged_tags.tags if t["Key"] not in own_keys] + existing.tags
            resource.properties[prop] = merged_tags


def create_template(
    env: EnvironmentConfig, *, blueprint: str, region: str, description: str, name_keys: list[str]
) -> StackTemplate:
    """The one entry point for a new template; ``name_keys`` are the physical-name
    rules (config.naming) the stack uses, which bound the suffix's length."""
    return StackTemplate(
        identity=StackIdentity(
            blueprint=blueprint,
            environment=env.name,
            tier=env.tier,
            region=region,
            project=env.project,
            catalog_snapshot=load_catalog().snapshot_date,
            security_overrides=tuple((o.rule, o.reason) for o in env.security_overrides),
            lifecycle_exceptions=tuple(
                (e.resource, e.phase, e.reason) for e in env.lifecycle_exceptions if e.stack == blueprint
            ),
        ),
        description=description,
        suffix_default=env.environment_suffix,
        suffix_max_length=suffix_max_length(env.project, name_keys),
        extra_tags=dict(env.tags),
    )


def _one_line_reason(reason: str, check: str) -> str:
    if not reason.strip() or "\n" in reason:
        raise ValueError(f"suppressing {check} needs a one-line reason")
    return reason.strip()


def protect(resource: AWSObject, policy: str = "Snapshot", *, keep_on_failed_create: bool = False) -> AWSObject:
    """Keep a stateful resource's data on delete AND on replacement.

    ``Retain`` is written as ``DeletionPolicy: RetainExceptOnCreate``: it keeps the
    resource on delete and on removal like Retain, but a failed create's rollback
    deletes it (it holds no data yet), so the retry does not collide with it and
    nothing is left to clean up by hand. ``keep_on_failed_create`` writes plain
    Retain for a resource the rollback could not delete anyway (e.g. a bucket a
    service has already written to). UpdateReplacePolicy has no such variant.
    """
    if policy not in ("Snapshot", "Retain"):
        raise ValueError("stateful resources are protected with Snapshot or Retain")
    resource.DeletionPolicy = "RetainExceptOnCreate" if policy == "Retain" and not keep_on_failed_create else policy
    resource.UpdateReplacePolicy = policy
    return resource
