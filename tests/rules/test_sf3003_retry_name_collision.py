"""SF3003: a fixed-name resource kept by a failed create's rollback blocks the retry (finding 2)."""

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  EventStream:
    Type: AWS::Kinesis::Stream
    DeletionPolicy: {policy}
    UpdateReplacePolicy: Retain
    Properties: {{Name: streamflix-prod-events, ShardCount: 1}}
  Unnamed:
    Type: AWS::Kinesis::Stream
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties: {{ShardCount: 1}}
"""


def test_bad_fixed_name_with_retain(environment_findings):
    findings = environment_findings({"ha": TEMPLATE.format(policy="Retain")}, "SF3003")
    assert len(findings) == 1
    assert findings[0].message.startswith("EventStream has a fixed Name and DeletionPolicy: Retain")


def test_good_retain_except_on_create(environment_findings):
    assert environment_findings({"ha": TEMPLATE.format(policy="RetainExceptOnCreate")}, "SF3003") == []
