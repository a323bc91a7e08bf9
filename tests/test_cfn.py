"""streamflix.cfn: the one reading of CloudFormation's truthiness and references."""

from __future__ import annotations

import copy

import pytest
from cfn_flip import load_yaml
from hypothesis import given
from hypothesis import strategies as st

from streamflix.cfn import (
    Reference,
    is_true,
    parameter_text,
    ref_name,
    references,
    removable_value,
    resource_dependencies,
    target_of,
    text_of,
    value_when_present,
    walk_references,
)
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


NO_VALUE = {"Ref": "AWS::NoValue"}
SOURCE = {"Fn::GetAtt": ["Primary", "DBInstanceArn"]}


@pytest.mark.parametrize(
    "value, present",
    [
        ({"Fn::If": ["IsReadReplica", SOURCE, NO_VALUE]}, SOURCE),
        ({"Fn::If": ["IsStandalone", NO_VALUE, SOURCE]}, SOURCE),
        ({"Fn::If": ["IsReadReplica", "arn:literal", NO_VALUE]}, "arn:literal"),
        ({"Fn::If": ["IsReadReplica", SOURCE, {"Ref": "Other"}]}, None),  # both branches keep a value
        ({"Fn::If": ["Cond", NO_VALUE, NO_VALUE]}, None),
        ({"Fn::If": ["IsReadReplica", SOURCE]}, None),  # malformed
        ({"Fn::If": ["IsReadReplica", SOURCE, NO_VALUE], "Extra": 1}, None),
        (SOURCE, None),
        ("literal", None),
        (None, None),
    ],
)
def test_removable_value_is_the_kept_branch_of_an_if_with_no_value(value, present):
    assert removable_value(value) == present
    assert value_when_present(value) == (value if present is None else present)


def test_the_shipped_replica_source_is_removable_by_the_failover_update(rendered):
    """The DR recovery stack's replica names its source behind the failover switch: the readers of
    the diff, the rules, the costs and the runbooks all find the source through removable_value."""
    recovery = load_template(rendered["prod"]["dr-recovery"].text)
    sources = [
        removable_value(resource["Properties"].get("SourceDBInstanceIdentifier"))
        for resource in recovery["Resources"].values()
        if resource["Type"] == "AWS::RDS::DBInstance"
    ]
    assert sources and all(source is not None for source in sources), sources


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


# -- text_of: the one notation of a template value shown to a reader ---------------

