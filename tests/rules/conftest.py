"""Shared helpers for the rule tests: parse a YAML snippet, run every rule, keep one id."""

from __future__ import annotations

import textwrap
from typing import Callable

import pytest

from streamflix.checks import Finding, run_rules
from streamflix.render import load_template

DEFAULT_REGION = "eu-central-1"
FILENAME = "snippet.yaml"


def _findings(text: str, rule_id: str, region: str = DEFAULT_REGION) -> list[Finding]:
    template = load_template(textwrap.dedent(text))
    return [f for f in run_rules(template, region=region, filename=FILENAME) if f.rule == rule_id]


def _line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first line containing ``needle`` (after the line containing ``after``)."""
    lines = textwrap.dedent(text).splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line) + 1
    for number, line in enumerate(lines[start:], start=start + 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in template")


@pytest.fixture
def rule_findings() -> Callable[..., list[Finding]]:
    """``rule_findings(yaml_text, "SF100x", region=...)`` -> that rule's findings."""
    return _findings


@pytest.fixture
def line_of() -> Callable[..., int]:
    """``line_of(yaml_text, needle, after=None)`` -> 1-based line number."""
    return _line_of


def _environment_findings(texts: dict[str, str], rule_id: str) -> list[Finding]:
    """Run one deploy-model rule (SF3xxx) over several stacks: {stack name: YAML text}."""
    from streamflix.checks.rules import ENVIRONMENT_RULES, StackView

    stacks = [StackView(name, DEFAULT_REGION, f"{name}.yaml", load_template(textwrap.dedent(text)))
              for name, text in texts.items()]
    rule = next(r for r in ENVIRONMENT_RULES if r.id == rule_id)
    return rule.check(stacks)


@pytest.fixture
def environment_findings() -> Callable[..., list[Finding]]:
    """``environment_findings({"dr-primary": yaml, "dr-recovery": yaml}, "SF3001")`` -> that rule's findings."""
    return _environment_findings
