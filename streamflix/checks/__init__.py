"""Validation of rendered templates: cfn-lint plus the project's own rules.

Checks read rendered text only (never config or troposphere objects), so they
judge exactly what would be deployed. Verdicts are cached (see ``cache``).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from streamflix.checks.cache import load_verdict, store_verdict
from streamflix.checks.findings import Finding
from streamflix.checks.lint import run_cfn_lint
from streamflix.checks.rules import ALL_RULES, RuleContext
from streamflix.render import shared_template


def run_rules(
    template: dict[str, Any], *, region: str, filename: str, body_bytes: int | None = None
) -> list[Finding]:
    """Every project rule on one parsed template; ``body_bytes`` is the rendered size (for SF2007)."""
    ctx = RuleContext(filename=filename, region=region, body_bytes=body_bytes)
    return sorted(f for rule in ALL_RULES for f in rule.check(template, ctx))


def validate(text: str, *, region: str, filename: str, lint: bool = True, use_cache: bool = True) -> list[Finding]:
    """Every finding for one rendered template: our rules always, cfn-lint unless ``lint`` is off."""
    cached = load_verdict(text, region, lint) if use_cache else None
    if cached is not None:
        return sorted(Finding(**dict(item, file=filename)) for item in cached)
    findings = run_rules(shared_template(text), region=region, filename=filename, body_bytes=len(text.encode("utf-8")))
    if lint:
        findings += run_cfn_lint(text, region=region, filename=filename)
    findings.sort()
    if use_cache:
        store_verdict(text, region, lint, [asdict(replace(f, file="")) for f in findings])
    return findings


def is_cached(text: str, region: str, lint: bool) -> bool:
    return load_verdict(text, region, lint) is not None


__all__ = ["Finding", "is_cached", "run_cfn_lint", "run_rules", "validate"]
