"""SF1005: every credential rotates within 30 days by a real mechanism (seed 000 #6)."""

import pytest

RULE = "SF1005"

SECRET = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  AppSecret:
    Type: AWS::SecretsManager::Secret
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      Description: StreamFlix app credentials
      GenerateSecretString:
        SecretStringTemplate: '{"username": "app"}'
        GenerateStringKey: password
"""


def schedule(body: str, secret_id: str = "!Ref AppSecret") -> str:
    return f"""\
  AppSecretRotation:
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: {secret_id}
{body}"""


HOSTED_30_DAYS = schedule("""\
      HostedRotationLambda:
        RotationType: PostgreSQLSingleUser
      RotationRules:
        AutomaticallyAfterDays: 30
""")

HOSTED_90_DAYS = HOSTED_30_DAYS.replace("AutomaticallyAfterDays: 30", "AutomaticallyAfterDays: 90")

LAMBDA_RATE_7_DAYS = schedule("""\
      RotationLambdaARN: !GetAtt RotationFunction.Arn
      RotationRules:
        ScheduleExpression: rate(7 days)
""")

NO_FUNCTION = schedule("""\
      RotationRules:
        AutomaticallyAfterDays: 30
""")

NO_RULES = schedule("""\
      HostedRotationLambda:
        RotationType: PostgreSQLSingleUser
""")


def db_cluster(credentials: str) -> str:
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      Engine: aurora-postgresql
      EngineVersion: '16.15'
      MasterUsername: streamflix
{credentials}"""


AURORA_MEMBER = """\
  Writer:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: aurora-postgresql
      DBClusterIdentifier: !Ref Cluster
      DBInstanceClass: db.r6g.large
"""


def replication_group(extra: str = "") -> str:
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cache:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: StreamFlix sessions
      Engine: valkey
      EngineVersion: '8.2'
      CacheNodeType: cache.r7g.large
      NumCacheClusters: 2
      TransitEncryptionEnabled: true
{extra}"""


def only(findings):
    assert [f.rule for f in findings] == [RULE], findings
    return findings[0]


# --- good -----------------------------------------------------------------


@pytest.mark.parametrize(
    "rotation", [HOSTED_30_DAYS, LAMBDA_RATE_7_DAYS], ids=["hosted-30-days", "lambda-rate-7-days"]
)
def test_secret_rotates(rule_findings, rotation):
    assert rule_findings(SECRET + rotation, RULE) == []


def test_rate_of_one_day(rule_findings):
    rotation = LAMBDA_RATE_7_DAYS.replace("rate(7 days)", "rate(1 day)")
    assert rule_findings(SECRET + rotation, RULE) == []


def test_cluster_with_managed_master_password(rule_findings):
    assert rule_findings(db_cluster("      ManageMasterUserPassword: true\n"), RULE) == []


def test_aurora_member_inherits_cluster_credentials(rule_findings):
    text = db_cluster("      ManageMasterUserPassword: true\n") + AURORA_MEMBER
    assert rule_findings(text, RULE) == []


def test_cache_with_iam_user_group(rule_findings):
    text = replication_group("      UserGroupIds:\n        - !Ref UserGroup\n")
    assert rule_findings(text, RULE) == []


def test_cluster_with_managed_master_password_as_string(rule_findings):
    assert rule_findings(db_cluster("      ManageMasterUserPassword: 'true'\n"), RULE) == []


# --- bad ------------------------------------------------------------------


def test_secret_without_rotation_schedule(rule_findings, line_of):
    finding = only(rule_findings(SECRET, RULE))
    assert "secret AppSecret never rotates (no RotationSchedule)" in finding.message
    assert finding.line == line_of(SECRET, "Type: AWS::SecretsManager::Secret")


def test_schedule_for_another_secret_does_not_count(rule_findings):
    text = SECRET + HOSTED_30_DAYS.replace("!Ref AppSecret", "!Ref OtherSecret")
    finding = only(rule_findings(text, RULE))
    assert "secret AppSecret never rotates" in finding.message


def test_rotation_every_90_days(rule_findings, line_of):
    text = SECRET + HOSTED_90_DAYS
    finding = only(rule_findings(text, RULE))
    assert "AppSecret rotates every 90 days; at most 30 allowed" in finding.message
    assert finding.line == line_of(text, "Type: AWS::SecretsManager::RotationSchedule")


def test_rate_expression_over_30_days(rule_findings):
    text = SECRET + LAMBDA_RATE_7_DAYS.replace("rate(7 days)", "rate(45 days)")
    finding = only(rule_findings(text, RULE))
    assert "rotates every 45 days" in finding.message


def test_schedule_without_rules(rule_findings):
    finding = only(rule_findings(SECRET + NO_RULES, RULE))
    assert "AppSecret rotates every ? days; at most 30 allowed" in finding.message


def test_schedule_naming_no_function(rule_findings, line_of):
    text = SECRET + NO_FUNCTION
    finding = only(rule_findings(text, RULE))
    assert "rotation of AppSecret names no rotation function" in finding.message
    assert finding.line == line_of(text, "Type: AWS::SecretsManager::RotationSchedule")


def test_cluster_with_master_user_password(rule_findings, line_of):
    text = db_cluster("      MasterUserPassword: '{{resolve:ssm-secure:/streamflix/db}}'\n")
    finding = only(rule_findings(text, RULE))
    assert "Cluster sets MasterUserPassword; use ManageMasterUserPassword" in finding.message
    assert finding.line == line_of(text, "Type: AWS::RDS::DBCluster")


def test_cluster_with_no_managed_secret(rule_findings):
    finding = only(rule_findings(db_cluster(""), RULE))
    assert "Cluster has no RDS-managed, rotating master secret" in finding.message


def test_cluster_with_managed_password_false(rule_findings):
    finding = only(rule_findings(db_cluster("      ManageMasterUserPassword: false\n"), RULE))
    assert "ManageMasterUserPassword: true" in finding.message


def test_replication_group_with_auth_token(rule_findings, line_of):
    text = replication_group("      AuthToken: '{{resolve:secretsmanager:cache-token}}'\n")
    finding = only(rule_findings(text, RULE))
    assert "Cache uses an AUTH token, which nothing rotates" in finding.message
    assert finding.line == line_of(text, "Type: AWS::ElastiCache::ReplicationGroup")
