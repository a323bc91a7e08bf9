"""SF1001: the template starts with AWSTemplateFormatVersion '2010-09-09' (seed 000 #1)."""

import pytest

RULE = "SF1001"

GOOD = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: StreamFlix test stack
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

# AWS's own examples write the version unquoted; YAML reads it as a date.
GOOD_UNQUOTED_DATE = """\
AWSTemplateFormatVersion: 2010-09-09
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

GOOD_JSON = """\
{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}
}
"""

BAD_MISSING = """\
Description: StreamFlix test stack
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

BAD_NOT_FIRST = """\
Description: StreamFlix test stack
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""

BAD_NOT_FIRST_JSON = """\
{
  "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
  "AWSTemplateFormatVersion": "2010-09-09"
}
"""

BAD_WRONG_VALUE = """\
AWSTemplateFormatVersion: '2010-09-10'
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""


@pytest.mark.parametrize("text", [GOOD, GOOD_UNQUOTED_DATE, GOOD_JSON], ids=["quoted", "unquoted-date", "json"])
def test_good(rule_findings, text):
    assert rule_findings(text, RULE) == []


def test_missing_version(rule_findings):
    findings = rule_findings(BAD_MISSING, RULE)
    assert [f.rule for f in findings] == [RULE]
    assert "AWSTemplateFormatVersion is missing" in findings[0].message
    assert findings[0].line == 1
    assert findings[0].severity == "error"
    assert findings[0].file == "snippet.yaml"


@pytest.mark.parametrize(
    ("text", "first"), [(BAD_NOT_FIRST, "Description"), (BAD_NOT_FIRST_JSON, "Resources")], ids=["yaml", "json"]
)
def test_version_not_first(rule_findings, text, first):
    findings = rule_findings(text, RULE)
    assert [f.rule for f in findings] == [RULE]
    assert "must be the first key" in findings[0].message
    assert repr(first) in findings[0].message
    assert findings[0].line == 1


def test_wrong_value(rule_findings):
    findings = rule_findings(BAD_WRONG_VALUE, RULE)
    assert [f.rule for f in findings] == [RULE]
    assert "must be '2010-09-09'" in findings[0].message
    assert findings[0].line == 1
