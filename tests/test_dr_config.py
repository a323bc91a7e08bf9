"""The DR section refuses what cannot work in BOTH regions, naming the field, the value and what is allowed."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from streamflix import ConfigError, parse_config
from streamflix.catalog import load_catalog
from streamflix.config import PRESETS, load_config
from streamflix.config import models
from streamflix.config.models import POSTGRES_DEFAULT_VERSION, DrStackConfig

PRIMARY_CERT = "arn:aws:acm:eu-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555"
RECOVERY_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000"


def config_text(dr=None, **top) -> str:
    base = {"name": "t1", "tier": "dev", "environment_suffix": "t1", "dr": dr or {}}
    base.update(top)
    return yaml.safe_dump(base, sort_keys=False)


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="my.yaml")
    return str(caught.value)


@pytest.fixture
def catalog_without(monkeypatch):
    """Make the catalogue lack one version in one region (the shipped one is global: same lists everywhere)."""

    def patch(engine: str, region: str, version: str):
        catalog = load_catalog()
        versions = {e: {r: list(v) for r, v in by_region.items()} for e, by_region in catalog.engine_versions.items()}
        versions[engine][region].remove(version)
        monkeypatch.setattr(models, "load_catalog", lambda: replace(catalog, engine_versions=versions))

    return patch


def test_defaults_follow_the_post_mortem():
    dr = DrStackConfig()
    assert (dr.primary_region, dr.recovery_region) == ("eu-west-2", "us-east-1")
    assert dr.rto_minutes == 15
    assert dr.database.engine_version == POSTGRES_DEFAULT_VERSION
    assert dr.database.instance_class == "db.t3.medium" and dr.database.multi_az
    assert dr.database.backup_retention_days == 7 and dr.database.preferred_backup_window == "03:00-05:00"
    assert dr.database.deletion_protection
    assert (dr.cache.node_type, dr.cache.replicas, dr.cache.snapshot_retention_days) == ("cache.t3.micro", 1, 5)
    assert dr.compute.desired_count == 2
    assert dr.standby.mode == "warm_standby" and dr.standby_task_count == 1
    assert dr.dns is None


@pytest.mark.parametrize("env", PRESETS)
def test_presets_define_the_dr_pair_with_pins_available_in_both_regions(env):
    dr = load_config(env=env).dr
    catalog = load_catalog()
    for region in (dr.primary_region, dr.recovery_region):
        assert catalog.has_version("postgres", region, dr.database.engine_version)
        assert catalog.has_version(dr.cache.engine, region, dr.cache.version)
        assert dr.database.instance_class in catalog.instance_classes("postgres", region)
        assert dr.cache.node_type in catalog.node_types(region)
    assert dr.data_residency == "unrestricted"  # stated in each preset, not inherited silently


def test_postgres_version_missing_in_the_recovery_region_is_refused(catalog_without):
    catalog_without("postgres", "us-east-1", "16.15")
    message = refused(config_text())
    assert "dr.database.engine_version = '16.15'" in message
    assert "us-east-1" in message and "eu-west-2 and us-east-1" in message
    assert "available in both: " in message and "16.14" in message
    assert "16.15" not in message.split("available in both: ")[1]


def test_postgres_version_missing_in_the_primary_region_is_refused(catalog_without):
    catalog_without("postgres", "eu-west-2", "16.14")
    message = refused(config_text({"database": {"engine_version": "16.14"}}))
    assert "dr.database.engine_version = '16.14'" in message and "cannot create new instances in eu-west-2" in message


def test_a_version_in_both_regions_is_accepted(catalog_without):
    catalog_without("postgres", "us-east-1", "16.15")
    config = parse_config(config_text({"database": {"engine_version": "16.14"}}))
    assert config.dr.database.engine_version == "16.14"


def test_cache_version_must_exist_in_both_regions(catalog_without):
    catalog_without("valkey", "us-east-1", "8.2")
    message = refused(config_text())
    assert "dr.cache.engine_version = '8.2'" in message and "us-east-1" in message and "8.1" in message


def test_unknown_postgres_version_names_the_common_ones():
    message = refused(config_text({"database": {"engine_version": "15.4"}}))
    assert "dr.database.engine_version = '15.4'" in message and "15.15" in message


def test_instance_class_and_node_type_must_exist_in_each_region():
    assert "dr.database.instance_class = 'db.x9.huge'" in refused(config_text({"database": {"instance_class": "db.x9.huge"}}))
    assert "dr.cache.node_type = 'cache.x9.huge'" in refused(config_text({"cache": {"node_type": "cache.x9.huge"}}))


def test_regions_must_differ():
    message = refused(config_text({"recovery_region": "eu-west-2"}))
    assert "dr.recovery_region = 'eu-west-2'" in message and "must differ" in message


def test_eu_residency_refuses_a_us_recovery_region_and_accepts_two_eu_regions():
    message = refused(config_text({"data_residency": "eu"}))
    assert "dr.recovery_region = 'us-east-1'" in message and "data_residency is 'eu'" in message
    config = parse_config(config_text({"data_residency": "eu", "recovery_region": "eu-west-1"}))
    assert config.dr.recovery_region == "eu-west-1"


def test_dr_and_ha_stacks_cannot_share_a_region():
    message = refused(config_text({"primary_region": "eu-central-1"}, ha_database={}))
    assert "dr.primary_region = 'eu-central-1'" in message and "HA database stack" in message


@pytest.mark.parametrize(
    ("change", "field", "needs"),
    [
        ({"database": {"deletion_protection": False}}, "dr.database.deletion_protection", "deletion protection"),
        ({"database": {"multi_az": False}}, "dr.database.multi_az", "Multi-AZ"),
        ({"load_balancer": {"deletion_protection": False}}, "dr.load_balancer.deletion_protection", "deletion protection"),
        ({"primary_network": {"nat_gateways": "single"}}, "dr.primary_network.nat_gateways", "per AZ"),
        ({"recovery_network": {"vpc_cidr": "10.60.0.0/16", "nat_gateways": "single"}},
         "dr.recovery_network.nat_gateways", "per AZ"),
        ({"primary_network": {"az_count": 2}}, "dr.primary_network.az_count", "3 AZs"),
    ],
)
def test_prod_rules_apply_to_the_dr_pair(change, field, needs):
    message = refused(config_text(change, tier="prod"))
    assert field in message and needs in message


def test_certificates_must_be_in_their_stacks_region():
    message = refused(config_text({"load_balancer": {"primary_certificate_arn": RECOVERY_CERT,
                                                     "recovery_certificate_arn": RECOVERY_CERT}}))
    assert "dr.load_balancer.primary_certificate_arn" in message and "(eu-west-2)" in message


def test_certificates_come_in_pairs():
    message = refused(config_text({"load_balancer": {"primary_certificate_arn": PRIMARY_CERT}}))
    assert "dr.load_balancer.recovery_certificate_arn = None" in message and "downgrade" in message
    config = parse_config(config_text({"load_balancer": {"primary_certificate_arn": PRIMARY_CERT,
                                                         "recovery_certificate_arn": RECOVERY_CERT}}))
    assert config.dr.load_balancer.https


def test_vpcs_must_not_overlap():
    message = refused(config_text({"recovery_network": {"vpc_cidr": "10.50.128.0/17"}}))
    assert "dr.recovery_network.vpc_cidr = '10.50.128.0/17'" in message and "overlaps" in message


def test_rpo_below_efs_replication_design_is_refused():
    message = refused(config_text({"rpo_minutes": 5}))
    assert "dr.rpo_minutes = 5" in message and "15 minutes" in message and ">= 15" in message


def test_replica_lag_alarm_must_fire_within_the_rpo():
    message = refused(config_text({"observability": {"thresholds": {"db_replica_lag_seconds": 1200}}}))
    assert "dr.observability.thresholds.db_replica_lag_seconds = 1200" in message and "<= 900" in message


def test_dns_detection_must_fit_the_rto():
    dns = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "record_name": "app.streamflix.example",
           "health_check_interval_seconds": 30, "health_check_failure_threshold": 10}
    message = refused(config_text({"dns": dns, "rto_minutes": 5}))
    assert "dr.dns.health_check_failure_threshold = 10" in message and "300 s" in message


def test_dns_record_and_zone_are_checked():
    message = refused(config_text({"dns": {"hosted_zone_id": "zone", "record_name": "not a name"}}))
    assert "dr.dns.hosted_zone_id = 'zone'" in message and "dr.dns.record_name = 'not a name'" in message


def test_standby_sizes():
    message = refused(config_text({"standby": {"task_count": 2}}))
    assert "dr.standby.task_count = 2" in message and "hot_standby" in message
    message = refused(config_text({"standby": {"mode": "hot_standby", "task_count": 1}}))
    assert "dr.standby.task_count = 1" in message and "full compute.desired_count" in message
    hot = parse_config(config_text({"standby": {"mode": "hot_standby"}})).dr
    assert hot.standby_task_count == hot.compute.desired_count == 2


def test_storage_autoscaling_ceiling_must_exceed_allocation():
    message = refused(config_text({"database": {"allocated_storage_gib": 200, "max_allocated_storage_gib": 100}}))
    assert "dr.database.max_allocated_storage_gib = 100" in message and "> 200" in message


def test_dr_backup_and_maintenance_windows_must_not_overlap():
    message = refused(config_text({"database": {"preferred_maintenance_window": "sun:04:00-sun:04:30"}}))
    assert "dr.database.preferred_maintenance_window" in message and "overlaps the backup window 03:00-05:00" in message
