"""Every suppression a rendered template carries, read back from its resources' Metadata.

The build prints them and the compliance report lists them, so a silenced
check is always visible next to its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: Where StackTemplate.suppress_lint keeps each cfn-lint ignore's reason.
LINT_REASONS_KEY = "StreamFlixLintSuppressions"


@dataclass(frozen=True, order=True)
class Suppression:
    """One check silenced on one resource: ``tool`` is cfn-lint or checkov."""

    file: str
    resource: str
    tool: Literal["cfn-lint", "checkov"]
    check: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} {self.resource}: {self.tool} {self.check} suppressed: {self.reason or '(no reason)'}"


def suppressions_in(template: dict[str, Any], filename: str) -> list[Suppression]:
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        metadata = resource.get("Metadata") if isinstance(resource, dict) else None
        if not isinstance(metadata, dict):
            continue
        reasons = metadata.get(LINT_REASONS_KEY) or {}
        for rule_id in ((metadata.get("cfn-lint") or {}).get("config") or {}).get("ignore_checks") or []:
            found.append(Suppression(filename, logical_id, "cfn-lint", str(rule_id), str(reasons.get(rule_id, ""))))
        for skip in (metadata.get("checkov") or {}).get("skip") or []:
            if isinstance(skip, dict):
                found.append(Suppression(filename, logical_id, "checkov", str(skip.get("id")), str(skip.get("comment", ""))))
    return sorted(found)
