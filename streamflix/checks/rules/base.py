"""Base of the project's own rules: each judges one rendered template, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

from streamflix.checks.findings import Finding


@dataclass(frozen=True)
class RuleContext:
    """What a rule may know besides the template: its file and its region."""

    filename: str
    region: str


class Rule:
    """One guarantee, one id. Subclasses implement ``violations``."""

    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    severity: ClassVar[str] = "error"

    def check(self, template: dict[str, Any], ctx: RuleContext) -> list[Finding]:
        return [
            Finding(ctx.filename, _line(node), self.id, self.severity, message)  # type: ignore[arg-type]
            for node, message in self.violations(template, ctx)
        ]

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        """Yield (node, message) per problem; the node gives the line number."""
        raise NotImplementedError


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else 1


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
