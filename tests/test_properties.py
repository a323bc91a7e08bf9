"""Property-based tests over the whole config space (hypothesis).

Profiles: ``ci`` (the default, bounded) and ``thorough`` (HYPOTHESIS_PROFILE=thorough).
- every config the models accept renders with zero findings (our rules always,
  cfn-lint on a bounded sample: it costs seconds per template);
- the generator draws only valid configs (every cross-field rule met by construction,
  nothing discarded), and deliberate violations, one per example, must be refused
  with a message naming the violated field;
- rendering is deterministic.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streamflix import render_environment
from streamflix.catalog import limits, load_catalog
from streamflix.checks import run_cfn_lint, run_rules
from streamflix.config.loader import format_validation_error
from streamflix.config import naming
from streamflix.config.models import (
    EU_REGIONS,
    FARGATE_ENDPOINTS,
    FARGATE_MEMORY_BY_CPU,
    STANDARD_TAG_KEYS,
    EnvironmentConfig,
)
from streamflix.floors import PROD_MIN_BACKUP_RETENTION_DAYS
from streamflix.render import load_template

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Sized for CI (the suite's budget is 3 minutes on 2 cores): each example renders an
#: environment twice (~1 s), and cfn-lint costs ~2 s a template, so the render and lint
#: properties run on fewer examples than the cheap model properties. ``thorough`` is unchanged.
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
RENDER_EXAMPLES = {"ci": 15, "thorough": 400}[_PROFILE]
LINT_EXAMPLES = {"ci": 4, "thorough": 60}[_PROFILE]

CATALOG = load_catalog()
DB_CLASSES = ["db.t4g.medium", "db.t4g.large", "db.r6g.large", "db.r6g.xlarge", "db.r7g.large", "db.r8g.large", "db.r6i.large"]
NODE_TYPES = ["cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium", "cache.r7g.large", "cache.m7g.large", "cache.r6g.large"]
ENDPOINTS = ["s3", "ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms", "sts", "kinesis-streams", "monitoring"]


def _redis_with_iam_auth(version: str) -> bool:
    """IAM authentication, the cache's only auth mode, needs Redis OSS 7.0+ (any Valkey)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= (7, 0)


def _offered(wanted: list[str], offered: list[str]) -> list[str]:
    """Our preferred classes that the region offers (else whatever it offers), in a stable order."""
    return [c for c in wanted if c in offered] or sorted(offered)[:8]


@st.composite
def configs(draw) -> dict[str, Any]:
    """Valid config dicts by construction, spanning regions, versions, classes, AZs, egress and toggles.

    Each cross-field rule of the models is met while drawing, not filtered
    afterwards: versions and classes come from the catalogue of the drawn region,
    redis only from 7.0 (IAM auth), endpoint-only egress always lists the endpoints
    Fargate needs, prod always gets its floors (3 AZs, NAT per AZ, 2+ readers,
    deletion protection, a week of backups), and the suffix fits the project's
    physical-name budget.
    """
    tier = draw(st.sampled_from(["dev", "staging", "prod"]))
    prod = tier == "prod"
    residency = draw(st.sampled_from(["eu", "unrestricted"]))
    regions = EU_REGIONS if residency == "eu" else tuple(r for r in CATALOG.regions if limits.partition_of(r) == "aws")
    # a region that offers the AZs drawn (prod spans 3; the models check cfn-lint's AZ table)
    regions = tuple(r for r in regions if len(limits.availability_zones(r) or ("a", "b", "c")) >= (3 if prod else 2))
    region = draw(st.sampled_from(sorted(regions)))
    cache_engine = draw(st.sampled_from(["valkey", "redis"]))
    cache_versions = [v for v in CATALOG.versions(cache_engine, region)
                      if cache_engine == "valkey" or _redis_with_iam_auth(v)]
    aurora_versions = [v for v in CATALOG.versions("aurora-postgresql", region) if "-limitless" not in v]
    # the instance class runs the drawn version (the models check cfn-lint E3062's data)
    offered_classes = CATALOG.instance_classes("aurora-postgresql", region)

    def runs(version: str) -> list[str]:
        allowed = limits.instance_classes_for_version("aurora-postgresql", version)
        usable = [c for c in offered_classes if allowed is None or c in allowed]
        return _offered(DB_CLASSES, usable) if usable else []

    aurora_versions = [v for v in aurora_versions if runs(v)]
    aurora_version = draw(st.sampled_from(aurora_versions))
    cpu = draw(st.sampled_from(sorted(FARGATE_MEMORY_BY_CPU)))
    nat = "per_az" if prod else draw(st.sampled_from(["per_az", "single", "none"]))
    endpoints = draw(st.lists(st.sampled_from(ENDPOINTS), unique=True, min_size=0, max_size=9))
    if nat == "none":
        endpoints += [e for e in FARGATE_ENDPOINTS if e not in endpoints]
    zones_offered = len(limits.availability_zones(region) or ("a", "b", "c"))
    az_count = 3 if prod else draw(st.sampled_from([2, 3] if zones_offered >= 3 else [2]))
    # AZ IDs (finding 5 of issue 10) or the positional default
    zone_ids = ([f"{limits.az_id_prefix(region)}-az{n}" for n in range(1, az_count + 1)]
                if limits.az_id_prefix(region) and draw(st.booleans()) else None)
    desired = draw(st.integers(1, 4))
    project = draw(st.from_regex(r"[a-z][a-z0-9]{1,9}", fullmatch=True))
    room = naming.suffix_max_length(project)
    suffix = draw(st.from_regex(rf"[a-z][a-z0-9]{{0,{min(room, 8) - 1}}}", fullmatch=True))
    return {
        "name": draw(st.from_regex(r"[a-z][a-z0-9-]{1,10}", fullmatch=True)),
        "tier": tier,
        "project": project,
        "environment_suffix": suffix,
        "tags": draw(st.dictionaries(st.from_regex(r"[A-Z][a-zA-Z]{2,8}", fullmatch=True).filter(
                     lambda key: key not in STANDARD_TAG_KEYS),
                     st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True), max_size=3)),
        "ha_database": {
            "region": region,
            "data_residency": residency,
            "network": {
                "az_count": az_count,
                "availability_zone_ids": zone_ids,
                "nat_gateways": nat,
                "vpc_endpoints": endpoints,
                "vpc_cidr": draw(st.sampled_from(["10.0.0.0/16", "10.128.0.0/18", "172.16.0.0/20", "192.168.0.0/22"])),
            },
            "database": {
                "engine_version": aurora_version,
                "instance_class": draw(st.sampled_from(runs(aurora_version))),
                "reader_count": draw(st.integers(2 if prod else 0, 3)),
                "deletion_protection": True if prod else draw(st.booleans()),
                "backup_retention_days": draw(st.integers(PROD_MIN_BACKUP_RETENTION_DAYS if prod else 1, 35)),
            },
            "cache": {
                "engine": cache_engine,
                "engine_version": draw(st.sampled_from(cache_versions)),
                "node_type": draw(st.sampled_from(_offered(NODE_TYPES, CATALOG.node_types(region)))),
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
                *([] if prod else [{}]), {"existing_alarm_topic": True}, {"alarm_emails": ["dba-oncall@streamflix.com"]},
            ])),
        },
    }


