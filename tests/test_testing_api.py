"""streamflix.testing: each assertion passes on the real template and fails on a wrong one."""

from __future__ import annotations

import pytest

from streamflix.testing import Match, Template

NULL_EXPORT = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  TopicArn:
    Value: !Ref Topic
    Export:
"""


@pytest.fixture(scope="module")
def prod(rendered):
    return Template.from_stack(rendered["prod"]["ha-database"])


def test_resource_count_is(prod):
    prod.resource_count_is("AWS::RDS::DBCluster", 1)
    prod.resource_count_is("AWS::EC2::NatGateway", 3)
    with pytest.raises(AssertionError, match="expected 2 AWS::RDS::DBCluster, found 1"):
        prod.resource_count_is("AWS::RDS::DBCluster", 2)


def test_has_resource_properties_is_object_like_at_every_depth(prod):
    prod.has_resource_properties(
        "AWS::RDS::DBCluster",
        {"StorageEncrypted": True, "KmsKeyId": {"Ref": "DataKey"}, "MasterUserSecret": {"KmsKeyId": Match.any_value()}},
    )
    with pytest.raises(AssertionError, match=r"AuroraCluster.Properties.StorageEncrypted: expected False, got True"):
        prod.has_resource_properties("AWS::RDS::DBCluster", {"StorageEncrypted": False})


def test_booleans_never_equal_numbers(prod):
    with pytest.raises(AssertionError):
        prod.has_resource_properties("AWS::RDS::DBCluster", {"StorageEncrypted": 1})


def test_has_resource_sees_policies(prod):
    prod.has_resource("AWS::RDS::DBCluster", {"DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot"})
    with pytest.raises(AssertionError, match="DeletionPolicy"):
        prod.has_resource("AWS::RDS::DBCluster", {"DeletionPolicy": "Delete"})


def test_absent_and_not(prod):
    prod.has_resource_properties("AWS::RDS::DBCluster", {"MasterUserPassword": Match.absent()})
    prod.has_resource_properties("AWS::ElastiCache::ReplicationGroup", {"AuthToken": Match.absent()})
    with pytest.raises(AssertionError, match="expected absent"):
        prod.has_resource_properties("AWS::RDS::DBCluster", {"Engine": Match.absent()})
    prod.has_resource_properties("AWS::RDS::DBCluster", {"EngineVersion": Match.not_("15.4")})


def test_array_with_and_regexp(prod):
    prod.has_resource_properties(
        "AWS::EC2::VPCEndpoint", {"ServiceName": {"Fn::Sub": Match.string_like_regexp(r"\.ecr\.dkr$")}}
    )
    prod.has_resource_properties(
        "AWS::ECS::Service",
        {"NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": Match.array_with([{"Ref": "AppSubnetC"}])}}},
    )
    with pytest.raises(AssertionError, match="no element matches"):
        prod.has_resource_properties(
            "AWS::ECS::Service",
            {"NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": Match.array_with([{"Ref": "PublicSubnetA"}])}}},
        )


def test_object_equals_rejects_extra_keys(prod):
    prod.has_resource_properties(
        "AWS::Kinesis::Stream",
        {"StreamEncryption": Match.object_equals({"EncryptionType": "KMS", "KeyId": {"Ref": "DataKey"}})},
    )
    with pytest.raises(AssertionError, match="unexpected keys"):
        prod.has_resource_properties("AWS::Kinesis::Stream", {"StreamEncryption": Match.object_equals({"EncryptionType": "KMS"})})


def test_all_resources_properties(prod):
    prod.all_resources_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    with pytest.raises(AssertionError, match="AvailabilityZone"):
        prod.all_resources_properties("AWS::RDS::DBInstance", {"AvailabilityZone": {"Fn::Select": [0, Match.any_value()]}})


def test_outputs_and_parameters(prod):
    prod.has_output("DatabaseWriterEndpoint", {"Export": {"Name": {"Fn::Sub": "${AWS::StackName}-DatabaseWriterEndpoint"}}})
    assert set(prod.find_outputs("Cache*")) >= {"CachePrimaryEndpoint", "CachePort"}
    prod.has_parameter("EnvironmentSuffix", {"Default": "prod", "AllowedPattern": Match.any_value()})
    with pytest.raises(AssertionError, match="no output 'Nope'"):
        prod.has_output("Nope", {})


def test_a_null_export_name_fails_any_value():
    broken = Template.from_text(NULL_EXPORT)
    with pytest.raises(AssertionError, match="Outputs.TopicArn.Export: expected an object, got None"):
        broken.has_output("TopicArn", {"Export": {"Name": Match.any_value()}})
    with pytest.raises(AssertionError, match="expected a value"):
        broken.has_output("TopicArn", {"Export": Match.any_value()})


def test_template_matches(prod):
    prod.template_matches({"AWSTemplateFormatVersion": "2010-09-09", "Metadata": {"StreamFlix": {"Environment": "prod"}}})
    with pytest.raises(AssertionError, match="Metadata.StreamFlix.Environment"):
        prod.template_matches({"Metadata": {"StreamFlix": {"Environment": "dev"}}})
