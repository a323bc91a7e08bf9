"""Property-based tests over the whole config space (hypothesis).

Profiles: ``ci`` (the default, bounded) and ``thorough`` (HYPOTHESIS_PROFILE=thorough).
- every config the models accept renders with zero findings (our rules always,
  cfn-lint on a bounded sample: it costs seconds per template);
- every config the models refuse fails with a ValidationError naming the field;
- rendering is deterministic.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streamflix import render_environment
from streamflix.catalog import load_catalog
from streamflix.checks import run_cfn_lint, run_rules
from streamflix.config.loader import format_validation_error
from streamflix.config.models import EU_REGIONS, FARGATE_MEMORY_BY_CPU, EnvironmentConfig
from streamflix.render import load_template

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: cfn-lint costs ~2 s a template, so the lint property runs on fewer examples.
LINT_EXAMPLES = {"ci": 6, "thorough": 60}[os.environ.get("HYPOTHESIS_PROFILE", "ci")]

CATALOG = load_catalog()
DB_CLASSES = ["db.t4g.medium", "db.t4g.large", "db.r6g.large", "db.r6g.xlarge", "db.r7g.large", "db.r8g.large", "db.r6i.large"]
NODE_TYPES = ["cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium", "cache.r7g.large", "cache.m7g.large", "cache.r6g.large"]
ENDPOINTS = ["s3", "ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms", "sts", "kinesis-streams", "monitoring"]


@st.composite
def configs(draw) -> dict[str, Any]:
    """Config dicts spanning regions, versions, classes, AZs, egress and toggles."""
    tier = draw(st.sampled_from(["dev", "staging", "prod"]))
    residency = draw(st.sampled_from(["eu", "unrestricted"]))
    regions = EU_REGIONS if residency == "eu" else tuple(r for r in CATALOG.regions if not r.startswith(("cn-", "us-gov-")))
    region = draw(st.sampled_from(sorted(regions)))
    cache_engine = draw(st.sampled_from(["valkey", "redis"]))
    cpu = draw(st.sampled_from(sorted(FARGATE_MEMORY_BY_CPU)))
    nat = draw(st.sampled_from(["per_az", "single", "none"]))
    desired = draw(st.integers(1, 4))
    return {
        "name": draw(st.from_regex(r"[a-z][a-z0-9-]{1,10}", fullmatch=True)),
        "tier": tier,
        "project": draw(st.from_regex(r"[a-z][a-z0-9]{1,9}", fullmatch=True)),
        "environment_suffix": draw(st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)),
        "tags": draw(st.dictionaries(st.from_regex(r"[A-Z][a-zA-Z]{2,8}", fullmatch=True),
                                     st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True), max_size=3)),
        "ha_database": {
            "region": region,
            "data_residency": residency,
            "network": {
                "az_count": draw(st.sampled_from([2, 3])),
                "nat_gateways": nat,
                "vpc_endpoints": draw(st.lists(st.sampled_from(ENDPOINTS), unique=True, min_size=0, max_size=9)),
                "vpc_cidr": draw(st.sampled_from(["10.0.0.0/16", "10.128.0.0/18", "172.16.0.0/20", "192.168.0.0/22"])),
            },
            "database": {
                "engine_version": draw(st.sampled_from(CATALOG.versions("aurora-postgresql", region))),
                "instance_class": draw(st.sampled_from(DB_CLASSES)),
                "reader_count": draw(st.integers(0, 3)),
                "deletion_protection": draw(st.booleans()),
                "backup_retention_days": draw(st.integers(1, 35)),
            },
            "cache": {
                "engine": cache_engine,
                "engine_version": draw(st.sampled_from(CATALOG.versions(cache_engine, region))),
                "node_type": draw(st.sampled_from(NODE_TYPES)),
                "replicas": draw(st.integers(1, 3)),
            },
            "compute": {
                "cpu": cpu,
                "memory": draw(st.sampled_from(FARGATE_MEMORY_BY_CPU[cpu])),
                "desired_count": desired,
                "max_count": desired + draw(st.integers(0, 4)),
            },
            "streaming": draw(st.sampled_from([{"mode": "on_demand"}, {"mode": "provisioned", "shard_count": 2}])),
            # prod needs alarms that reach someone (issue 11): an existing topic, or a real address
            "observability": draw(st.sampled_from([
                {}, {"existing_alarm_topic": True}, {"alarm_emails": ["dba-oncall@streamflix.com"]},
            ])),
        },
    }


def accepted(data: dict[str, Any]) -> EnvironmentConfig:
    try:
        return EnvironmentConfig.model_validate(data)
    except ValidationError:
        assume(False)
        raise


@given(configs())
def test_accepted_configs_pass_our_rules_and_render_deterministically(data):
    config = accepted(data)
    first = render_environment(config)
    assert [s.text for s in first] == [s.text for s in render_environment(config)]
    for stack in first:
        assert run_rules(load_template(stack.text), region=stack.region, filename=stack.filename) == []


@settings(max_examples=LINT_EXAMPLES)
@given(configs())
def test_accepted_configs_are_cfn_lint_clean(data):
    config = accepted(data)
    for stack in render_environment(config):
        findings = run_cfn_lint(stack.text, region=stack.region, filename=stack.filename)
        assert findings == [], "\n".join(map(str, findings))


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False),
    st.text(max_size=12), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def leaf_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, sub in value.items() for p in leaf_paths(sub, prefix + (key,))] or [prefix]
    return [prefix]


@given(configs(), st.data())
def test_refused_configs_name_the_field(data, draw):
    path = draw.draw(st.sampled_from(leaf_paths(data)))
    junk = draw.draw(JUNK)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    try:
        EnvironmentConfig.model_validate(data)
    except ValidationError as exc:
        message = format_validation_error(exc, "prop.yaml")
        assert message.startswith("prop.yaml: ")
        for line in message.splitlines()[1:]:
            field = line.strip().split(" ", 1)[0].rstrip(":")
            assert field and field != "<root>" or "=" in line, line
    # any other exception type propagates and fails the test


@pytest.mark.parametrize("version", ["16.4-limitless", "16.11-limitless"])
def test_limitless_versions_are_refused(version):
    data = {"name": "x1", "tier": "dev", "environment_suffix": "x", "ha_database": {"database": {"engine_version": version}}}
    with pytest.raises(ValidationError, match="limitless"):
        EnvironmentConfig.model_validate(data)
