"""Base of the project's own rules: each judges one rendered template, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator, Mapping

from streamflix.cfn import is_true, ref_name, sub_parts, target_of  # noqa: F401  (is_true re-exported: the rules import it from here)
from streamflix.checks.findings import Finding


@dataclass(frozen=True)
class RuleContext:
    """What a rule may know besides the template: its file, its region and,
    when the rendered text is at hand, its size in bytes (None when unknown)."""

    filename: str
    region: str
    body_bytes: int | None = None


class Rule:
    """One guarantee, one id. Subclasses implement ``violations``."""

    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    severity: ClassVar[str] = "error"

    def check(self, template: dict[str, Any], ctx: RuleContext) -> list[Finding]:
        return [
            Finding(ctx.filename, _line(node), self.id, self.severity, message, _column(node))  # type: ignore[arg-type]
            for node, message in self.violations(template, ctx)
        ]

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        """Yield (node, message) per problem; the node gives the line number."""
        raise NotImplementedError


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else 1


def _column(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return mark.column + 1 if mark is not None else 0


def resources(template: dict[str, Any], *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in (template.get("Resources") or {}).items():
        if isinstance(resource, dict) and (not types or resource.get("Type") in types):
            yield logical_id, resource


def properties(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return props if isinstance(props, dict) else {}


def as_int(value: Any) -> int | None:
    """CloudFormation accepts 30 and "30" for an Integer property."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def as_list(value: Any) -> list[Any]:
    """IAM and CloudFormation accept a single value where a list is meant."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def literal_text(value: Any) -> str | None:
    """The text of a literal or of an ``Fn::Sub`` template (its ``${...}`` left in), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text, _ = sub_parts(value["Fn::Sub"])
        return text if isinstance(text, str) else None
    return None


def stack_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """``Metadata.StreamFlix``: what the template says about itself (tier, region, overrides)."""
    metadata = template.get("Metadata")
    own = metadata.get("StreamFlix") if isinstance(metadata, dict) else None
    return own if isinstance(own, dict) else {}


def follow_up_updates(template: dict[str, Any]) -> list[dict[str, Any]]:
    """``Metadata.StreamFlix.FollowUpUpdates``: the stack updates its runbook has the operator run
    right after the create, each ``{"Parameter", "Value", "Reason"}`` (deletion protection is
    created off so that a failed create can roll back, then switched on)."""
    entries = stack_metadata(template).get("FollowUpUpdates") or []
    return [entry for entry in entries if isinstance(entry, dict) and "Parameter" in entry]


def value_after_follow_up_updates(template: dict[str, Any], value: Any) -> Any:
    """A property's value once the follow-up updates ran: a ``Ref`` to a parameter one of them
    sets takes that update's value; anything else stays as it is."""
    name = ref_name(value)
    if name is None:
        return value
    for entry in follow_up_updates(template):
        if entry["Parameter"] == name:
            return entry.get("Value")
    return value


def security_overrides(template: dict[str, Any]) -> dict[str, str]:
    """{floor: reason} from ``Metadata.StreamFlix.SecurityOverrides``."""
    entries = stack_metadata(template).get("SecurityOverrides") or []
    return {
        str(entry.get("Rule")): str(entry.get("Reason", ""))
        for entry in entries
        if isinstance(entry, dict) and entry.get("Rule")
    }


def audit_log_groups(template: dict[str, Any]) -> dict[str, str]:
    """Log groups that hold audit evidence, {logical id: what writes to it}: the
    destinations of VPC flow logs and CloudTrail trails in this template."""
    found: dict[str, str] = {}
    groups = {logical_id for logical_id, _ in resources(template, "AWS::Logs::LogGroup")}
    for logical_id, flow_log in resources(template, "AWS::EC2::FlowLog"):
        props = properties(flow_log)
        for key in ("LogGroupName", "LogDestination"):
            target = target_of(props.get(key))
            if target in groups:
                found[target] = f"flow log {logical_id}"
    for logical_id, trail in resources(template, "AWS::CloudTrail::Trail"):
        target = target_of(properties(trail).get("CloudWatchLogsLogGroupArn"))
        if target in groups:
            found[target] = f"trail {logical_id}"
    return found


def public_subnets(template: dict[str, Any]) -> set[str]:
    """Subnets whose route table sends 0.0.0.0/0 (or ::/0) to an internet gateway."""
    gateways = {logical_id for logical_id, _ in resources(template, "AWS::EC2::InternetGateway")}
    internet_tables = set()
    for _, route in resources(template, "AWS::EC2::Route"):
        props = properties(route)
        if props.get("DestinationCidrBlock") != "0.0.0.0/0" and props.get("DestinationIpv6CidrBlock") != "::/0":
            continue
        gateway = props.get("GatewayId")
        if target_of(gateway) in gateways or (isinstance(gateway, str) and gateway.startswith("igw-")):
            internet_tables.add(target_of(props.get("RouteTableId")))
    return {
        target_of(properties(assoc).get("SubnetId"))
        for _, assoc in resources(template, "AWS::EC2::SubnetRouteTableAssociation")
        if target_of(properties(assoc).get("RouteTableId")) in internet_tables
    } - {None}


# -- The deploy model: rules over an environment's templates taken together ----


@dataclass(frozen=True)
class StackView:
    """One rendered stack of an environment, as the deploy model sees it."""

    name: str
    region: str
    filename: str
    template: dict[str, Any]


class EnvironmentRule:
    """A guarantee about what CloudFormation and AWS do with an environment's stacks
    (create, failed-create rollback, delete, second create, failover). Unlike a
    ``Rule`` it sees every stack of the environment, because some failures span
    the pair (a replica in one region, its source in the other). SF3xxx.

    Subclasses implement ``violations`` yielding (stack, node, message)."""

    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    severity: ClassVar[str] = "error"

    def check(self, stacks: list[StackView]) -> list[Finding]:
        return sorted(
            Finding(stack.filename, _line(node), self.id, self.severity, message)  # type: ignore[arg-type]
            for stack, node, message in self.violations(stacks)
        )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        raise NotImplementedError


def wired_source(stacks: list[StackView], stack: StackView, value: Any) -> tuple[StackView, str] | None:
    """(source stack, logical id) of the resource a wired parameter's value comes from.

    ``value`` is a ``Ref`` to a parameter listed in ``Metadata.StreamFlix.Wiring``;
    the source stack's output of that name is followed to the resource it names.
    """
    parameter = target_of(value)
    wiring = stack_metadata(stack.template).get("Wiring") or {}
    source = wiring.get(parameter) if parameter else None
    if not isinstance(source, dict):
        return None
    for other in stacks:
        if other.name != source.get("FromStack"):
            continue
        output = (other.template.get("Outputs") or {}).get(source.get("Output"))
        target = target_of(output.get("Value")) if isinstance(output, dict) else None
        if target in (other.template.get("Resources") or {}):
            return other, target
    return None


def created_after(graph: Mapping[str, Iterable[str]], logical_id: str) -> set[str]:
    """Everything ``logical_id`` transitively waits for at create time."""
    seen: set[str] = set()
    pending = list(graph.get(logical_id, ()))
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(graph.get(current, ()))
    return seen
