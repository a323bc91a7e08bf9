"""Alarm recipients (issue 11, finding 3): alarms must be able to reach someone.

Reserved and example domains never receive mail, so their SNS subscriptions are never
confirmed; prod needs a real recipient or an existing topic given at deploy time; a dev
build without recipients says so in its summary.
"""

from __future__ import annotations

import pytest

from streamflix import parse_config, render_environment
from streamflix.config.models import alarm_gaps
from streamflix.errors import ConfigError
from streamflix.testing import Template

BASE = "name: ee\ntier: {tier}\nenvironment_suffix: e\nha_database:\n{ha}"
PROD_HA = (
    "  network: {az_count: 3, nat_gateways: per_az}\n  database: {reader_count: 2}\n"
)


def _config(tier: str, observability: str, ha: str = ""):
    return parse_config(BASE.format(tier=tier, ha=ha + f"  observability: {observability}\n"), source="e.yaml")


@pytest.mark.parametrize(
    "address",
    ["dba@streamflix.example", "a@b.test", "x@host.invalid", "root@localhost.localhost", "ops@example.com",
     "ops@mail.example.org", "ops@Example.net"],
)
def test_reserved_domains_are_refused(address):
    with pytest.raises(ConfigError) as error:
        _config("dev", f"{{alarm_emails: [{address}]}}")
    message = str(error.value)
    assert "ha_database.observability.alarm_emails" in message and "reserved domain" in message
    assert "never confirmed" in message


def test_a_real_domain_subscribes():
    config = _config("dev", "{alarm_emails: [dba-oncall@streamflix.com]}")
    (stack,) = render_environment(config)
    topic = Template.from_stack(stack).find_resources("AWS::SNS::Topic")["AlarmTopic"]["Properties"]
    assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": "dba-oncall@streamflix.com"}]
    assert alarm_gaps(config) == []


def test_prod_without_recipients_is_refused():
    with pytest.raises(ConfigError) as error:
        _config("prod", "{alarm_emails: []}", PROD_HA)
    message = str(error.value)
    assert "ha_database.observability.alarm_emails = []" in message and "must reach someone" in message
    assert "existing_alarm_topic: true" in message


def test_prod_with_an_existing_topic_takes_it_at_deploy_time(rendered):
    for name in ("ha-database", "dr-primary", "dr-recovery"):
        template = Template.from_stack(rendered["prod"][name])
        parameter = template.body["Parameters"]["ExistingAlarmTopicArn"]
        assert "Default" not in parameter  # the deploy must name it
        alarms = template.find_resources("AWS::CloudWatch::Alarm")
        assert alarms and all(
            a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}, {"Ref": "ExistingAlarmTopicArn"}]
            for a in alarms.values()
        )


def test_shipped_prod_preset_builds_with_no_reserved_address(configs):
    for section in configs["prod"].stacks.values():
        assert section.observability.reaches_someone
        assert not [a for a in section.observability.alarm_emails if a.endswith(".example")]


def test_prod_parameter_files_ask_for_the_topic(artifacts):
    overrides = artifacts["prod"]["parameters/ha-database.overrides.json"]
    assert "ExistingAlarmTopicArn=<required:" in overrides


def test_dev_build_without_recipients_says_so(tmp_path):
    from streamflix import load_config
    from streamflix.pipeline import build

    config = load_config(env="dev")
    report = build(config, out_dir=tmp_path, lint=False, skip_gates=("security_scan",))
    gaps = [n for n in report.notes if "alarms reach nobody" in n]
    assert gaps == [
        "dev: ha_database: alarms reach nobody (ha_database.observability.alarm_emails is empty and "
        "existing_alarm_topic is false); they still change state and show on the dashboard",
        "dev: dr: alarms reach nobody (dr.observability.alarm_emails is empty and existing_alarm_topic is "
        "false); they still change state and show on the dashboard",
    ]
