"""SF2001: prod keeps deletion protection, 7-day backups and 1-year audit logs, unless overridden with a reason."""

import pytest

RULE = "SF2001"


def template(tier: str, resources: str, overrides: str = "") -> str:
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Metadata:
  StreamFlix:
    Tier: {tier}
{overrides}Resources:
{resources}"""


CLUSTER = """\
  Cluster:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      Engine: aurora-postgresql
      DeletionProtection: {protection}
      BackupRetentionPeriod: {days}
"""
MEMBER = """\
  Writer:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: aurora-postgresql
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
"""
ALB = """\
  Balancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Subnets: [subnet-1, subnet-2]
      LoadBalancerAttributes:
        - Key: deletion_protection.enabled
          Value: '{enabled}'
"""
FLOW_LOGS = """\
  FlowLogGroup:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      RetentionInDays: {days}
  FlowLog:
    Type: AWS::EC2::FlowLog
    Properties:
      ResourceId: vpc-1
      ResourceType: VPC
      TrafficType: ALL
      LogGroupName: !Ref FlowLogGroup
"""
OVERRIDE = """\
    SecurityOverrides:
      - Rule: {rule}
        Reason: Migration window agreed with the DPO until 2026-01-31
"""

GOOD_PROD = template(
    "prod", CLUSTER.format(protection="true", days=14) + MEMBER + ALB.format(enabled="true") + FLOW_LOGS.format(days=365)
)


def test_prod_with_every_protection_passes(rule_findings):
    assert rule_findings(GOOD_PROD, RULE) == []


def test_dev_may_go_without(rule_findings):
    text = template("dev", CLUSTER.format(protection="false", days=1) + ALB.format(enabled="false") + FLOW_LOGS.format(days=30))
    assert rule_findings(text, RULE) == []


def test_missing_tier_is_a_finding(rule_findings):
    text = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n" + MEMBER
    findings = rule_findings(text, RULE)
    assert len(findings) == 1 and "Metadata.StreamFlix.Tier is None" in findings[0].message


def test_prod_cluster_without_deletion_protection(rule_findings, line_of):
    text = template("prod", CLUSTER.format(protection="false", days=14))
    findings = rule_findings(text, RULE)
    assert [f.message for f in findings] == ["Cluster (AWS::RDS::DBCluster) in prod needs DeletionProtection: true"]
    assert findings[0].line == line_of(text, "Type: AWS::RDS::DBCluster")


def test_prod_load_balancer_without_deletion_protection(rule_findings):
    findings = rule_findings(template("prod", ALB.format(enabled="false")), RULE)
    assert [f.message for f in findings] == [
        "Balancer (load balancer) in prod needs the attribute deletion_protection.enabled: 'true'"
    ]


def test_prod_short_backups(rule_findings):
    findings = rule_findings(template("prod", CLUSTER.format(protection="true", days=3)), RULE)
    assert [f.message for f in findings] == ["Cluster keeps automated backups 3 days; prod needs at least 7"]


def test_prod_short_audit_log_retention(rule_findings):
    findings = rule_findings(template("prod", FLOW_LOGS.format(days=30)), RULE)
    assert [f.message for f in findings] == [
        "FlowLogGroup (audit log group of flow log FlowLog) keeps logs 30 days; prod needs at least 365"
    ]


@pytest.mark.parametrize(
    ("rule", "resources"),
    [
        ("deletion-protection", CLUSTER.format(protection="false", days=14) + ALB.format(enabled="false")),
        ("backup-retention", CLUSTER.format(protection="true", days=1)),
        ("audit-log-retention", FLOW_LOGS.format(days=30)),
    ],
)
def test_a_recorded_override_lowers_only_its_floor(rule_findings, rule, resources):
    overridden = template("prod", resources, OVERRIDE.format(rule=rule))
    assert rule_findings(overridden, RULE) == []
    other = "backup-retention" if rule != "backup-retention" else "deletion-protection"
    assert rule_findings(template("prod", resources, OVERRIDE.format(rule=other)), RULE) != []
