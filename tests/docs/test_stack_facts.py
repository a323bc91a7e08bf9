"""What the operator documents read from a template: values, capabilities, wiring, RTO."""

from __future__ import annotations

import json
import textwrap

import pytest
from probe import probe_stack

from streamflix.docs.stack import (
    RESOLVE_OUTPUT,
    EnvironmentFacts,
    StackFacts,
    partition_of,
    rto_minutes,
)
from streamflix.render import RenderedStack, load_template, render


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


def undeclared(stack: RenderedStack, rename: tuple[str, str] | None = None) -> RenderedStack:
    """A real render without its Metadata.StreamFlix.Wiring (and with a parameter renamed), as older templates were."""
    template = load_template(stack.text)
    del template["Metadata"]["StreamFlix"]["Wiring"]
    text = render(template)
    if rename:
        text = text.replace(*rename)
    return RenderedStack(stack.blueprint, stack.region, stack.filename, text, stack.resource_count)


def test_wiring_is_read_by_naming_convention_when_nothing_declares_it(configs, dr_pair):
    env = EnvironmentFacts.build(configs["dev"], [undeclared(stack) for stack in dr_pair])
    wires = env["dr-recovery"].wires
    assert wires["PrimaryDatabaseInstanceArn"].source_blueprint == "dr-primary"
    assert wires["PrimaryDatabaseInstanceArn"].output == "DatabaseInstanceArn"
    assert wires["PrimaryDatabaseInstanceArn"].resolve == RESOLVE_OUTPUT
    assert {w.detected_by for w in wires.values()} == {"naming convention"}
    # Parameters with a default are not guessed at (ServiceTaskCount; the primary's optional backup key).
    assert "ServiceTaskCount" not in wires and env["dr-primary"].wires == {}
    assert env.deploy_order() == ["dr-primary", "dr-recovery"]


def test_template_metadata_wiring_wins_over_the_convention(configs, dr_pair):
    env = EnvironmentFacts.build(configs["dev"], dr_pair)
    assert {w.detected_by for w in env["dr-recovery"].wires.values()} == {
        "template metadata (Metadata.StreamFlix.Wiring)"
    }
    # The primary's optional backup key is declared too, though it has a default.
    assert env["dr-primary"].wires["RecoveryBackupKmsKeyArn"].source_blueprint == "dr-recovery"


def test_a_wiring_file_among_the_built_files_is_read(configs, dr_pair):
    primary, recovery = dr_pair
    renamed = undeclared(recovery, ("PrimaryDatabaseInstanceArn", "SourceDbArn"))  # no convention can find this one
    wiring = {
        "environment": "dev",
        "parameters": [
            {
                "stack": "dr-recovery",
                "parameter": "SourceDbArn",
                "required": True,
                "from": {"stack": "dr-primary", "output": "DatabaseInstanceArn", "resolve": "stack-output"},
            },
        ],
    }
    without = EnvironmentFacts.build(configs["dev"], [primary, renamed])
    assert "SourceDbArn" not in without["dr-recovery"].wires
    env = EnvironmentFacts.build(configs["dev"], [primary, renamed], {"wiring.json": json.dumps(wiring)})
    wire = env["dr-recovery"].wires["SourceDbArn"]
    assert (wire.source_blueprint, wire.output, wire.detected_by) == (
        "dr-primary",
        "DatabaseInstanceArn",
        "wiring file wiring.json",
    )


def test_an_ambiguous_convention_match_is_not_wired(configs, dr_pair):
    primary, recovery = (undeclared(stack) for stack in dr_pair)
    twin = probe_stack("other-primary", "eu-west-2", primary.text.replace("dr-primary", "other-primary"))
    env = EnvironmentFacts.build(configs["dev"], [primary, recovery, twin])
    assert "PrimaryDatabaseInstanceArn" not in env["dr-recovery"].wires


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
    ("region", "partition"),
    [("eu-west-2", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("us-iso-east-1", "aws-iso")],
)
def test_the_partition_comes_from_botocores_endpoint_data(region, partition, configs):
    assert partition_of(region) == partition
    # and it is what ${AWS::Partition} resolves to in the documents' ARNs
    probe = facts("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic: {Type: AWS::SNS::Topic}\n",
                  configs["dev"], region=region)
    assert probe.resolve({"Fn::Sub": "arn:${AWS::Partition}:sns:x"}) == f"arn:{partition}:sns:x"
