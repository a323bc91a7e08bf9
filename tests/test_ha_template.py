"""The rendered HA database template, read back with the CloudFormation-aware loader."""

from __future__ import annotations

import pytest

from streamflix.checks import run_cfn_lint
from streamflix.config import PRESETS
from streamflix.testing import Match, Template

STANDARD_TAGS = {"Project", "Environment", "EnvironmentSuffix", "ManagedBy"}

#: Logical IDs of stateful resources are a contract: renaming one replaces (and loses) it.
STATEFUL_CONTRACT = {
    "AuroraCluster": "AWS::RDS::DBCluster",
    "CacheReplicationGroup": "AWS::ElastiCache::ReplicationGroup",
    "EventStream": "AWS::Kinesis::Stream",
    "DataKey": "AWS::KMS::Key",
}


def of_type(template, resource_type):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


@pytest.mark.parametrize("env", PRESETS)
def test_cfn_lint_reports_nothing(rendered, env):
    stack = rendered[env]["ha-database"]
    assert run_cfn_lint(stack.text, region=stack.region, filename=stack.filename) == []


@pytest.mark.parametrize("env", PRESETS)
def test_format_version_is_the_first_line(rendered, ha, env):
    assert rendered[env]["ha-database"].text.startswith("AWSTemplateFormatVersion: '2010-09-09'\n")
    assert list(ha[env])[:2] == ["AWSTemplateFormatVersion", "Description"]


@pytest.mark.parametrize("env", PRESETS)
def test_every_output_is_exported_by_stack_name(ha, env):
    outputs = ha[env]["Outputs"]
    assert len(outputs) >= 20
    for name, output in outputs.items():
        assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + name}


def test_exports_cover_what_other_stacks_need(ha):
    expected = {
        "VpcId", "AppSubnetIds", "DataSubnetIds", "DatabaseWriterEndpoint", "DatabaseReaderEndpoint", "DatabasePort",
        "DatabaseMasterSecretArn", "CachePrimaryEndpoint", "CachePort", "EventStreamName", "EcsClusterName",
        "ServiceSecurityGroupId", "DatabaseSecurityGroupId", "CacheSecurityGroupId", "DatabaseClusterName",
        "EnvironmentSuffix", "DataKeyArn", "AlarmTopicArn",
    }
    assert expected <= set(ha["prod"]["Outputs"])


