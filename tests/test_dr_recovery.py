"""The rendered DR recovery template (us-east-1), read back with the CloudFormation-aware loader."""

from __future__ import annotations

import pytest

from streamflix.config import PRESETS

#: Parameters that are not wiring: the suffix and the failover knob.
OWN_PARAMETERS = {"EnvironmentSuffix", "ServiceTaskCount", "DatabaseRole", "DeletionProtection", "ContainerImage"}


def of_type(template, resource_type):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


@pytest.mark.parametrize("env", PRESETS)
def test_no_findings_in_its_own_region(rendered, findings_of, env):
    stack = rendered[env]["dr-recovery"]
    assert stack.region == "us-east-1"
    assert findings_of(stack) == []


def test_dns_and_https_variant_has_no_findings_either(dr_variant_stacks, findings_of):
    assert findings_of(dr_variant_stacks["dr-recovery"]) == []


@pytest.mark.parametrize("env", PRESETS)
def test_format_version_first_and_every_output_exported(rendered, dr, env):
    assert rendered[env]["dr-recovery"].text.startswith("AWSTemplateFormatVersion: '2010-09-09'\n")
    for name, output in dr[env]["dr-recovery"]["Outputs"].items():
        assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + name}


@pytest.mark.parametrize("env", PRESETS)
def test_replica_follows_the_primary_arn_parameter(dr, env):
    template = dr[env]["dr-recovery"]
    replica = props(template, "PostgresReplicaInstance")
    assert replica["SourceDBInstanceIdentifier"] == {
        "Fn::If": ["IsReadReplica", {"Ref": "PrimaryDatabaseInstanceArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert replica["SourceRegion"] == {"Fn::If": ["IsReadReplica", "eu-west-2", {"Ref": "AWS::NoValue"}]}
    assert replica["DBInstanceClass"] == props(dr[env]["dr-primary"], "PostgresPrimaryInstance")["DBInstanceClass"]
    # its own region's key, created by this template
    assert replica["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert template["Resources"]["DataKey"]["Type"] == "AWS::KMS::Key"
    # inherited from the source: stating them would fail (or, for the password, leak)
    for inherited in ("EngineVersion", "StorageEncrypted", "MasterUsername", "ManageMasterUserPassword", "MasterUserPassword"):
        assert inherited not in replica
    assert replica["EnableIAMDatabaseAuthentication"] is True and replica["PubliclyAccessible"] is False
    assert props(template, replica["DBParameterGroupName"]["Ref"])["Parameters"]["rds.force_ssl"] == "1"
    parameter = template["Parameters"]["PrimaryDatabaseInstanceArn"]
    assert "Default" not in parameter and ":rds:eu-west-2:" in parameter["AllowedPattern"]


@pytest.mark.parametrize("env", PRESETS)
def test_never_references_the_primary_regions_key(rendered, env):
    text = rendered[env]["dr-recovery"].text
    assert ":kms:eu-west-2:" not in text and "dr-primary-data" not in text


def test_replica_snapshot_policy_applies_once_the_failover_update_promoted_it(dr):
    # CloudFormation ignores a replica's DeletionPolicy; after DatabaseRole=standalone it is honoured
    resource = dr["prod"]["dr-recovery"]["Resources"]["PostgresReplicaInstance"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")


def test_stateful_resources_keep_their_data(dr):
    resources = dr["prod"]["dr-recovery"]["Resources"]
    for logical_id, policies in (
        ("CacheReplicationGroup", ("Snapshot", "Snapshot")),
        ("DataKey", ("RetainExceptOnCreate", "Retain")),
        ("AccessLogBucket", ("Retain", "Retain")),  # ELB writes to it at create: a rollback keeps it
    ):
        assert (resources[logical_id]["DeletionPolicy"], resources[logical_id]["UpdateReplacePolicy"]) == policies


@pytest.mark.parametrize("env", PRESETS)
def test_replica_lag_alarm_at_300_seconds(dr, env):
    alarm = props(dr[env]["dr-recovery"], "ReplicaLagAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/RDS", "ReplicaLag")
    assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": {"Ref": "PostgresReplicaInstance"}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 300)
    assert alarm["TreatMissingData"] == "breaching"


def test_critical_alarms_of_the_standby(dr):
    alarms = of_type(dr["prod"]["dr-recovery"], "AWS::CloudWatch::Alarm")
    for logical_id, metric in (("ServiceRunningTasksAlarm", "RunningTaskCount"), ("LoadBalancerNoHealthyHostsAlarm", "HealthyHostCount")):
        alarm = alarms[logical_id]["Properties"]
        assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (metric, "LessThanThreshold", 1)
    assert props(dr["prod"]["dr-recovery"], "Dashboard")["DashboardName"] == {
        "Fn::Sub": "streamflix-${EnvironmentSuffix}-dr-recovery"
    }


def test_warm_standby_runs_one_task_and_scales_by_parameter(dr):
    template = dr["prod"]["dr-recovery"]
    count = template["Parameters"]["ServiceTaskCount"]
    assert (count["Default"], count["MinValue"], count["MaxValue"]) == (1, 1, 6)
    assert props(template, "Service")["DesiredCount"] == {"Ref": "ServiceTaskCount"}
    assert props(template, "ServiceScalableTarget")["MinCapacity"] == {"Ref": "ServiceTaskCount"}
    assert template["Outputs"]["FailoverTaskCount"]["Value"] == "2"


def test_hot_standby_runs_full_size(dr_variant):
    assert dr_variant["dr-recovery"]["Parameters"]["ServiceTaskCount"]["Default"] == 2


def test_efs_replication_destination_is_owned_keyed_and_mounted_through_an_access_point(dr):
    template = dr["prod"]["dr-recovery"]
    # this stack owns the destination (findings 2, 8): its own customer key, writable by replication only
    resource = template["Resources"]["ReplicaFileSystem"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    fs = resource["Properties"]
    assert fs["Encrypted"] is True and fs["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert fs["FileSystemProtection"] == {"ReplicationOverwriteProtection": "DISABLED"}
    assert "ReplicaFileSystemId" not in template["Parameters"]
    mount_targets = of_type(template, "AWS::EFS::MountTarget")
    assert len(mount_targets) == 3
    assert all(m["Properties"]["FileSystemId"] == {"Ref": "ReplicaFileSystem"} for m in mount_targets.values())
    # finding 4: the tasks mount through an access point that creates /streamflix with the primary's identity
    access_point = props(template, "FileSystemAccessPoint")
    assert access_point["RootDirectory"]["Path"] == "/streamflix"
    assert access_point["PosixUser"] == {"Uid": "101", "Gid": "101"}  # the container contract's uid/gid
    (volume,) = [v for v in props(template, "TaskDefinition")["Volumes"] if "EFSVolumeConfiguration" in v]
    config = volume["EFSVolumeConfiguration"]
    assert config["FilesystemId"] == {"Ref": "ReplicaFileSystem"}
    assert config["AuthorizationConfig"] == {"IAM": "ENABLED", "AccessPointId": {"Ref": "FileSystemAccessPoint"}}


def test_without_dns_there_are_no_route53_resources_or_parameters(dr):
    template = dr["dev"]["dr-recovery"]  # prod requires DNS failover
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::Route53::")]
    wired = set(template["Parameters"]) - OWN_PARAMETERS
    assert wired == {"PrimaryDatabaseInstanceArn"}


def test_dns_failover_records_and_primary_health_check(dr_variant):
    template = dr_variant["dr-recovery"]
    check = props(template, "PrimaryHealthCheck")["HealthCheckConfig"]
    assert check["Type"] == "HTTPS" and check["Port"] == 443
    assert check["FullyQualifiedDomainName"] == {"Ref": "PrimaryLoadBalancerDnsName"}
    assert (check["RequestInterval"], check["FailureThreshold"]) == (10, 3)
    primary = props(template, "PrimaryFailoverRecord")
    secondary = props(template, "SecondaryFailoverRecord")
    assert (primary["Failover"], secondary["Failover"]) == ("PRIMARY", "SECONDARY")
    assert primary["Name"] == secondary["Name"] == "app.streamflix.example"
    assert primary["HealthCheckId"] == {"Ref": "PrimaryHealthCheck"} and "HealthCheckId" not in secondary
    assert primary["AliasTarget"] == {
        "DNSName": {"Ref": "PrimaryLoadBalancerDnsName"},
        "HostedZoneId": {"Ref": "PrimaryLoadBalancerHostedZoneId"},
        "EvaluateTargetHealth": True,
    }
    assert secondary["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert secondary["AliasTarget"]["HostedZoneId"] == {"Fn::GetAtt": ["LoadBalancer", "CanonicalHostedZoneID"]}
    recovery_cert = props(template, "HttpsListener")["Certificates"][0]["CertificateArn"]
    assert recovery_cert.startswith("arn:aws:acm:us-east-1:")


def test_alb_logs_go_to_the_recovery_regions_elb_account(dr):
    _, deliver = props(dr["prod"]["dr-recovery"], "AccessLogBucketPolicy")["PolicyDocument"]["Statement"]
    assert deliver["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
