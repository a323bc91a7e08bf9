"""streamflix.cfn: the one reading of CloudFormation's truthiness and references."""

from __future__ import annotations

import copy

import pytest

from streamflix.cfn import Reference, is_true, ref_name, references, resource_dependencies, target_of, walk_references
from streamflix.render import load_template


@pytest.mark.parametrize("value", [True, "true", "True", "TRUE"])
def test_true_in_every_spelling_cloudformation_accepts(value):
    assert is_true(value)


@pytest.mark.parametrize("value", [False, "false", "yes", "1", 1, None, {"Ref": "Flag"}, ["true"], ""])
def test_anything_else_is_not_true(value):
    assert not is_true(value)


def test_references_cover_ref_getatt_and_sub():
    value = {"Fn::Join": ["", [{"Ref": "A"}, {"Fn::GetAtt": ["B", "Arn"]}, {"Fn::GetAtt": "C.Arn"},
                               {"Fn::Sub": "${D}-${E.Arn}-${!Literal}-${AWS::Region}"},
                               {"Fn::Sub": ["${Local}-${F}", {"Local": {"Ref": "G"}}]}]]}
    assert references(value) == {"A", "B", "C", "D", "E", "F", "G"}


def test_each_reference_says_how_it_is_resolved():
    value = [{"Fn::Sub": "${Bucket.Arn}/${Prefix}"}, {"Fn::GetAtt": ["Db", "Endpoint.Address"]}, {"Ref": "AWS::Region"}]
    assert list(walk_references(value)) == [
        Reference("GetAtt", "Bucket", "Arn"),
        Reference("Ref", "Prefix"),
        Reference("GetAtt", "Db", "Endpoint.Address"),
        Reference("Ref", "AWS::Region"),
    ]
    assert references(value) == {"Bucket", "Prefix", "Db"}, "pseudo parameters are not names of the template"


def test_a_sub_variable_named_like_a_resource_is_local_not_a_reference():
    value = {"Fn::Sub": ["${Vpc}-${Vpc.Attr}", {"Vpc": {"Ref": "OtherVpc"}}]}
    assert references(value) == {"OtherVpc"}


def test_ref_name_is_a_ref_only_and_target_of_also_follows_getatt():
    assert ref_name({"Ref": "Key"}) == target_of({"Ref": "Key"}) == "Key"
    assert ref_name({"Fn::GetAtt": ["Key", "Arn"]}) is None
    assert target_of({"Fn::GetAtt": ["Key", "Arn"]}) == target_of({"Fn::GetAtt": "Key.Arn"}) == "Key"
    assert ref_name("literal") is None and target_of("literal") is None
    assert target_of({"Fn::Sub": "${Key}"}) is None, "a Sub is text built from references, not one target"


def test_resource_dependencies_are_the_edges_cfn_lint_draws(rendered):
    """On every shipped render, the same resource-to-resource edges and labels as cfn-lint's graph."""
    from cfnlint.template import Template as LintTemplate

    compared = 0
    for env, stacks in rendered.items():
        for name, stack in stacks.items():
            template = load_template(stack.text)
            ours = {
                (source, target, kind)
                for source, targets in resource_dependencies(template).items()
                for target, kinds in targets.items()
                for kind in kinds
            }
            lint_graph = LintTemplate(stack.filename, copy.deepcopy(template), [stack.region]).graph.graph
            resources = template["Resources"]
            theirs = {
                (source, target, str(data["label"]))
                for source, target, data in lint_graph.edges(data=True)
                if source != target and source in resources and target in resources
            }
            assert ours == theirs, f"{env}/{name}"
            compared += len(ours)
    assert compared > 100


def test_resource_dependencies_keep_depends_on_and_drop_self_and_unknown_names():
    template = {
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {
            "Attachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {}},
            "Eip": {"Type": "AWS::EC2::EIP", "DependsOn": "Attachment", "Properties": {"Tags": [{"Key": "n", "Value": {"Ref": "Name"}}]}},
            "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {"AllocationId": {"Fn::GetAtt": ["Eip", "AllocationId"]},
                                                                   "Self": {"Fn::Sub": "${Nat}"}}},
        },
    }
    assert resource_dependencies(template) == {
        "Attachment": {},
        "Eip": {"Attachment": {"DependsOn"}},
        "Nat": {"Eip": {"GetAtt"}},
    }
