from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, resources
from streamflix.checks.suppressions import LINT_REASONS_KEY


class SuppressionsAreExplained(Rule):
    id = "SF2008"
    title = "Every suppression is scoped to one resource and explained"
    description = (
        "A cfn-lint ignore lives in one resource's Metadata with its reason under "
        f"{LINT_REASONS_KEY}; a checkov skip lives in one resource's Metadata.checkov.skip with a "
        "comment; nothing is silenced template-wide. Suppressions are made with "
        "StackTemplate.suppress_lint / suppress_scan, and the build lists them all."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        metadata = template.get("Metadata")
        if isinstance(metadata, dict):
            for tool in ("cfn-lint", "checkov"):
                if tool in metadata:
                    yield metadata, f"template-level {tool} configuration silences every resource; suppress per resource"
        for logical_id, resource in resources(template):
            own = resource.get("Metadata")
            if not isinstance(own, dict):
                continue
            reasons = own.get(LINT_REASONS_KEY) or {}
            ignored = ((own.get("cfn-lint") or {}).get("config") or {}).get("ignore_checks") or []
            for rule_id in ignored:
                if not str(reasons.get(rule_id, "")).strip():
                    yield own, f"{logical_id} ignores cfn-lint {rule_id} without a reason in {LINT_REASONS_KEY}"
            for skip in (own.get("checkov") or {}).get("skip") or []:
                if not isinstance(skip, dict) or not str(skip.get("comment", "")).strip():
                    check = skip.get("id") if isinstance(skip, dict) else skip
                    yield own, f"{logical_id} skips checkov {check} without a comment saying why"