def test_environment_suffix_parameter(ha, configs):
    parameter = ha["prod"]["Parameters"]["EnvironmentSuffix"]
    assert parameter["Default"] == configs["prod"].environment_suffix
    assert parameter["AllowedPattern"].startswith("^[a-z]")
    # the longest allowed suffix still fits every physical name: the cache group id is 40 at most
    longest = "a" * parameter["MaxLength"]
    assert len(f"streamflix-{longest}-default") <= 40
    groups = ha["prod"]["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert ["EnvironmentSuffix"] in [group["Parameters"] for group in groups]


@pytest.mark.parametrize("env", PRESETS)
def test_every_taggable_resource_has_the_standard_tags(ha, env):
    tagged = 0
    for logical_id, resource in ha[env]["Resources"].items():
        tags = resource.get("Properties", {}).get("Tags")
        if tags is None:
            continue
        tagged += 1
        keys = {tag["Key"] for tag in tags} if isinstance(tags, list) else set(tags)
        assert STANDARD_TAGS <= keys, logical_id
        assert "CostCenter" in keys, logical_id
    assert tagged > 40


def test_stateful_logical_ids_and_policies(ha):
    for env in PRESETS:
        for logical_id, resource_type in STATEFUL_CONTRACT.items():
            resource = ha[env]["Resources"][logical_id]
            assert resource["Type"] == resource_type
            wanted = "Retain" if resource_type in ("AWS::Kinesis::Stream", "AWS::KMS::Key") else "Snapshot"
            # Retain on delete, but a failed create's rollback removes it (no collision on the retry)
            assert resource["DeletionPolicy"] == ("RetainExceptOnCreate" if wanted == "Retain" else wanted)
            assert resource["UpdateReplacePolicy"] == wanted


def test_aurora_cluster(ha, rendered):
    cluster = props(ha["prod"], "AuroraCluster")
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["EngineVersion"] == "16.15"
    assert "EngineVersion: '16.15'" in rendered["prod"]["ha-database"].text  # quoted, never a float
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == {"Ref": "DataKey"}
    assert cluster["ManageMasterUserPassword"] is True
    assert cluster["MasterUserSecret"] == {"KmsKeyId": {"Ref": "DataKey"}}
    assert "MasterUserPassword" not in cluster
    assert cluster["EnableIAMDatabaseAuthentication"] is True
    # on by the follow-up update: false at create so a failed create can roll back (SF3002)
    assert cluster["DeletionProtection"] == {"Ref": "DeletionProtection"}
    assert ha["prod"]["Parameters"]["DeletionProtection"]["Default"] == "false"
    follow_up = ha["prod"]["Metadata"]["StreamFlix"]["FollowUpUpdates"]
    assert [(e["Parameter"], e["Value"]) for e in follow_up] == [("DeletionProtection", "true")]
    assert cluster["BackupRetentionPeriod"] == 14
    assert cluster["EnableCloudwatchLogsExports"] == ["postgresql"]
    parameters = props(ha["prod"], "AuroraClusterParameterGroup")
    assert parameters["Family"] == "aurora-postgresql16"
    assert parameters["Parameters"]["rds.force_ssl"] == "1"
    assert props(ha["dev"], "AuroraCluster")["DeletionProtection"] is False


@pytest.mark.parametrize(("env", "instances"), [("dev", 2), ("staging", 2), ("prod", 3)])
def test_aurora_instances_spread_over_azs(ha, env, instances):
    members = of_type(ha[env], "AWS::RDS::DBInstance")
    assert len(members) == instances
    azs = [m["Properties"]["AvailabilityZone"]["Fn::Select"][0] for m in members.values()]
    assert len(set(azs)) == instances
    for member in members.values():
        p = member["Properties"]
        assert p["PubliclyAccessible"] is False
        assert p["EnablePerformanceInsights"] is True and p["PerformanceInsightsKMSKeyId"]
        assert p["MonitoringInterval"] == 60 and p["MonitoringRoleArn"]
    assert ha[env]["Resources"]["AuroraWriterInstance"]["Properties"]["PromotionTier"] == 0


def test_cache_replication_group(rendered):
    prod = Template.from_stack(rendered["prod"]["ha-database"])
    prod.has_resource(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
            "Properties": {
                "Engine": "valkey",
                "EngineVersion": "8.2",
                "NumCacheClusters": 3,
                "MultiAZEnabled": True,
                "AutomaticFailoverEnabled": True,
                "AtRestEncryptionEnabled": True,
                "KmsKeyId": {"Ref": "DataKey"},
                "TransitEncryptionEnabled": True,
                "TransitEncryptionMode": "required",
                "UserGroupIds": [{"Ref": "CacheUserGroup"}],
                "AuthToken": Match.absent(),
                "SnapshotRetentionLimit": 5,
            },
        },
    )
    prod.has_resource_properties(
        "AWS::ElastiCache::User", {"AuthenticationMode": {"Type": "iam"}, "AccessString": Match.string_like_regexp("^on ")}
    )
    prod.has_resource_properties("AWS::ElastiCache::User", {"UserName": "default", "AccessString": Match.string_like_regexp("^off")})
    app_user = prod.find_resources("AWS::ElastiCache::User", {"Properties": {"AuthenticationMode": {"Type": "iam"}}})
    (user,) = app_user.values()
    assert user["Properties"]["UserId"] == user["Properties"]["UserName"]


def test_prod_has_a_nat_gateway_per_az_and_each_app_route_uses_its_own(ha):
    template = ha["prod"]
    assert set(of_type(template, "AWS::EC2::NatGateway")) == {"NatGatewayA", "NatGatewayB", "NatGatewayC"}
    for slot in "ABC":
        route = props(template, f"AppDefaultRoute{slot}")
        assert route["DestinationCidrBlock"] == "0.0.0.0/0"
        assert route["NatGatewayId"] == {"Ref": f"NatGateway{slot}"}
        assert route["RouteTableId"] == {"Ref": f"AppRouteTable{slot}"}


def test_dev_shares_one_nat_gateway_over_two_azs(ha):
    template = ha["dev"]
    assert set(of_type(template, "AWS::EC2::NatGateway")) == {"NatGatewayA"}
    assert props(template, "AppDefaultRouteB")["NatGatewayId"] == {"Ref": "NatGatewayA"}
    assert "AppSubnetC" not in template["Resources"]


def test_data_subnets_are_isolated(ha):
    template = ha["prod"]
    routes = of_type(template, "AWS::EC2::Route").values()
    assert all(r["Properties"]["RouteTableId"] != {"Ref": "DataRouteTable"} for r in routes)
    for resource in of_type(template, "AWS::EC2::Subnet").values():
        assert resource["Properties"]["MapPublicIpOnLaunch"] is False


