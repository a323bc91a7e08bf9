"""SF2002: no credentials in parameters or properties; only dynamic references or service-managed secrets."""

import pytest

RULE = "SF2002"

HEAD = "AWSTemplateFormatVersion: '2010-09-09'\n"

MANAGED = HEAD + """\
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      Engine: aurora-postgresql
      MasterUsername: admin
      ManageMasterUserPassword: true
"""
DYNAMIC = HEAD + """\
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 32}
  Database:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      MasterUsername: admin
      MasterUserPassword: !Sub '{{resolve:secretsmanager:${Secret}:SecretString:password}}'
"""
TASK_WITH_SECRET_ARN = HEAD + """\
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: app
          Image: nginx
          Environment:
            - Name: DB_SECRET_ARN
              Value: arn:aws:secretsmanager:eu-central-1:123456789012:secret:db
"""


@pytest.mark.parametrize("text", [MANAGED, DYNAMIC, TASK_WITH_SECRET_ARN], ids=["managed", "dynamic-reference", "secret-arn"])
def test_good(rule_findings, text):
    assert rule_findings(text, RULE) == []


def test_password_parameter(rule_findings, line_of):
    text = HEAD + "Parameters:\n  DbPassword:\n    Type: String\nResources: {}\n"
    findings = rule_findings(text, RULE)
    assert len(findings) == 1 and "parameter DbPassword carries a credential" in findings[0].message
    assert findings[0].line == line_of(text, "Type: String")


def test_noecho_parameter_with_a_neutral_name(rule_findings):
    text = HEAD + "Parameters:\n  Value:\n    Type: String\n    NoEcho: true\nResources: {}\n"
    assert "parameter Value carries a credential" in rule_findings(text, RULE)[0].message


def test_noecho_default(rule_findings):
    text = HEAD + "Parameters:\n  Seed:\n    Type: String\n    NoEcho: true\n    Default: hunter2\nResources: {}\n"
    assert rule_findings(text, RULE)[0].message == "parameter Seed is NoEcho with a Default: the secret is in the template"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("  Db:\n    Type: AWS::RDS::DBCluster\n    Properties:\n      MasterUserPassword: hunter2hunter2\n",
         "Db Properties.MasterUserPassword"),
        ("  Cache:\n    Type: AWS::ElastiCache::ReplicationGroup\n    Properties:\n      AuthToken: !Ref Token\n",
         "Cache Properties.AuthToken"),
        ("  User:\n    Type: AWS::ElastiCache::User\n    Properties:\n      Passwords: [aaaaaaaaaaaaaaaaaaaa]\n",
         "User Properties.Passwords.0"),
        ("  Task:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n"
         "        - Name: app\n          Environment:\n            - Name: DB_PASSWORD\n              Value: hunter2\n",
         "Task Properties.ContainerDefinitions.0.Environment.DB_PASSWORD"),
        ("  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Environment:\n        Variables:\n"
         "          API_TOKEN: abc\n", "Fn Properties.Environment.Variables.API_TOKEN"),
    ],
    ids=["master-password", "auth-token", "cache-user-passwords", "container-env", "lambda-env"],
)
def test_literal_secrets(rule_findings, body, path):
    text = HEAD + "Parameters:\n  Token:\n    Type: String\nResources:\n" + body
    messages = [f.message for f in rule_findings(text, RULE) if not f.message.startswith("parameter")]
    assert len(messages) == 1 and messages[0].startswith(path + " holds a credential")