def accepted(data: dict[str, Any]) -> EnvironmentConfig:
    """Every generated config is valid: a refusal here is a bug in the models or in the generator."""
    return EnvironmentConfig.model_validate(data)


@settings(max_examples=RENDER_EXAMPLES)
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


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[leaf] = value


#: Deliberate violations: (field path the error must name, value, or a function of the valid config).
VIOLATIONS: list[tuple[str, Any]] = [
    ("tier", "qa"),
    ("environment_suffix", "Has-Caps"),
    ("project", "9starts-with-a-digit"),
    ("tags", {"aws:owner": "me"}),
    ("ha_database.region", "mars-north-1"),
    ("ha_database.network.az_count", 7),
    ("ha_database.network.nat_gateways", "two"),
    ("ha_database.network.vpc_cidr", "not-a-cidr"),
    ("ha_database.database.engine_version", "15.4"),
    ("ha_database.database.engine_version", 16.15),
    ("ha_database.database.instance_class", "db.x99.huge"),
    ("ha_database.database.reader_count", "two"),
    ("ha_database.database.backup_retention_days", 0),
    ("ha_database.database.deletion_protection", "yes"),
    ("ha_database.cache.node_type", "cache.x99.huge"),
    ("ha_database.cache.replicas", 99),
    ("ha_database.compute.memory", 3),
    ("ha_database.compute.max_count", 0),
    ("ha_database.streaming.mode", "bursty"),
    ("ha_database.databse", {}),
]


@given(configs(), st.sampled_from(VIOLATIONS))
def test_refused_configs_name_the_field_and_the_value(data, violation):
    path, value = violation
    _set(data, path, value)
    with pytest.raises(ValidationError) as refused:
        EnvironmentConfig.model_validate(data)
    message = format_validation_error(refused.value, "prop.yaml")
    assert message.startswith("prop.yaml: ")
    problems = message.splitlines()[1:]
    assert any(line.strip().startswith((f"{path} ", f"{path}:")) for line in problems), message
    for line in problems:
        field = line.strip().split(" ", 1)[0].rstrip(":")
        assert field and field != "<root>", line


@pytest.mark.parametrize("version", ["16.4-limitless", "16.11-limitless"])
def test_limitless_versions_are_refused(version):
    data = {"name": "x1", "tier": "dev", "environment_suffix": "x", "ha_database": {"database": {"engine_version": version}}}
    with pytest.raises(ValidationError, match="limitless"):
        EnvironmentConfig.model_validate(data)
