"""SF3007: a pinned minor engine version comes with AutoMinorVersionUpgrade false (finding 10)."""

import pytest

from streamflix.checks.rules.pinned_minor_versions import pins_minor

HA = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties: {{Engine: aurora-postgresql, EngineVersion: '16.15'{cluster_amvu}}}
  Writer:
    Type: AWS::RDS::DBInstance
    Properties: {{DBClusterIdentifier: !Ref Cluster, Engine: aurora-postgresql, DBInstanceClass: db.r6g.large{writer_amvu}}}
  Cache:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties: {{ReplicationGroupDescription: c, Engine: valkey, EngineVersion: '8.2'{cache_amvu}}}
  MajorOnly:
    Type: AWS::RDS::DBInstance
    Properties: {{Engine: postgres, EngineVersion: '16', DBInstanceClass: db.t3.medium}}
"""

PRIMARY = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Primary:
    Type: AWS::RDS::DBInstance
    Properties: {{Engine: postgres, EngineVersion: '16.15', DBInstanceClass: db.t3.medium{amvu}}}
Outputs:
  DatabaseInstanceArn: {{Value: !Ref Primary}}
"""

RECOVERY = """
AWSTemplateFormatVersion: '2010-09-09'
Metadata:
  StreamFlix:
    Wiring:
      PrimaryArn: {{FromStack: dr-primary, Output: DatabaseInstanceArn}}
Parameters:
  PrimaryArn: {{Type: String}}
Conditions:
  IsReplica: !Equals [a, a]
Resources:
  Replica:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceClass: db.t3.medium
      SourceDBInstanceIdentifier: !If [IsReplica, !Ref PrimaryArn, !Ref 'AWS::NoValue']
      {amvu}
"""


def test_bad_pinned_minors_upgrade_themselves(environment_findings):
    text = HA.format(cluster_amvu="", writer_amvu=", AutoMinorVersionUpgrade: true", cache_amvu=", AutoMinorVersionUpgrade: 'true'")
    findings = environment_findings({"ha": text}, "SF3007")
    assert [f.message.split(" runs ")[0] for f in findings] == ["Cluster", "Writer", "Cache"]
    assert "not set (RDS defaults it to true)" in findings[0].message
    assert "its cluster Cluster's EngineVersion" in findings[1].message


def test_bad_cross_region_replica_of_a_pinned_source(environment_findings):
    findings = environment_findings(
        {"dr-primary": PRIMARY.format(amvu=", AutoMinorVersionUpgrade: false"),
         "dr-recovery": RECOVERY.format(amvu="AutoMinorVersionUpgrade: true")},
        "SF3007",
    )
    assert len(findings) == 1 and findings[0].file == "dr-recovery.yaml"
    assert "minor version 16.15 (a replica of Primary, which pins it)" in findings[0].message


def test_good_explicit_false_everywhere(environment_findings):
    text = HA.format(cluster_amvu=", AutoMinorVersionUpgrade: false", writer_amvu=", AutoMinorVersionUpgrade: 'false'",
                     cache_amvu=", AutoMinorVersionUpgrade: false")
    assert environment_findings({"ha": text}, "SF3007") == []
    assert environment_findings(
        {"dr-primary": PRIMARY.format(amvu=", AutoMinorVersionUpgrade: false"),
         "dr-recovery": RECOVERY.format(amvu="AutoMinorVersionUpgrade: false")},
        "SF3007",
    ) == []


@pytest.mark.parametrize(
    ("resource_type", "version", "pinned"),
    [("AWS::RDS::DBInstance", "16.15", True), ("AWS::RDS::DBInstance", "16", False),
     ("AWS::RDS::DBInstance", "9.6", False), ("AWS::RDS::DBInstance", "9.6.20", True),
     ("AWS::ElastiCache::ReplicationGroup", "7.1", True), ("AWS::ElastiCache::ReplicationGroup", "6.x", False),
     ("AWS::RDS::DBInstance", None, False), ("AWS::RDS::DBInstance", {"Ref": "Version"}, True)],
)
def test_what_pins_a_minor(resource_type, version, pinned):
    assert pins_minor(resource_type, version) is pinned


def test_good_rendered_stacks_do_not_upgrade_themselves(ha, dr):
    from streamflix.checks.rules import ENVIRONMENT_RULES, StackView

    rule = next(r for r in ENVIRONMENT_RULES if r.id == "SF3007")
    for env in ha:
        templates = {"ha-database": ha[env], **dr[env]}
        stacks = [StackView(name, "eu-west-2", f"{name}.yaml", template) for name, template in templates.items()]
        assert rule.check(stacks) == [], env
    cluster = ha["prod"]["Resources"]["AuroraCluster"]["Properties"]
    assert cluster["EngineVersion"] == "16.15" and cluster["AutoMinorVersionUpgrade"] is False
    replica = dr["prod"]["dr-recovery"]["Resources"]["PostgresReplicaInstance"]["Properties"]
    assert replica["AutoMinorVersionUpgrade"] is False


OLD_MINORS = """\
name: oldminor
tier: dev
environment_suffix: om
ha_database:
  network: {az_count: 2, nat_gateways: single}
  database: {engine_version: "16.9", instance_class: db.t4g.medium, reader_count: 1, deletion_protection: false}
  cache: {engine: valkey, engine_version: "8.0", node_type: cache.t4g.small, replicas: 1}
"""


def test_the_build_names_newer_minors_the_catalogue_lists(configs):
    # with automatic upgrades off, the upgrade path is config + catalogue: the build says when one exists
    from streamflix import parse_config
    from streamflix.catalog import load_catalog
    from streamflix.config.models import engine_upgrades

    catalog = load_catalog()
    notes = engine_upgrades(parse_config(OLD_MINORS, source="old.yaml"))
    newest = catalog.newest_minor("aurora-postgresql", "eu-central-1", "16")
    assert notes[0].startswith(f"ha_database.database.engine_version is 16.9; the catalogue ({catalog.snapshot_date}) "
                               f"lists aurora-postgresql {newest} in eu-central-1")
    assert notes[1].startswith("ha_database.cache.engine_version is 8.0;") and len(notes) == 2
    # the presets pin the newest minors
    assert all(engine_upgrades(config) == [] for config in configs.values())
