"""What the operator documents read from a template: values, capabilities, wiring, RTO."""

from __future__ import annotations

import textwrap

import pytest
from probe import probe_stack

from streamflix.docs.stack import (
    RESOLVE_OUTPUT,
    EnvironmentFacts,
    StackFacts,
    rto_minutes,
)
from streamflix.catalog.limits import partition_of
from streamflix.render import RenderedStack, load_template, render
from streamflix.wiring import wired_parameters


def facts(text: str, config, blueprint: str = "probe", region: str = "eu-central-1") -> StackFacts:
    return EnvironmentFacts.build(config, [probe_stack(blueprint, region, textwrap.dedent(text))])[blueprint]


def test_identifiers_resolve_with_the_suffix_default(env_facts):
    prod = env_facts["prod"]["ha-database"]
    assert prod.stack_name == "streamflix-prod-ha-database"
    assert prod.physical_name("AuroraCluster") == "streamflix-prod-aurora"
    assert prod.physical_name("CacheReplicationGroup") == "streamflix-prod-cache"
    # No name in the template: only AWS knows it.
    assert prod.physical_name("AuroraSubnetGroup") is None
    assert prod.export_name("VpcId") == "streamflix-prod-ha-database-VpcId"
    assert prod.resolve({"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:x"}) is None
    assert (
        prod.resolve(
            {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:x"},
            {"AWS::AccountId": "$AWS_ACCOUNT_ID"},
        )
        == "arn:aws:rds:eu-central-1:$AWS_ACCOUNT_ID:x"
    )


def test_a_getatt_never_resolves_to_a_guess(env_facts):
    prod = env_facts["prod"]["ha-database"]
    assert prod.resolve({"Fn::GetAtt": ["AuroraCluster", "Endpoint.Address"]}) is None
    assert prod.output_of("Service", "Name") == "EcsServiceName"
    assert prod.output_of("AlarmTopic") == "AlarmTopicArn"


ROLE = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      {name}
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {{Service: ecs-tasks.amazonaws.com}}
            Action: sts:AssumeRole
"""


def test_capabilities_follow_the_iam_resources(configs, env_facts):
    assert env_facts["dev"]["ha-database"].capabilities == ["CAPABILITY_IAM"]
    assert facts(ROLE.format(name="Description: unnamed"), configs["dev"]).capabilities == ["CAPABILITY_IAM"]
    assert facts(ROLE.format(name="RoleName: fixed-name"), configs["dev"]).capabilities == ["CAPABILITY_NAMED_IAM"]
    no_iam = """
    AWSTemplateFormatVersion: '2010-09-09'
    Resources:
      Topic: {Type: AWS::SNS::Topic}
    """
    assert facts(no_iam, configs["dev"]).capabilities == []
    macro = no_iam.replace("Resources:", "Transform: AWS::Serverless-2016-10-31\n    Resources:")
    assert facts(macro, configs["dev"]).capabilities == ["CAPABILITY_AUTO_EXPAND"]


@pytest.fixture()
def dr_pair(rendered):
    """The real dev DR renders, primary first."""
    return [rendered["dev"]["dr-primary"], rendered["dev"]["dr-recovery"]]


def undeclared(stack: RenderedStack) -> RenderedStack:
    """A real render without its Metadata.StreamFlix.Wiring."""
    template = load_template(stack.text)
    del template["Metadata"]["StreamFlix"]["Wiring"]
    return RenderedStack(stack.blueprint, stack.region, stack.filename, render(template), stack.resource_count)


def test_documents_read_the_wiring_the_build_reads(configs, dr_pair):
    env = EnvironmentFacts.build(configs["dev"], dr_pair)
    assert {(w.stack, w.parameter, w.source_stack, w.source_output, w.resolve) for w in wired_parameters(dr_pair)} == {
        (name, w.parameter, w.source_blueprint, w.output, w.resolve)
        for name, stack in env.stacks.items()
        for w in stack.wires.values()
    }
    assert {w.detected_by for w in env["dr-recovery"].wires.values()} == {
        "template metadata (Metadata.StreamFlix.Wiring)"
    }
    assert env["dr-recovery"].wires["PrimaryDatabaseInstanceArn"].resolve == RESOLVE_OUTPUT
    # The primary's optional backup key is declared too, though it has a default.
    assert env["dr-primary"].wires["RecoveryBackupKmsKeyArn"].source_blueprint == "dr-recovery"


def test_nothing_is_wired_by_guessing_from_names(configs, dr_pair):
    """PrimaryDatabaseInstanceArn is named like the primary's DatabaseInstanceArn output:
    without the template's own wiring, the documents do not wire it anyway."""
    env = EnvironmentFacts.build(configs["dev"], [undeclared(stack) for stack in dr_pair])
    assert "DatabaseInstanceArn" in env["dr-primary"].outputs
    assert env["dr-recovery"].wires == {} and env["dr-primary"].wires == {}


def test_rto_is_read_from_the_partner_output_else_defaults(configs, env_facts):
    assert rto_minutes(env_facts["dev"], "dr-recovery") == (
        configs["dev"].dr.rto_minutes, "dr-primary.yaml output RecoveryTimeObjectiveMinutes")
    assert rto_minutes(env_facts["dev"], "ha-database")[0] == 15


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_stack_deploys_under_the_naming_convention(env, env_facts, configs):
    from streamflix.config.naming import stack_name

    for blueprint, stack in env_facts[env].stacks.items():
        assert stack.stack_name == stack_name(configs[env].project, configs[env].environment_suffix, blueprint)


@pytest.mark.parametrize(
    ("region", "partition", "suffix"),
    [("eu-west-2", "aws", "amazonaws.com"), ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
     ("us-gov-west-1", "aws-us-gov", "amazonaws.com"), ("us-iso-east-1", "aws-iso", "c2s.ic.gov")],
)
def test_the_partition_comes_from_botocores_endpoint_data(region, partition, suffix, configs):
    assert partition_of(region) == partition
    # and it is what ${AWS::Partition} resolves to in the documents' ARNs
    probe = facts("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic: {Type: AWS::SNS::Topic}\n",
                  configs["dev"], region=region)
    assert probe.resolve({"Fn::Sub": "arn:${AWS::Partition}:sns:x"}) == f"arn:{partition}:sns:x"
    assert probe.resolve({"Fn::Sub": "sns.${AWS::Region}.${AWS::URLSuffix}"}) == f"sns.{region}.{suffix}"


def test_documents_read_templates_and_config_never_the_blueprint_registry():
    """What a document says comes from the rendered templates (and the config object),
    so it cannot describe a blueprint other than the one that rendered the template."""
    from importlib import resources

    sources = {f.name: f.read_text(encoding="utf-8") for f in resources.files("streamflix.docs").iterdir() if f.name.endswith(".py")}
    assert "stack.py" in sources and "runbook.py" in sources
    assert [name for name, text in sources.items() if "streamflix.registry" in text or "discover(" in text] == []
