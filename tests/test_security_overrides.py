"""Config that would weaken prod is refused, or accepted only with a reasoned override the template carries."""

from __future__ import annotations

import pytest
import yaml

from streamflix import ConfigError, load_template, parse_config, render_environment
from streamflix.checks import run_rules

REASON = "Read-only archive copy, restore tested quarterly; ticket SEC-42"


def prod(database=None, network=None, overrides=None) -> str:
    data = {
        "name": "p1", "tier": "prod", "environment_suffix": "p1",
        "ha_database": {"database": database or {}, "network": network or {},
                        "observability": {"existing_alarm_topic": True}},
    }
    if overrides is not None:
        data["security_overrides"] = overrides
    return yaml.safe_dump(data, sort_keys=False)


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="p.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("database", "network", "field", "allowed"),
    [
        ({"deletion_protection": False}, None, "ha_database.database.deletion_protection = False", "true, or a security_overrides entry {rule: deletion-protection"),
        ({"backup_retention_days": 3}, None, "ha_database.database.backup_retention_days = 3", ">= 7, or a security_overrides entry {rule: backup-retention"),
        (None, {"flow_log_retention_days": 30}, "ha_database.network.flow_log_retention_days = 30", ">= 365, or a security_overrides entry {rule: audit-log-retention"),
    ],
)
def test_weakening_prod_is_refused_naming_field_value_and_allowed(database, network, field, allowed):
    message = refused(prod(database, network))
    assert field in message and "prod keeps" in message and f"allowed: {allowed}" in message


@pytest.mark.parametrize(
    ("database", "network", "rule"),
    [
        ({"deletion_protection": False}, None, "deletion-protection"),
        ({"backup_retention_days": 3}, None, "backup-retention"),
        (None, {"flow_log_retention_days": 30}, "audit-log-retention"),
    ],
)
def test_an_override_with_a_reason_is_rendered_and_honoured(database, network, rule):
    config = parse_config(prod(database, network, [{"rule": rule, "reason": REASON}]), source="p.yaml")
    stack = render_environment(config)[0]
    template = load_template(stack.text)
    assert template["Metadata"]["StreamFlix"]["SecurityOverrides"] == [{"Rule": rule, "Reason": REASON}]
    assert run_rules(template, region=stack.region, filename=stack.filename) == []
    # Without the recorded override the same template fails SF2001: the rule reads the template, not the config.
    del template["Metadata"]["StreamFlix"]["SecurityOverrides"]
    assert {f.rule for f in run_rules(template, region=stack.region, filename=stack.filename)} == {"SF2001"}


def test_overrides_outside_prod_are_refused():
    text = yaml.safe_dump({"name": "d1", "tier": "dev", "environment_suffix": "d1", "ha_database": {},
                           "security_overrides": [{"rule": "backup-retention", "reason": REASON}]})
    message = refused(text)
    assert "security_overrides = ['backup-retention']" in message and "tier dev needs no override" in message


def test_an_override_that_lowers_nothing_is_refused():
    message = refused(prod(overrides=[{"rule": "deletion-protection", "reason": REASON}]))
    assert "security_overrides.0.rule = 'deletion-protection'" in message and "allowed: remove the entry" in message


def test_duplicate_overrides_are_refused():
    entry = {"rule": "backup-retention", "reason": REASON}
    message = refused(prod({"backup_retention_days": 3}, None, [entry, entry]))
    assert "listed more than once: backup-retention" in message


def test_an_override_needs_a_real_reason():
    message = refused(prod({"backup_retention_days": 3}, None, [{"rule": "backup-retention", "reason": "because"}]))
    assert "security_overrides.0.reason" in message


def test_an_unknown_floor_cannot_be_overridden():
    message = refused(prod(overrides=[{"rule": "encryption", "reason": REASON}]))
    assert "security_overrides.0.rule" in message and "deletion-protection" in message


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_templates_state_their_tier(ha, env):
    assert ha[env]["Metadata"]["StreamFlix"]["Tier"] == env
    overrides = ha[env]["Metadata"]["StreamFlix"].get("SecurityOverrides", [])
    # no preset lowers a floor: prod's DR pair serves HTTPS (issue 11), so it carries no plain-HTTP exception
    assert [o["Rule"] for o in overrides] == []
