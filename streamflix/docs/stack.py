"""What every operator document is generated from: the rendered templates, read back.

A document must never say something the template does not: so each generator
starts from ``StackFacts`` (one rendered template parsed with the
CloudFormation-aware loader, plus the few facts a template cannot hold: the
project prefix and the deployed stack name) and ``EnvironmentFacts`` (every
stack of the environment and how they are wired to each other).

Wiring is how a recovery-style stack takes values from another stack's outputs
(CloudFormation exports do not cross regions). Documents read it the one way the
build does, ``wiring.wired_parameters``: ``Metadata.StreamFlix.Wiring`` in the
rendered template, ``{Parameter: {FromStack: <blueprint>, Output: <OutputKey>,
Resolve: <how>}}``, which ``StackTemplate.add_wired_parameter`` writes. Nothing
is guessed from parameter and output names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from streamflix.catalog.limits import partition_of, url_suffix_of
from streamflix.cfn import Reference, is_intrinsic, is_true, parameter_text, ref_name, sub_parts, value_when_present, walk_references  # parameter_text: docs import it from here too
from streamflix.checks.rules.base import value_after_follow_up_updates
from streamflix.config.naming import stack_name as default_stack_name
from streamflix.render import RenderedStack, shared_template
from streamflix.template import WIRE_FROM_EFS_REPLICATION, WIRE_FROM_OUTPUT
from streamflix.wiring import creation_order, wired_parameters

if TYPE_CHECKING:
    from streamflix.config.models import EnvironmentConfig

#: How a wired parameter's value is read from its source stack (the template factory's names).
RESOLVE_OUTPUT = WIRE_FROM_OUTPUT
RESOLVE_EFS_DESTINATION = WIRE_FROM_EFS_REPLICATION


def replication_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """An EFS file system's ``ReplicationConfiguration``, also when a condition switches it on
    (``Fn::If [cond, config, AWS::NoValue]``: replication starts once the recovery side is wired)."""
    value = value_when_present(props.get("ReplicationConfiguration"))
    return value if isinstance(value, dict) and "Fn::If" not in value else {}

#: CloudFormation refuses an inline TemplateBody above this many bytes.
INLINE_TEMPLATE_LIMIT = 51_200

#: Resource types whose ``Ref`` is the physical name, and the property that sets it.
REF_IS_NAME: dict[str, str] = {
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::ElastiCache::SubnetGroup": "CacheSubnetGroupName",
    "AWS::ElastiCache::User": "UserId",
    "AWS::ElastiCache::UserGroup": "UserGroupId",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
}

#: IAM resource types, and the property that gives each a custom (named) identity.
IAM_NAME_PROPERTIES: dict[str, str | None] = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::RolePolicy": None,
    "AWS::IAM::UserPolicy": None,
    "AWS::IAM::GroupPolicy": None,
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::UserToGroupAddition": None,
}

#: Where a wire was read (the runbook names it).
_WIRED_IN_TEMPLATE = "template metadata (Metadata.StreamFlix.Wiring)"
#: Every ``${...}`` of a Sub text, ``${!Literal}`` included (resolving writes it as ``${Literal}``).
_SUB_TOKEN = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Wire:
    """A parameter whose value comes from another stack's output."""

    parameter: str
    source_blueprint: str
    output: str
    resolve: str
    detected_by: str


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None
    description: str
    allowed_pattern: str | None
    allowed_values: tuple[str, ...]
    no_echo: bool


@lru_cache(maxsize=64)
def _parse(stack: RenderedStack) -> dict[str, Any]:
    return shared_template(stack.text)


