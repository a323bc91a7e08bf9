"""SF1002: every output is exported with a non-empty Name (seed 000 #3)."""

import pytest

RULE = "SF1002"

HEADER = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Topic:
    Type: AWS::SNS::Topic
Outputs:
"""

GOOD = HEADER + """\
  TopicArn:
    Description: The alarm topic
    Value: !Ref Topic
    Export:
      Name: !Sub '${AWS::StackName}-TopicArn'
  TopicName:
    Value: !GetAtt Topic.TopicName
    Export:
      Name: streamflix-topic-name
"""

GOOD_NO_OUTPUTS = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

# `Export:` followed by nothing is YAML null: the seed failure.
BAD_EXPORT_NULL = HEADER + """\
  TopicArn:
    Value: !Ref Topic
    Export:
"""

BAD_NAME_NULL = HEADER + """\
  TopicArn:
    Value: !Ref Topic
    Export:
      Name: null
"""

BAD_NAME_MISSING = HEADER + """\
  TopicArn:
    Value: !Ref Topic
    Export: {}
"""

BAD_NAME_BLANK = HEADER + """\
  TopicArn:
    Value: !Ref Topic
    Export:
      Name: '  '
"""

BAD_NO_EXPORT = HEADER + """\
  TopicArn:
    Value: !Ref Topic
"""


@pytest.mark.parametrize("text", [GOOD, GOOD_NO_OUTPUTS], ids=["exports", "no-outputs"])
def test_good(rule_findings, text):
    assert rule_findings(text, RULE) == []


def test_export_null(rule_findings, line_of):
    findings = rule_findings(BAD_EXPORT_NULL, RULE)
    assert [f.rule for f in findings] == [RULE]
    assert "output TopicArn has no Export" in findings[0].message
    assert "${AWS::StackName}-TopicArn" in findings[0].message
    # The output's mapping starts at its first key, the line after "TopicArn:".
    assert findings[0].line == line_of(BAD_EXPORT_NULL, "Value: !Ref Topic", after="Outputs:")


@pytest.mark.parametrize(
    "text", [BAD_NAME_NULL, BAD_NAME_MISSING, BAD_NAME_BLANK], ids=["name-null", "name-missing", "name-blank"]
)
def test_export_without_name(rule_findings, line_of, text):
    findings = rule_findings(text, RULE)
    assert [f.rule for f in findings] == [RULE]
    assert "output TopicArn has an Export without a Name" in findings[0].message
    assert findings[0].line == line_of(text, "Value: !Ref Topic", after="Outputs:")


def test_output_without_export(rule_findings, line_of):
    findings = rule_findings(BAD_NO_EXPORT, RULE)
    assert [f.rule for f in findings] == [RULE]
    assert "output TopicArn has no Export" in findings[0].message
    assert findings[0].line == line_of(BAD_NO_EXPORT, "Value: !Ref Topic", after="Outputs:")


def test_each_bad_output_reported_once(rule_findings):
    text = GOOD + """\
  Broken:
    Value: !Ref Topic
    Export:
  AlsoBroken:
    Value: !Ref Topic
"""
    findings = rule_findings(text, RULE)
    assert sorted(f.message.split()[1] for f in findings) == ["AlsoBroken", "Broken"]
