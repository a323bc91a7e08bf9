"""Every rule is well-formed and has its own test file here (so a new rule without tests fails)."""

import re
from pathlib import Path

import pytest

from streamflix.checks.rules import ALL_RULES, ENVIRONMENT_RULES, EnvironmentRule, Rule

HERE = Path(__file__).parent
RULE_IDS = [rule.id for rule in ALL_RULES + ENVIRONMENT_RULES]


def test_there_are_rules():
    assert ALL_RULES
    assert all(isinstance(rule, Rule) for rule in ALL_RULES)
    assert all(isinstance(rule, EnvironmentRule) for rule in ENVIRONMENT_RULES)


def test_ids_are_unique():
    assert len(RULE_IDS) == len(set(RULE_IDS))


@pytest.mark.parametrize("rule", ALL_RULES + ENVIRONMENT_RULES, ids=RULE_IDS)
def test_rule_metadata(rule):
    assert re.fullmatch(r"SF\d{4}", rule.id)
    assert isinstance(rule.title, str) and rule.title.strip()
    assert isinstance(rule.description, str) and rule.description.strip()
    assert rule.severity in ("error", "warning", "informational")
    base = Rule if isinstance(rule, Rule) else EnvironmentRule
    assert type(rule).violations is not base.violations, f"{rule.id} does not implement violations"


@pytest.mark.parametrize("rule", ENVIRONMENT_RULES, ids=[r.id for r in ENVIRONMENT_RULES])
def test_deploy_model_rules_quote_the_aws_documentation(rule):
    doc = __import__(type(rule).__module__, fromlist=["_"]).__doc__ or ""
    assert re.fullmatch(r"SF3\d{3}", rule.id)
    assert "AWS documentation" in doc and '"' in doc, f"{rule.id}: its module docstring must quote the AWS docs"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_has_a_test_file(rule_id):
    matches = [p.name for p in HERE.glob("test_*.py") if rule_id.lower() in p.name]
    assert matches, f"no tests/rules/test_*{rule_id.lower()}*.py for rule {rule_id}"
