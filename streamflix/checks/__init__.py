"""Validation of rendered templates: cfn-lint plus the project's own rules.

Checks read rendered text only (never config or troposphere objects), so they
judge exactly what would be deployed.
"""

from __future__ import annotations

from typing import Any

from streamflix.checks.findings import Finding
from streamflix.checks.lint import run_cfn_lint
from streamflix.checks.rules import ALL_RULES, RuleContext
from streamflix.render import load_template


def run_rules(
    template: dict[str, Any], *, region: str, filename: str, body_bytes: int | None = None
) -> list[Finding]:
    """Every project rule on one parsed template; ``body_bytes`` is the rendered size (for SF2007)."""
    ctx = RuleContext(filename=filename, region=region, body_bytes=body_bytes)
    return sorted(f for rule in ALL_RULES for f in rule.check(template, ctx))


def validate(text: str, *, region: str, filename: str, lint: bool = True) -> list[Finding]:
    """Every finding for one rendered template: our rules always, cfn-lint unless ``lint`` is off."""
    findings = run_rules(load_template(text), region=region, filename=filename, body_bytes=len(text.encode("utf-8")))
    if lint:
        findings += run_cfn_lint(text, region=region, filename=filename)
    return sorted(findings)


__all__ = ["Finding", "run_cfn_lint", "run_rules", "validate"]
