"""SF1004: engine versions are pinned and exist in the template's region (seed 000 #2)."""

import dataclasses

import pytest

from streamflix.catalog import load_catalog
from streamflix.checks.rules import engine_versions as engine_versions_rule

RULE = "SF1004"
REGION = "eu-central-1"


def db_cluster(version_line: str = "      EngineVersion: '16.15'\n", engine: str = "aurora-postgresql") -> str:
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      Engine: {engine}
{version_line}      ManageMasterUserPassword: true
      MasterUsername: streamflix
      StorageEncrypted: true
"""


AURORA_MEMBER = """\
  Writer:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: aurora-postgresql
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
"""


def replication_group(engine: str, version_line: str) -> str:
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cache:
    Type: AWS::ElastiCache::ReplicationGroup
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      ReplicationGroupDescription: StreamFlix sessions
      Engine: {engine}
{version_line}      CacheNodeType: cache.r7g.large
      NumCacheClusters: 2
"""


def only(findings):
    assert [f.rule for f in findings] == [RULE], findings
    return findings[0]


def test_catalogue_has_the_versions_these_tests_rely_on():
    catalog = load_catalog()
    assert catalog.has_version("aurora-postgresql", REGION, "16.15")
    assert not catalog.has_version("aurora-postgresql", REGION, "15.4")
    assert catalog.has_version("aurora-postgresql", REGION, "15.10")
    assert catalog.has_version("valkey", REGION, "8.2")
    assert not catalog.has_version("valkey", REGION, "6.0")


# --- good -----------------------------------------------------------------


def test_aurora_version_available(rule_findings):
    assert rule_findings(db_cluster(), RULE, region=REGION) == []


def test_aurora_member_instance_inherits_cluster_version(rule_findings):
    assert rule_findings(db_cluster() + AURORA_MEMBER, RULE, region=REGION) == []


def test_read_replica_inherits_source_version(rule_findings):
    text = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Replica:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      SourceDBInstanceIdentifier: arn:aws:rds:eu-central-1:123456789012:db:primary
      DBInstanceClass: db.r6g.large
"""
    assert rule_findings(text, RULE, region=REGION) == []


def test_standalone_postgres_instance(rule_findings):
    text = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Database:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      EngineVersion: '16.15'
      DBInstanceClass: db.r6g.large
"""
    assert rule_findings(text, RULE, region=REGION) == []


def test_valkey_replication_group(rule_findings):
    text = replication_group("valkey", "      EngineVersion: '8.2'\n")
    assert rule_findings(text, RULE, region=REGION) == []


def test_redis_cache_cluster(rule_findings):
    text = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cache:
    Type: AWS::ElastiCache::CacheCluster
    Properties:
      Engine: redis
      EngineVersion: '7.1'
      CacheNodeType: cache.r7g.large
      NumCacheNodes: 1
"""
    assert rule_findings(text, RULE, region=REGION) == []


# --- bad ------------------------------------------------------------------


def test_aurora_version_not_in_region(rule_findings, line_of):
    text = db_cluster("      EngineVersion: '15.4'\n")
    finding = only(rule_findings(text, RULE, region=REGION))
    assert "Cluster aurora-postgresql 15.4 cannot be created in eu-central-1" in finding.message
    assert load_catalog().snapshot_date in finding.message
    nearest = finding.message.split("nearest: ")[1].split(", ")
    assert "15.10" in nearest
    assert all(v.startswith("15.") for v in nearest)
    # Points at the resource's Properties block (its first key).
    assert finding.line == line_of(text, "Engine: aurora-postgresql")


def test_missing_engine_version(rule_findings, line_of):
    text = db_cluster(version_line="")
    finding = only(rule_findings(text, RULE, region=REGION))
    assert "Cluster does not pin EngineVersion" in finding.message
    assert finding.line == line_of(text, "Type: AWS::RDS::DBCluster")


@pytest.mark.parametrize("number", ["16.15", "16.10", "16"])
def test_unquoted_number_version(rule_findings, number, line_of):
    # YAML reads 16.15 as a float (and 16.10 as 16.1): the version must be a quoted string.
    text = db_cluster(f"      EngineVersion: {number}\n")
    finding = only(rule_findings(text, RULE, region=REGION))
    assert "Cluster EngineVersion must be a quoted literal string" in finding.message
    assert finding.line == line_of(text, "Type: AWS::RDS::DBCluster")


def test_version_from_a_parameter(rule_findings):
    text = db_cluster("      EngineVersion: !Ref EngineVersion\n").replace(
        "Resources:", "Parameters:\n  EngineVersion:\n    Type: String\nResources:"
    )
    finding = only(rule_findings(text, RULE, region=REGION))
    assert "must be a quoted literal string" in finding.message


def test_engine_not_a_literal(rule_findings):
    text = db_cluster(engine="!Ref Engine").replace("Resources:", "Parameters:\n  Engine:\n    Type: String\nResources:")
    finding = only(rule_findings(text, RULE, region=REGION))
    assert "Cluster does not state its Engine as a literal" in finding.message


def test_valkey_version_not_in_catalogue(rule_findings, line_of):
    text = replication_group("valkey", "      EngineVersion: '6.0'\n")
    finding = only(rule_findings(text, RULE, region=REGION))
    assert "Cache valkey 6.0 cannot be created in eu-central-1" in finding.message
    assert "nearest: " in finding.message
    assert finding.line == line_of(text, "ReplicationGroupDescription:")


def test_replication_group_without_engine(rule_findings):
    # ElastiCache would default to redis; the rule wants the engine stated.
    text = replication_group("valkey", "      EngineVersion: '8.2'\n").replace("      Engine: valkey\n", "")
    finding = only(rule_findings(text, RULE, region=REGION))
    assert "Cache does not state its Engine as a literal" in finding.message


def test_region_matters(rule_findings, monkeypatch):
    # A catalogue where 16.15 exists in eu-west-1 only: the same template passes there and fails here.
    base = load_catalog()
    per_region = {"eu-west-1": ["16.9", "16.15"], REGION: ["16.8", "16.9"]}
    catalog = dataclasses.replace(base, engine_versions={**base.engine_versions, "aurora-postgresql": per_region})
    monkeypatch.setattr(engine_versions_rule, "load_catalog", lambda: catalog)
    assert rule_findings(db_cluster(), RULE, region="eu-west-1") == []
    finding = only(rule_findings(db_cluster(), RULE, region=REGION))
    assert f"aurora-postgresql 16.15 cannot be created in {REGION}" in finding.message
    assert finding.message.endswith("nearest: 16.8, 16.9")
