"""SF2008: suppressions live on one resource and say why."""

import pytest
from troposphere import sns

from streamflix.checks.suppressions import suppressions_in
from streamflix.render import load_template, render
from streamflix.template import StackIdentity, StackTemplate

RULE = "SF2008"


def topic(metadata: str) -> str:
    return f"AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Metadata:\n{metadata}"


def suppressed_template() -> str:
    t = StackTemplate(StackIdentity("demo", "dev", "dev", "eu-central-1", "streamflix", "2025-01-01"), "demo", "dev", 8)
    resource = t.add_resource(sns.Topic("Topic"))
    t.suppress_lint(resource, "W3005", "the dependency is needed for ordering on delete")
    t.suppress_scan(resource, "CKV_AWS_26", "alarm topic is encrypted through a key policy grant")
    return render(t.to_dict())


def test_suppressions_made_by_the_template_factory_are_explained(rule_findings):
    text = suppressed_template()
    assert rule_findings(text, RULE) == []
    assert [(s.tool, s.check, s.reason) for s in suppressions_in(load_template(text), "t.yaml")] == [
        ("cfn-lint", "W3005", "the dependency is needed for ordering on delete"),
        ("checkov", "CKV_AWS_26", "alarm topic is encrypted through a key policy grant"),
    ]


def test_factory_refuses_a_suppression_without_a_reason():
    t = StackTemplate(StackIdentity("demo", "dev", "dev", "eu-central-1", "streamflix", "2025-01-01"), "demo", "dev", 8)
    resource = t.add_resource(sns.Topic("Topic"))
    with pytest.raises(ValueError, match="one-line reason"):
        t.suppress_scan(resource, "CKV_AWS_26", " ")
    with pytest.raises(ValueError, match="not a checkov check id"):
        t.suppress_scan(resource, "W3005", "wrong tool")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("      cfn-lint:\n        config:\n          ignore_checks: [W3005]\n",
         "Topic ignores cfn-lint W3005 without a reason in StreamFlixLintSuppressions"),
        ("      checkov:\n        skip:\n          - id: CKV_AWS_26\n",
         "Topic skips checkov CKV_AWS_26 without a comment saying why"),
    ],
)
def test_unexplained(rule_findings, metadata, message):
    assert [f.message for f in rule_findings(topic(metadata), RULE)] == [message]


def test_template_wide_silencing(rule_findings):
    text = "AWSTemplateFormatVersion: '2010-09-09'\nMetadata:\n  cfn-lint:\n    config:\n      ignore_checks: [W]\nResources: {}\n"
    assert "template-level cfn-lint configuration" in rule_findings(text, RULE)[0].message