NO_VALUE = {"Ref": "AWS::NoValue"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # literals as CloudFormation receives them
        ("streamflix-dev", "streamflix-dev"),
        ("", ""),
        ("it's plain text: kept as is", "it's plain text: kept as is"),
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (0.5, "0.5"),
        (None, "null"),
        # intrinsics in the rendered YAML's short form
        ({"Ref": "Vpc"}, "!Ref Vpc"),
        ({"Ref": "AWS::NoValue"}, "!Ref AWS::NoValue"),
        ({"Fn::GetAtt": ["DataKey", "Arn"]}, "!GetAtt DataKey.Arn"),
        ({"Fn::GetAtt": ["CacheReplicationGroup", "PrimaryEndPoint.Address"]}, "!GetAtt CacheReplicationGroup.PrimaryEndPoint.Address"),
        ({"Fn::GetAtt": "Service.Name"}, "!GetAtt Service.Name"),
        ({"Fn::GetAtt": ["Fn", {"Ref": "Attribute"}]}, "!GetAtt [Fn, !Ref Attribute]"),
        ({"Fn::Sub": "streamflix-${EnvironmentSuffix}-app"}, "!Sub 'streamflix-${EnvironmentSuffix}-app'"),
        ({"Fn::Sub": ["${A}-x", {"A": {"Ref": "AWS::StackName"}}]}, "!Sub ['${A}-x', {A: !Ref AWS::StackName}]"),
        ({"Fn::Sub": "it's ${X}"}, "!Sub 'it''s ${X}'"),
        ({"Fn::Sub": "line one\nline two"}, '!Sub "line one\\nline two"'),
        ({"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "!Select [0, !GetAZs '']"),
        ({"Fn::If": ["IsReadReplica", NO_VALUE, "03:00-05:00"]}, "!If [IsReadReplica, !Ref AWS::NoValue, '03:00-05:00']"),
        ({"Fn::If": ["IsReadReplica", NO_VALUE, 7]}, "!If [IsReadReplica, !Ref AWS::NoValue, 7]"),
        ({"Fn::Join": [",", [{"Ref": "AppSubnetA"}, {"Ref": "AppSubnetB"}]]}, "!Join [',', [!Ref AppSubnetA, !Ref AppSubnetB]]"),
        ({"Fn::Equals": [{"Ref": "DatabaseRole"}, "replica"]}, "!Equals [!Ref DatabaseRole, replica]"),
        ({"Condition": "IsReplica"}, "!Condition IsReplica"),
        # a tag cannot carry a tag in YAML: the outer function goes long form
        ({"Fn::ImportValue": {"Fn::Sub": "${Network}-VpcId"}}, "{Fn::ImportValue: !Sub '${Network}-VpcId'}"),
        # collections in flow style, the template's key order kept
        (["postgresql", "upgrade"], "[postgresql, upgrade]"),
        ([], "[]"),
        ({"Status": "Enabled"}, "{Status: Enabled}"),
        ({"Region": "us-east-1", "KmsKeyId": {"Ref": "Key"}}, "{Region: us-east-1, KmsKeyId: !Ref Key}"),
        # a nested string is quoted where YAML would read it as something else
        (["true", "yes", "7", "arn:aws:s3:::b", "a b", "#x", "x:"], "['true', 'yes', '7', arn:aws:s3:::b, 'a b', '#x', 'x:']"),
    ],
)
def test_text_of_writes_the_rendered_templates_notation(value, text):
    assert text_of(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(["a", "b"], "a,b"), (True, "true"), (3, "3"), ("x", "x"), ({"Ref": "P"}, "!Ref P"), ([{"Ref": "A"}, "b"], "!Ref A,b")],
)
def test_parameter_text_is_what_cloudformation_receives_a_list_comma_delimited(value, text):
    assert parameter_text(value) == text


_NAMES = st.from_regex(r"[A-Z][A-Za-z0-9]{0,8}", fullmatch=True)
_KEYS = _NAMES.filter(lambda k: k not in ("Ref", "Condition"))
_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=12)


def _intrinsics(inner):
    # a function of one argument holds a string or a node: YAML reads a tagged scalar as a string
    argument = inner.filter(lambda v: not (v is None or isinstance(v, (bool, int))))
    return st.one_of(
        st.builds(lambda n: {"Ref": n}, _NAMES | st.just("AWS::NoValue")),
        st.builds(lambda n, a: {"Fn::GetAtt": [n, a]}, _NAMES, st.from_regex(r"[A-Z][a-z]+(\.[A-Z][a-z]+)?", fullmatch=True)),
        st.builds(lambda t: {"Fn::Sub": t}, st.text(max_size=20)),
        st.builds(lambda t, v: {"Fn::Sub": [t, v]}, st.text(max_size=20), st.dictionaries(_KEYS, inner, max_size=2)),
        st.builds(lambda c, a, b: {"Fn::If": [c, a, b]}, _NAMES, inner, inner),
        st.builds(lambda d, items: {"Fn::Join": [d, items]}, st.text(max_size=2), st.lists(inner, max_size=3)),
        st.builds(lambda i: {"Fn::Select": [i, {"Fn::GetAZs": ""}]}, st.integers(0, 5)),
        st.builds(lambda v: {"Fn::ImportValue": v}, argument),
        st.builds(lambda v: {"Fn::Base64": v}, argument),
        st.builds(lambda n: {"Condition": n}, _NAMES),
    )


_VALUES = st.recursive(
    _SCALARS,
    lambda inner: _intrinsics(inner) | st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=12,
)


@given(_VALUES.filter(lambda v: not isinstance(v, str)))
def test_text_of_is_yaml_that_cloudformations_loader_reads_back_as_the_value(value):
    assert load_yaml("value: " + text_of(value))["value"] == value


@given(st.text())
def test_a_literal_string_is_shown_as_cloudformation_receives_it(value):
    assert text_of(value) == value
