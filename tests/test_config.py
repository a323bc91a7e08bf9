"""Config models refuse bad input with the field, the value and what is allowed."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from streamflix import ConfigError, parse_config
from streamflix.config import PRESETS, load_config
from streamflix.config.models import EnvironmentConfig, StrictModel


def config_text(**sections) -> str:
    base = {"name": "t1", "tier": "dev", "environment_suffix": "t1", "ha_database": {}}
    for key, value in sections.items():
        base[key] = value
    return yaml.safe_dump(base, sort_keys=False)


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="my.yaml")
    return str(caught.value)


@pytest.mark.parametrize("env", PRESETS)
def test_presets_load(env):
    config = load_config(env=env)
    assert config.name == env
    assert config.ha_database is not None


def test_default_is_dev():
    assert load_config().name == "dev"


def test_unavailable_engine_version_is_refused_with_nearest_choices():
    message = refused(config_text(ha_database={"database": {"engine_version": "15.4"}}))
    assert "my.yaml" in message
    assert "ha_database.database.engine_version = '15.4'" in message
    assert "eu-central-1" in message
    assert "15.10" in message and "15.15" in message


def test_unquoted_version_is_refused_with_a_hint():
    text = "name: t1\ntier: dev\nenvironment_suffix: t1\nha_database:\n  database:\n    engine_version: 16.15\n"
    message = refused(text)
    assert "ha_database.database.engine_version = 16.15" in message
    assert "quote it" in message


def test_unknown_field_is_named():
    message = refused(config_text(ha_database={"databse": {}}))
    assert "ha_database.databse: unknown field" in message


def test_unknown_top_level_key_names_the_allowed_sections():
    message = refused(config_text(ha_databse={}))
    assert "ha_databse = {}: unknown field or stack section; allowed: " in message
    assert "dr, environment_suffix, ha_database, lifecycle_exceptions, name" in message


def test_literal_error_lists_allowed_values():
    message = refused(config_text(ha_database={"network": {"nat_gateways": "two"}}))
    assert "ha_database.network.nat_gateways = 'two'" in message
    assert "'per_az'" in message and "'single'" in message and "'none'" in message


def test_eu_residency_keeps_the_stack_in_the_eu():
    message = refused(config_text(ha_database={"region": "us-east-1"}))
    assert "ha_database.region = 'us-east-1'" in message
    assert "GDPR" in message and "eu-central-1" in message


def test_unrestricted_residency_allows_other_regions():
    config = parse_config(config_text(ha_database={"region": "us-east-1", "data_residency": "unrestricted"}))
    assert config.ha_database.region == "us-east-1"


def test_unknown_region_is_refused_with_the_known_ones():
    message = refused(config_text(ha_database={"region": "eu-mars-1", "data_residency": "unrestricted"}))
    assert "eu-mars-1" in message and "eu-west-1" in message


def test_names_derived_from_the_suffix_must_fit_aws_limits():
    # 16 + 1 + 12 + 4 = 33 characters for the ALB name; AWS allows 32.
    message = refused(config_text(project="streamflixplatfm", environment_suffix="abcdefghijkl"))
    assert "environment_suffix = 'abcdefghijkl'" in message
    assert "LoadBalancer Name" in message and "32" in message


def test_suffix_pattern_is_enforced():
    message = refused(config_text(environment_suffix="Prod-1"))
    assert "environment_suffix = 'Prod-1'" in message


@pytest.mark.parametrize(
    ("change", "field", "needs"),
    [
        ({"database": {"reader_count": 1}}, "ha_database.database.reader_count", "at least 2"),
        ({"database": {"deletion_protection": False}}, "ha_database.database.deletion_protection", "deletion protection"),
        ({"network": {"nat_gateways": "single"}}, "ha_database.network.nat_gateways", "per AZ"),
        ({"network": {"az_count": 2}}, "ha_database.network.az_count", "3 AZs"),
    ],
)
def test_prod_rules(change, field, needs):
    message = refused(config_text(tier="prod", ha_database=change))
    assert field in message and needs in message


def test_no_nat_requires_fargate_endpoints():
    message = refused(config_text(ha_database={"network": {"nat_gateways": "none", "vpc_endpoints": ["s3", "logs"]}}))
    assert "ha_database.network.vpc_endpoints" in message
    assert "ecr.api" in message and "ecr.dkr" in message


def test_no_nat_with_endpoints_is_accepted():
    config = parse_config(
        config_text(ha_database={"network": {"nat_gateways": "none", "vpc_endpoints": ["s3", "ecr.api", "ecr.dkr", "logs"]}})
    )
    assert config.ha_database.network.nat_gateways == "none"


def test_fargate_memory_must_suit_cpu():
    message = refused(config_text(ha_database={"compute": {"cpu": 256, "memory": 4096}}))
    assert "ha_database.compute.memory = 4096" in message
    assert "512, 1024, 2048" in message


def test_backup_and_maintenance_windows_must_not_overlap():
    message = refused(
        config_text(ha_database={"database": {"preferred_backup_window": "03:00-04:00",
                                              "preferred_maintenance_window": "sun:03:30-sun:04:30"}})
    )
    assert "ha_database.database.preferred_maintenance_window" in message and "overlaps" in message


def test_instance_class_must_exist_for_engine_in_region():
    message = refused(config_text(ha_database={"database": {"instance_class": "db.t2.nano"}}))
    assert "ha_database.database.instance_class = 'db.t2.nano'" in message


def test_cache_node_type_must_exist_in_region():
    message = refused(config_text(ha_database={"cache": {"node_type": "cache.x9.huge"}}))
    assert "ha_database.cache.node_type = 'cache.x9.huge'" in message


def test_redis_older_than_7_cannot_use_iam_auth():
    message = refused(config_text(ha_database={"cache": {"engine": "redis", "engine_version": "6.2"}}))
    assert "ha_database.cache.engine_version = '6.2'" in message and "7.0" in message


def test_provisioned_stream_needs_shards():
    message = refused(config_text(ha_database={"streaming": {"mode": "provisioned"}}))
    assert "ha_database.streaming.shard_count" in message


def test_standard_and_reserved_tags_cannot_be_overridden():
    assert "set by the build" in refused(config_text(tags={"Project": "x"}))
    assert "reserved by AWS" in refused(config_text(tags={"aws:cost": "x"}))


def test_several_problems_are_reported_together():
    message = refused(config_text(environment_suffix="BAD", ha_database={"compute": {"cpu": 3}}))
    assert "2 problem(s)" in message


def test_not_yaml_and_not_a_mapping():
    assert "not valid YAML" in refused("name: [unclosed\n")
    assert "must be a mapping" in refused("- a\n- b\n")


def test_every_field_is_documented():
    schema = EnvironmentConfig.model_json_schema()
    undocumented = []
    for name, definition in [("EnvironmentConfig", schema), *schema["$defs"].items()]:
        for field, spec in definition.get("properties", {}).items():
            if not spec.get("description"):
                undocumented.append(f"{name}.{field}")
    assert undocumented == []


def test_every_model_forbids_extra_keys_and_coercion():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for model in subclasses(StrictModel):
        if model is EnvironmentConfig:
            # its extras are registered blueprints' sections, nothing else (tests/test_plugins.py)
            assert model.model_config["extra"] == "allow"
            continue
        assert model.model_config["extra"] == "forbid", model
        assert model.model_config["strict"] is True, model


def test_user_file_is_loaded(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(textwrap.dedent(config_text(name="mine")))
    assert load_config(path).name == "mine"


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="allowed: dev, staging, prod"):
        load_config(env="qa")