def test_vpc_endpoints_and_flow_logs(ha):
    template = ha["prod"]
    endpoints = of_type(template, "AWS::EC2::VPCEndpoint")
    services = {e["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[-1] for e in endpoints.values()}
    assert {"s3", "api", "dkr", "logs", "secretsmanager", "kms", "sts", "kinesis-streams"} <= services
    s3 = props(template, "S3GatewayEndpoint")
    assert {"Ref": "AppRouteTableA"} in s3["RouteTableIds"]
    log_group = props(template, "FlowLogGroup")
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert log_group["RetentionInDays"] == 365
    assert props(template, "FlowLog")["TrafficType"] == "ALL"


def test_database_and_cache_accept_only_the_service(ha):
    template = ha["prod"]
    ingress = of_type(template, "AWS::EC2::SecurityGroupIngress")
    assert {i["Properties"]["GroupId"]["Fn::GetAtt"][0] for i in ingress.values()} == {
        "DatabaseSecurityGroup", "CacheSecurityGroup"
    }
    for rule in ingress.values():
        assert rule["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]}
    ports = {i["Properties"]["GroupId"]["Fn::GetAtt"][0]: i["Properties"]["FromPort"] for i in ingress.values()}
    assert ports == {"DatabaseSecurityGroup": 5432, "CacheSecurityGroup": 6379}
    for group in ("DatabaseSecurityGroup", "CacheSecurityGroup"):
        assert "SecurityGroupIngress" not in props(template, group)


def test_fargate_service(ha):
    template = ha["prod"]
    service = props(template, "Service")
    awsvpc = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert awsvpc["Subnets"] == [{"Ref": f"AppSubnet{s}"} for s in "ABC"]
    assert awsvpc["AssignPublicIp"] == "DISABLED"
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert service["DesiredCount"] == 3
    target = props(template, "ServiceScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 9)
    cluster = props(template, "EcsCluster")
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enhanced"}]


def test_iam_is_least_privilege(ha):
    template = ha["prod"]
    for logical_id, role in of_type(template, "AWS::IAM::Role").items():
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert all("Service" in s["Principal"] for s in trust), logical_id
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                assert all(not a.endswith("*") for a in statement["Action"]), (logical_id, statement)
                assert statement["Resource"] != ["*"], (logical_id, statement)
    task_actions = {
        action
        for policy in props(template, "TaskRole")["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in statement["Action"]
    }
    assert {"rds-db:connect", "elasticache:Connect", "kinesis:PutRecords"} <= task_actions


@pytest.mark.parametrize("env", PRESETS)
def test_stream_and_key(rendered, env):
    template = Template.from_stack(rendered[env]["ha-database"])
    template.has_resource(
        "AWS::Kinesis::Stream",
        {
            "DeletionPolicy": "RetainExceptOnCreate",
            "Properties": {
                "StreamEncryption": Match.object_equals({"EncryptionType": "KMS", "KeyId": {"Ref": "DataKey"}}),
                "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            },
        },
    )
    template.all_resources_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.all_resources_properties("AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": Match.any_value()})


def test_alarms_with_thresholds_from_config(ha):
    alarms = of_type(ha["prod"], "AWS::CloudWatch::Alarm")
    expected = {
        "AuroraWriterCpuAlarm": ("CPUUtilization", "GreaterThanThreshold", 80),
        "AuroraReplicaLagAlarm": ("AuroraReplicaLagMaximum", "GreaterThanThreshold", 1000),
        "AuroraConnectionsAlarm": ("DatabaseConnections", "GreaterThanThreshold", 1000),
        "AuroraWriterFreeableMemoryAlarm": ("FreeableMemory", "LessThanThreshold", 512 * 1024 * 1024),
        "CacheNode1CpuAlarm": ("EngineCPUUtilization", "GreaterThanThreshold", 75),
        "CacheNode3EvictionsAlarm": ("Evictions", "GreaterThanThreshold", 100),
        "ServiceRunningTasksAlarm": ("RunningTaskCount", "LessThanThreshold", 3),
        "StreamIteratorAgeAlarm": ("GetRecords.IteratorAgeMilliseconds", "GreaterThanThreshold", 60000),
    }
    for logical_id, (metric, comparison, threshold) in expected.items():
        alarm = alarms[logical_id]["Properties"]
        assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (metric, comparison, threshold)
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}, {"Ref": "ExistingAlarmTopicArn"}]  # prod also pages via its topic
    assert props(ha["prod"], "AlarmTopic")["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert "Dashboard" in ha["prod"]["Resources"]


def test_rendering_is_deterministic(configs):
    from streamflix import render_environment

    first = [s.text for s in render_environment(configs["prod"])]
    second = [s.text for s in render_environment(configs["prod"])]
    assert first == second
