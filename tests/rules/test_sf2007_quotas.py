"""SF2007: CloudFormation's template quotas; large-but-legal bodies get an S3 deploy note instead."""

import pytest

from streamflix.checks import run_rules
from streamflix.checks.rules.quotas import MAX_BODY_BYTES, MAX_INLINE_BODY_BYTES, s3_deploy_note
from streamflix.render import load_template

RULE = "SF2007"


def topics(count: int) -> str:
    body = "".join(f"  Topic{n}:\n    Type: AWS::SNS::Topic\n" for n in range(count))
    return "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n" + body


def outputs(count: int) -> str:
    body = "".join(f"  Out{n}:\n    Value: x\n    Export: {{Name: out{n}}}\n" for n in range(count))
    return topics(1) + "Outputs:\n" + body


def test_within_quotas(rule_findings):
    assert rule_findings(topics(500), RULE) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (topics(501), "501 resources; CloudFormation allows at most 500 (split the stack)"),
        (outputs(201), "201 outputs; CloudFormation allows at most 200 (split the stack)"),
    ],
)
def test_over_a_count_quota(rule_findings, text, message):
    assert [f.message for f in rule_findings(text, RULE)] == [message]


def test_body_over_one_megabyte_is_an_error():
    template = load_template(topics(1))
    findings = [f for f in run_rules(template, region="eu-central-1", filename="t.yaml", body_bytes=MAX_BODY_BYTES + 1) if f.rule == RULE]
    assert [f.severity for f in findings] == ["error"]
    assert "1,048,577 bytes" in findings[0].message


def test_body_over_the_inline_limit_is_only_a_note():
    template = load_template(topics(1))
    assert [f for f in run_rules(template, region="eu-central-1", filename="t.yaml", body_bytes=90_000) if f.rule == RULE] == []
    note = s3_deploy_note("out/prod/ha-database.yaml", 90_000, "streamflix-prod-ha-database", "eu-central-1")
    assert "aws cloudformation deploy --template-file out/prod/ha-database.yaml" in note and "--s3-bucket" in note
    assert s3_deploy_note("small.yaml", MAX_INLINE_BODY_BYTES, "s", "eu-central-1") is None
