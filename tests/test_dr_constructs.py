"""Construct-level guarantees the DR pair relies on, shown failing on bad input."""

from __future__ import annotations

import pytest
from troposphere import Parameter

from streamflix.config import load_config
from streamflix.constructs.observability import Metric, MetricAlarm, Monitoring, add_observability
from streamflix.constructs.security_groups import Tier, add_tier_security_groups
from streamflix.template import create_template


@pytest.fixture
def template():
    return create_template(load_config(env="dev"), blueprint="t", region="eu-west-2", description="t", name_keys=["alb"])


def test_tier_names_must_be_unique(template):
    tier = Tier(name="Database", label="database", port=5432, protocol="PostgreSQL")
    with pytest.raises(ValueError, match="unique"):
        add_tier_security_groups(template, network=None, name_prefix="p", tiers=[tier, tier])


def test_an_alarm_cannot_watch_another_regions_metric(template):
    from streamflix.config.models import ObservabilityConfig
    from streamflix.constructs.keys import add_data_key

    remote = Metric("AWS/RDS", "ReplicaLag", (("DBInstanceIdentifier", "x"),), region="us-east-1")
    monitoring = Monitoring()
    monitoring.watch("remote", [MetricAlarm("RemoteAlarm", remote, ">", 1, "remote")])
    key = add_data_key(template, alias="a", purpose="test")
    with pytest.raises(ValueError, match="another region"):
        add_observability(template, ObservabilityConfig(), project="p", key=key, monitoring=monitoring)


def test_wired_parameters_are_recorded_and_their_resolver_checked(template):
    template.add_wired_parameter(
        Parameter("SourceArn", Type="String"), source_blueprint="other", source_output="Arn", group="g", label="l"
    )
    wiring = template.to_dict()["Metadata"]["StreamFlix"]["Wiring"]
    assert wiring == {"SourceArn": {"FromStack": "other", "Output": "Arn", "Resolve": "stack-output"}}
    with pytest.raises(ValueError, match="allowed: stack-output, efs-replication-destination"):
        template.add_wired_parameter(
            Parameter("Other", Type="String"), source_blueprint="o", source_output="A", resolve="guess",
            group="g", label="l",
        )
