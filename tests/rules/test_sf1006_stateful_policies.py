"""SF1006: stateful resources carry DeletionPolicy AND UpdateReplacePolicy that keep their data."""

import pytest

RULE = "SF1006"


def resource(name: str, type_: str, policies: str = "", properties: str = "") -> str:
    props = f"    Properties:\n{properties}" if properties else ""
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  {name}:
    Type: {type_}
{policies}{props}"""


CLUSTER_PROPS = """\
      Engine: aurora-postgresql
      EngineVersion: '16.15'
      MasterUsername: streamflix
      ManageMasterUserPassword: true
"""

SNAPSHOT_BOTH = "    DeletionPolicy: Snapshot\n    UpdateReplacePolicy: Snapshot\n"
RETAIN_BOTH = "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n"

CLUSTER_NO_POLICIES = resource("Cluster", "AWS::RDS::DBCluster", "", CLUSTER_PROPS)
CLUSTER_SNAPSHOT = resource("Cluster", "AWS::RDS::DBCluster", SNAPSHOT_BOTH, CLUSTER_PROPS)
CLUSTER_DELETION_ONLY = resource("Cluster", "AWS::RDS::DBCluster", "    DeletionPolicy: Snapshot\n", CLUSTER_PROPS)
CLUSTER_RETAIN = resource("Cluster", "AWS::RDS::DBCluster", RETAIN_BOTH, CLUSTER_PROPS)

AURORA_MEMBER = """\
  Writer:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: aurora-postgresql
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
"""

READ_REPLICA = resource(
    "Replica",
    "AWS::RDS::DBInstance",
    "",
    "      SourceDBInstanceIdentifier: arn:aws:rds:eu-central-1:123456789012:db:primary\n"
    "      DBInstanceClass: db.r6g.large\n",
)

KMS_RETAIN = resource("DataKey", "AWS::KMS::Key", RETAIN_BOTH, "      EnableKeyRotation: true\n")
STREAM_DELETE = resource(
    "Events", "AWS::Kinesis::Stream", "    DeletionPolicy: Delete\n", "      StreamModeDetails:\n        StreamMode: ON_DEMAND\n"
)
STREAM_RETAIN = STREAM_DELETE.replace("    DeletionPolicy: Delete\n", RETAIN_BOTH)


# --- good -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        CLUSTER_SNAPSHOT,
        KMS_RETAIN,
        STREAM_RETAIN,
        resource("Cache", "AWS::ElastiCache::ReplicationGroup", SNAPSHOT_BOTH),
        resource("Files", "AWS::EFS::FileSystem", RETAIN_BOTH),
        resource("Secret", "AWS::SecretsManager::Secret", RETAIN_BOTH),
        resource("Bucket", "AWS::S3::Bucket", RETAIN_BOTH),
        resource("Table", "AWS::DynamoDB::Table", RETAIN_BOTH),
    ],
    ids=["db-cluster-snapshot", "kms-retain", "kinesis-retain", "cache-snapshot", "efs", "secret", "bucket", "table"],
)
def test_stateful_resource_keeps_data(rule_findings, text):
    assert rule_findings(text, RULE) == []


def test_aurora_member_instance_needs_no_policies(rule_findings):
    assert rule_findings(CLUSTER_SNAPSHOT + AURORA_MEMBER, RULE) == []


def test_read_replica_needs_no_policies(rule_findings):
    assert rule_findings(READ_REPLICA, RULE) == []


def test_stateless_resource_needs_no_policies(rule_findings):
    assert rule_findings(resource("Topic", "AWS::SNS::Topic"), RULE) == []


# --- bad ------------------------------------------------------------------


def test_db_cluster_without_policies(rule_findings, line_of):
    findings = rule_findings(CLUSTER_NO_POLICIES, RULE)
    assert [f.rule for f in findings] == [RULE, RULE]
    messages = sorted(f.message for f in findings)
    assert messages == [
        "Cluster (AWS::RDS::DBCluster) has DeletionPolicy: Delete (default); needs Snapshot so its data survives",
        "Cluster (AWS::RDS::DBCluster) has UpdateReplacePolicy: Delete (default); needs Snapshot so its data survives",
    ]
    assert {f.line for f in findings} == {line_of(CLUSTER_NO_POLICIES, "Type: AWS::RDS::DBCluster")}


def test_db_cluster_with_deletion_policy_only(rule_findings, line_of):
    findings = rule_findings(CLUSTER_DELETION_ONLY, RULE)
    assert [f.rule for f in findings] == [RULE]
    assert "Cluster (AWS::RDS::DBCluster) has UpdateReplacePolicy: Delete (default)" in findings[0].message
    assert "needs Snapshot" in findings[0].message
    assert findings[0].line == line_of(CLUSTER_DELETION_ONLY, "Type: AWS::RDS::DBCluster")


def test_db_cluster_with_retain_wants_snapshot(rule_findings):
    findings = rule_findings(CLUSTER_RETAIN, RULE)
    assert len(findings) == 2
    assert all("has" in f.message and ": Retain; needs Snapshot" in f.message for f in findings)


def test_kinesis_stream_with_delete(rule_findings, line_of):
    findings = rule_findings(STREAM_DELETE, RULE)
    assert [f.rule for f in findings] == [RULE, RULE]
    messages = sorted(f.message for f in findings)
    assert messages[0] == "Events (AWS::Kinesis::Stream) has DeletionPolicy: Delete; needs Retain so its data survives"
    assert "UpdateReplacePolicy: Delete (default); needs Retain" in messages[1]
    assert {f.line for f in findings} == {line_of(STREAM_DELETE, "Type: AWS::Kinesis::Stream")}


def test_standalone_db_instance_without_policies(rule_findings):
    text = resource(
        "Database", "AWS::RDS::DBInstance", "", "      Engine: postgres\n      DBInstanceClass: db.r6g.large\n"
    )
    assert len(rule_findings(text, RULE)) == 2


# --- audit log groups -------------------------------------------------------

FLOW_LOG_GROUP = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  FlowLogGroup:
    Type: AWS::Logs::LogGroup
{policies}    Properties:
      RetentionInDays: 365
  FlowLog:
    Type: AWS::EC2::FlowLog
    Properties:
      ResourceId: vpc-1
      ResourceType: VPC
      TrafficType: ALL
      LogGroupName: !Ref FlowLogGroup
  AppLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 14
"""


def test_audit_log_group_retained(rule_findings):
    assert rule_findings(FLOW_LOG_GROUP.format(policies=RETAIN_BOTH), RULE) == []


def test_audit_log_group_without_policies(rule_findings, line_of):
    text = FLOW_LOG_GROUP.format(policies="")
    findings = rule_findings(text, RULE)
    assert sorted(f.message for f in findings) == [
        "FlowLogGroup (audit log group of flow log FlowLog) has DeletionPolicy: Delete (default); needs Retain so the audit trail survives",
        "FlowLogGroup (audit log group of flow log FlowLog) has UpdateReplacePolicy: Delete (default); needs Retain so the audit trail survives",
    ]
    assert {f.line for f in findings} == {line_of(text, "Type: AWS::Logs::LogGroup")}
