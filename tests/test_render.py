"""The YAML emitter: byte for byte what cfn-flip writes, on every preset and on the awkward cases."""

from __future__ import annotations

import json

import cfn_flip
import pytest

from streamflix.config import PRESETS
from streamflix.pipeline import build_template
from streamflix.render import load_template, render, to_yaml

AWKWARD = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "x" * 250,
    "Parameters": {"Account": {"Type": "String", "Default": "012345678901"}, "Zero": {"Type": "String", "Default": "0abc"}},
    "Resources": {
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}},
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/x",
                           "DefinitionString": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}},
        },
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"ZipFile": "\n".join(f"line {n}: ünïcode 'q' \"dq\" #hash: colon" for n in range(12))},
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Description": {"Fn::Sub": ["${A}-x", {"A": {"Ref": "AWS::StackName"}}]},
                "Environment": {"Variables": {"SHORT": "two\nlines", "EMPTY": "", "YES": "yes", "NUM": "123",
                                              "FLOAT": 1.5, "BOOL": True, "INT": 7, "NULLISH": "null"}},
                "Tags": [{"Key": "k", "Value": {"Fn::Join": ["", ["a", {"Ref": "Zero"}]]}}],
            },
            "Condition": "IsProd",
            "DependsOn": ["Policy"],
        },
    },
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Account"}, "prod"]}},
    "Outputs": {"Arn": {"Value": {"Fn::GetAtt": "Fn.Arn"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-Arn"}}}},
}


def _cfn_flip(body) -> str:
    return cfn_flip.to_yaml(json.dumps(body, indent=2, ensure_ascii=False), clean_up=False, long_form=False)


@pytest.mark.parametrize("env", PRESETS)
def test_every_preset_renders_the_bytes_cfn_flip_writes(configs, env):
    for blueprint in ("ha-database", "dr-primary", "dr-recovery"):
        body = build_template(configs[env], blueprint).to_dict()
        assert render(body) == _cfn_flip(body), f"{env}/{blueprint}"


def test_awkward_values_render_the_bytes_cfn_flip_writes():
    text = render(AWKWARD)
    assert text == _cfn_flip(AWKWARD)
    # and read back, it is the same template (short forms, literal JSON body, quoting)
    back = load_template(text)
    assert back["Resources"]["Fn"]["Properties"]["Role"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert back["Parameters"]["Account"]["Default"] == "012345678901"
    assert back["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]["YES"] == "yes"
    assert "DefinitionString: |" in text  # cfn-flip keeps a state machine definition as literal JSON


def test_to_yaml_does_not_sort_keys():
    assert to_yaml(json.dumps({"b": 1, "a": {"z": 1, "y": 2}})) == "b: 1\na:\n  z: 1\n  y: 2\n"
