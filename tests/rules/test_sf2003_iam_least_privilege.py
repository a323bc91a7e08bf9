"""SF2003: least privilege in identity policies, service-only trust, sane resource policies."""

import pytest

from streamflix.checks.rules.iam_least_privilege import action_levels

RULE = "SF2003"


def role(statements: str, trust: str = "Service: ecs-tasks.amazonaws.com", managed: str = "") -> str:
    return f"""\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  AppRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              {trust}
            Action: sts:AssumeRole
{managed}      Policies:
        - PolicyName: app
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
{statements}"""


SCOPED = """\
              - Effect: Allow
                Action: [kinesis:PutRecord, kinesis:PutRecords]
                Resource: !GetAtt Stream.Arn
"""
TOKEN_ON_STAR = """\
              - Effect: Allow
                Action: ecr:GetAuthorizationToken
                Resource: '*'
"""
READ_ON_STAR = """\
              - Effect: Allow
                Action: [logs:DescribeLogGroups, ec2:DescribeSubnets]
                Resource: '*'
"""
WRITE_ON_STAR = """\
              - Effect: Allow
                Action: [kinesis:PutRecord, logs:DescribeLogGroups]
                Resource: '*'
"""
WILDCARD_WRITE_ON_STAR = """\
              - Effect: Allow
                Action: s3:Put*
                Resource: '*'
"""
ADMIN = """\
              - Effect: Allow
                Action: '*'
                Resource: '*'
"""
SERVICE_STAR = """\
              - Effect: Allow
                Action: dynamodb:*
                Resource: arn:aws:dynamodb:eu-central-1:123456789012:table/x
"""
NOT_ACTION = """\
              - Effect: Allow
                NotAction: iam:*
                Resource: arn:aws:s3:::bucket
"""
DENY_STAR = """\
              - Effect: Deny
                Action: '*'
                Resource: '*'
"""

KEY = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: true
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Sid: Root
            Effect: Allow
            Principal:
              AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'
            Action: kms:*
            Resource: '*'
"""


def test_action_levels_come_from_the_iam_database():
    assert action_levels("ecr:GetAuthorizationToken") == (("Read", True),)
    assert action_levels("kinesis:PutRecord")[0][0] == "Write"
    assert {level for level, _ in action_levels("logs:Describe*")} <= {"List", "Read"}
    assert action_levels("nosuchservice:DoThing") == ()


@pytest.mark.parametrize(
    "text",
    [role(SCOPED), role(TOKEN_ON_STAR), role(READ_ON_STAR), role(SCOPED + DENY_STAR), KEY],
    ids=["scoped", "wildcard-only-action", "read-on-star", "deny-star", "standard-key-policy"],
)
def test_good(rule_findings, text):
    assert rule_findings(text, RULE) == []


def test_write_on_star(rule_findings, line_of):
    text = role(WRITE_ON_STAR)
    findings = rule_findings(text, RULE)
    assert [f.message for f in findings] == [
        "AppRole policy app allows kinesis:PutRecord on Resource '*'; actions above Read/List must name their resources"
    ]
    assert findings[0].line == line_of(text, "- Effect: Allow", after="PolicyName")


def test_wildcard_that_expands_to_writes_on_star(rule_findings):
    assert "allows s3:Put* on Resource '*'" in rule_findings(role(WILDCARD_WRITE_ON_STAR), RULE)[0].message


def test_unknown_action_on_star_is_treated_as_write(rule_findings):
    text = role(TOKEN_ON_STAR.replace("ecr:GetAuthorizationToken", "madeup:Thing"))
    assert "madeup:Thing on Resource '*'" in rule_findings(text, RULE)[0].message


def test_inline_admin(rule_findings):
    assert [f.message for f in rule_findings(role(ADMIN), RULE)] == [
        "AppRole policy app is an inline administrator policy (Action '*' on Resource '*')"
    ]


def test_service_wide_action(rule_findings):
    assert "allows every action of dynamodb (dynamodb:*)" in rule_findings(role(SERVICE_STAR), RULE)[0].message


def test_not_action(rule_findings):
    assert "allows with NotAction" in rule_findings(role(NOT_ACTION), RULE)[0].message


def test_broad_managed_policy(rule_findings):
    managed = "      ManagedPolicyArns:\n        - arn:aws:iam::aws:policy/AdministratorAccess\n"
    assert [f.message for f in rule_findings(role(SCOPED, managed=managed), RULE)] == [
        "AppRole attaches the broad managed policy AdministratorAccess"
    ]


@pytest.mark.parametrize(
    "trust", ["AWS: arn:aws:iam::123456789012:root", "Service: ecs-tasks.amazonaws.com\n              AWS: '*'"]
)
def test_trust_policy_must_name_only_service_principals(rule_findings, trust):
    findings = rule_findings(role(SCOPED, trust=trust), RULE)
    assert len(findings) == 1 and "trust policy must name only service principals (found AWS)" in findings[0].message


def test_key_policy_granting_kms_star_to_someone_else(rule_findings):
    text = KEY.replace("AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'", "AWS: arn:aws:iam::123456789012:role/ops")
    assert "allows kms:* to a principal other than the account root" in rule_findings(text, RULE)[0].message


def test_key_policy_open_to_anyone(rule_findings):
    text = KEY.replace("Action: kms:*", "Action: kms:Decrypt").replace(
        "AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'", "AWS: '*'"
    )
    assert "allows any principal ('*') without a Condition" in rule_findings(text, RULE)[0].message