@dataclass
class StackFacts:
    """One rendered template, read back, and the name it deploys under."""

    stack: RenderedStack
    project: str
    wires: dict[str, Wire] = field(default_factory=dict)

    @cached_property
    def template(self) -> dict[str, Any]:
        return _parse(self.stack)

    # -- identity -------------------------------------------------------

    @property
    def metadata(self) -> dict[str, Any]:
        return (self.template.get("Metadata") or {}).get("StreamFlix") or {}

    @property
    def blueprint(self) -> str:
        """The registry's name for the stack (what the build named it), which keys everything else."""
        return self.stack.blueprint

    @property
    def environment(self) -> str:
        return str(self.metadata.get("Environment", ""))

    @property
    def region(self) -> str:
        return str(self.metadata.get("Region") or self.stack.region)

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @property
    def description(self) -> str:
        return str(self.template.get("Description", ""))

    @property
    def suffix(self) -> str:
        """The EnvironmentSuffix this document assumes: the parameter's default."""
        return self.parameter_default("EnvironmentSuffix") or ""

    @property
    def stack_name(self) -> str:
        return default_stack_name(self.project, self.suffix, self.blueprint)

    @property
    def filename(self) -> str:
        return self.stack.filename

    @property
    def size_bytes(self) -> int:
        return len(self.stack.text.encode("utf-8"))

    @property
    def needs_s3_upload(self) -> bool:
        return self.size_bytes > INLINE_TEMPLATE_LIMIT

    # -- sections -------------------------------------------------------

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources") or {}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Outputs") or {}

    @cached_property
    def parameters(self) -> list[Parameter]:
        result = []
        for name, body in (self.template.get("Parameters") or {}).items():
            default = body.get("Default")
            result.append(
                Parameter(
                    name=name,
                    type=str(body.get("Type", "String")),
                    default=None if default is None else parameter_text(default),
                    description=str(body.get("Description", "")),
                    allowed_pattern=body.get("AllowedPattern"),
                    allowed_values=tuple(parameter_text(v) for v in body.get("AllowedValues", []) or []),
                    no_echo=is_true(body.get("NoEcho", "false")),
                )
            )
        return result

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def parameter_default(self, name: str) -> str | None:
        parameter = self.parameter(name)
        return parameter.default if parameter else None

    def known_at_deploy_only(self, name: str) -> bool:
        """Whether parameter ``name``'s value is only known when the stack is deployed, so its default
        is not what runs: it has no default or an empty one (the parameter files make the operator
        fill it, or an update fills it later), or another stack's output fills it (wired, per
        ``wiring.wired_parameters``)."""
        return not self.parameter_default(name) or name in self.wires

    def type_of(self, logical_id: str) -> str:
        return str(self.resources[logical_id].get("Type", ""))

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    def of_type(self, *types: str) -> list[str]:
        """Logical IDs of the resources of these types, in template order."""
        return [rid for rid, body in self.resources.items() if body.get("Type") in types]

    def has_type(self, *types: str) -> bool:
        return bool(self.of_type(*types))

    def iter_resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for rid, body in self.resources.items():
            yield rid, str(body.get("Type", "")), body.get("Properties") or {}

    # -- values ---------------------------------------------------------

    def after_follow_up_updates(self, value: Any) -> Any:
        """``value`` as the stack stands once the follow-up updates its runbook documents have run
        (``Metadata.StreamFlix.FollowUpUpdates``: deletion protection is created off and switched on
        right after the create). A runbook describes the stack an operator finds in that state."""
        return value_after_follow_up_updates(self.template, value)

    def switched_on(self, value: Any) -> bool:
        """Whether a Boolean property is on once the follow-up updates have run."""
        return is_true(self.resolve(self.after_follow_up_updates(value)))

    def whole_number(self, value: Any) -> int | None:
        """``value`` as a whole number once resolved (a count, a size), else None: known only at deploy time."""
        resolved = self.resolve(value)
        return int(resolved) if resolved is not None and resolved.isdigit() else None

    def resolve(self, value: Any, runtime: Mapping[str, str] | None = None) -> str | None:
        """A template value as a concrete string, or None when only AWS knows it.

        Parameters resolve to their defaults where the default is what is deployed (not for one
        ``known_at_deploy_only``: the reader is shown ``!Ref Name`` instead of an empty or
        replaced default); pseudo parameters to this stack's
        region, partition and name; ``runtime`` may stand in for the rest (e.g.
        ``{"AWS::AccountId": "$AWS_ACCOUNT_ID"}`` for a shell variable). A ``Ref``
        to a resource resolves when its physical name is set in the template.
        """
        runtime = runtime or {}
        if isinstance(value, bool) or isinstance(value, (int, float, str)):
            return parameter_text(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._resolve_name(str(argument), runtime)
        if function == "Fn::Sub":
            text, variables = sub_parts(argument)
            return self._resolve_sub(text, variables, runtime)
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            parts = [self.resolve(item, runtime) for item in argument[1]] if isinstance(argument[1], list) else None
            if parts is None or any(p is None for p in parts):
                return None
            return str(argument[0]).join(parts)  # type: ignore[arg-type]
        if function == "Fn::Select" and isinstance(argument, list) and len(argument) == 2:
            items = argument[1]
            if isinstance(items, list):
                index = self.resolve(argument[0], runtime)
                if index is not None and index.isdigit() and int(index) < len(items):
                    return self.resolve(items[int(index)], runtime)
        return None

    def _resolve_name(self, name: str, runtime: Mapping[str, str]) -> str | None:
        if name in runtime:
            return runtime[name]
        pseudo = {
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": url_suffix_of(self.region),
        }
        if name in pseudo:
            return pseudo[name]
        if name in (self.template.get("Parameters") or {}):
            return None if self.known_at_deploy_only(name) else self.parameter_default(name)
        if name in self.resources:
            return self.physical_name(name, runtime)
        return None

    def _resolve_sub(self, text: str, variables: Mapping[str, Any], runtime: Mapping[str, str]) -> str | None:
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                resolved = self.resolve(variables[name], runtime)
            elif "." in name and name.split(".", 1)[0] in self.resources:
                resolved = None  # a GetAtt: only AWS knows it
            else:
                resolved = self._resolve_name(name, runtime)
            if resolved is None:
                unresolved = True
                return ""
            return resolved

        result = _SUB_TOKEN.sub(replace, str(text))
        return None if unresolved else result

    def physical_name(self, logical_id: str, runtime: Mapping[str, str] | None = None) -> str | None:
        """The physical name set in the template (with the suffix default), or None."""
        prop = REF_IS_NAME.get(self.type_of(logical_id))
        if prop is None or prop not in self.props(logical_id):
            return None
        return self.resolve(self.props(logical_id)[prop], runtime)

    def output_of(self, logical_id: str, attribute: str | None = None) -> str | None:
        """The output whose value is ``Ref`` (or ``GetAtt .attribute``) of this resource."""
        wanted = Reference("GetAtt" if attribute else "Ref", logical_id, attribute)
        for name, body in self.outputs.items():
            value = body.get("Value")
            if is_intrinsic(value) and next(iter(value)) in ("Ref", "Fn::GetAtt") and next(walk_references(value), None) == wanted:
                return name
        return None

    def cluster_members(self, cluster: str) -> list[str]:
        """The DB instances of Aurora cluster ``cluster`` (their ``DBClusterIdentifier`` is its ``Ref``), in template order."""
        return [m for m in self.of_type("AWS::RDS::DBInstance") if ref_name(self.props(m).get("DBClusterIdentifier")) == cluster]

    def output_value_literal(self, name: str) -> str | None:
        body = self.outputs.get(name)
        return None if body is None else self.resolve(body.get("Value"))

    def export_name(self, output: str) -> str | None:
        export = (self.outputs.get(output) or {}).get("Export") or {}
        return self.resolve(export.get("Name")) if export else None

    # -- deployment facts ----------------------------------------------

    @property
    def iam_resources(self) -> list[str]:
        return self.of_type(*IAM_NAME_PROPERTIES)

    @property
    def capabilities(self) -> list[str]:
        """What ``--capabilities`` must acknowledge, read from the resources present."""
        named = any(
            IAM_NAME_PROPERTIES[self.type_of(rid)] in self.props(rid)
            for rid in self.iam_resources
            if IAM_NAME_PROPERTIES[self.type_of(rid)]
        )
        capabilities = []
        if self.iam_resources:
            capabilities.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
        if self.template.get("Transform") or self.has_type("AWS::CloudFormation::Macro"):
            capabilities.append("CAPABILITY_AUTO_EXPAND")
        return capabilities

    @property
    def stateful(self) -> list[str]:
        """Resources that keep data when the stack goes: their DeletionPolicy says so."""
        return [
            rid
            for rid, body in self.resources.items()
            if body.get("DeletionPolicy") in ("Snapshot", "Retain", "RetainExceptOnCreate")
        ]


@dataclass
class EnvironmentFacts:
    """Every stack of one environment, and the wiring between them."""

    config: "EnvironmentConfig"
    stacks: dict[str, StackFacts]

    @classmethod
    def build(cls, config: "EnvironmentConfig", rendered: Sequence[RenderedStack]) -> "EnvironmentFacts":
        stacks = {stack.blueprint: StackFacts(stack=stack, project=config.project) for stack in rendered}
        for wired in wired_parameters(rendered):
            stacks[wired.stack].wires[wired.parameter] = Wire(
                wired.parameter, wired.source_stack, wired.source_output, wired.resolve, _WIRED_IN_TEMPLATE
            )
        return cls(config=config, stacks=stacks)

    def __getitem__(self, blueprint: str) -> StackFacts:
        return self.stacks[blueprint]

    def sources_of(self, blueprint: str) -> list[StackFacts]:
        """Stacks this one takes parameters from."""
        names = dict.fromkeys(w.source_blueprint for w in self.stacks[blueprint].wires.values())
        return [self.stacks[name] for name in names if name in self.stacks]

    def dependents_of(self, blueprint: str) -> list[StackFacts]:
        """Stacks that take parameters from this one."""
        return [
            stack
            for name, stack in self.stacks.items()
            if name != blueprint and any(w.source_blueprint == blueprint for w in stack.wires.values())
        ]

    def partners_of(self, blueprint: str) -> list[StackFacts]:
        seen = {s.blueprint: s for s in [*self.sources_of(blueprint), *self.dependents_of(blueprint)]}
        return list(seen.values())

    def required_wires(self, blueprint: str) -> list[Wire]:
        """Wires of parameters without a default: the stack cannot deploy before its source."""
        stack = self.stacks[blueprint]
        return [w for w in stack.wires.values() if stack.parameter_default(w.parameter) is None]

    def optional_wires(self, blueprint: str) -> list[Wire]:
        """Wires of parameters with a default: filled by a later update once the source exists."""
        stack = self.stacks[blueprint]
        return [w for w in stack.wires.values() if stack.parameter_default(w.parameter) is not None]

    def deploy_order(self) -> list[str]:
        """Blueprints in an order where every required source deploys before its dependents
        (``wiring.creation_order``: a cycle is refused, as ``wiring.json`` refuses it)."""
        return creation_order(
            {name: {wire.source_blueprint for wire in self.required_wires(name)} for name in self.stacks}
        )


def rto_minutes(env: EnvironmentFacts, blueprint: str, default: int = 15) -> tuple[int, str]:
    """The recovery time objective and where it was read: the template, a partner's, or the default.

    The DR blueprints write the config's ``rto_minutes`` into both templates; documents
    read it there (they never look a config section up through the blueprint registry)."""
    stack = env[blueprint]
    for candidate in [stack, *env.partners_of(blueprint)]:
        declared = candidate.metadata.get("RecoveryTimeObjectiveMinutes")
        if declared is not None and str(declared).isdigit():
            return int(declared), f"{candidate.filename} Metadata.StreamFlix.RecoveryTimeObjectiveMinutes"
        literal = candidate.output_value_literal("RecoveryTimeObjectiveMinutes")
        if literal is not None and literal.isdigit():
            return int(literal), f"{candidate.filename} output RecoveryTimeObjectiveMinutes"
    return default, "default (no RTO in the templates)"
