"""Base of the project's own rules: each judges one rendered template, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

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


def ref_target(value: Any) -> str | None:
    """'X' for {'Ref': 'X'} (or a GetAtt on X), else None."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            if isinstance(target, list) and target:
                return str(target[0])
            if isinstance(target, str):
                return target.split(".")[0]
    return None


def is_true(value: Any) -> bool:
    """CloudFormation accepts true and "true" (any case) for a Boolean property."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


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
        body = value["Fn::Sub"]
        if isinstance(body, list) and body:
            body = body[0]
        return body if isinstance(body, str) else None
    return None


def stack_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """``Metadata.StreamFlix``: what the template says about itself (tier, region, overrides)."""
    metadata = template.get("Metadata")
    own = metadata.get("StreamFlix") if isinstance(metadata, dict) else None
    return own if isinstance(own, dict) else {}


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
            target = ref_target(props.get(key))
            if target in groups:
                found[target] = f"flow log {logical_id}"
    for logical_id, trail in resources(template, "AWS::CloudTrail::Trail"):
        target = ref_target(properties(trail).get("CloudWatchLogsLogGroupArn"))
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
        if ref_target(gateway) in gateways or (isinstance(gateway, str) and gateway.startswith("igw-")):
            internet_tables.add(ref_target(props.get("RouteTableId")))
    return {
        ref_target(properties(assoc).get("SubnetId"))
        for _, assoc in resources(template, "AWS::EC2::SubnetRouteTableAssociation")
        if ref_target(properties(assoc).get("RouteTableId")) in internet_tables
    } - {None}
