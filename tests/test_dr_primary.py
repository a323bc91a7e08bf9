"""The rendered DR primary template (eu-west-2), read back with the CloudFormation-aware loader."""

from __future__ import annotations

import pytest

from streamflix.config import PRESETS

STANDARD_TAGS = {"Project", "Environment", "EnvironmentSuffix", "ManagedBy"}


def of_type(template, resource_type):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


def tag_keys(tags):
    return {tag["Key"] for tag in tags}


@pytest.mark.parametrize("env", PRESETS)
def test_no_findings_in_its_own_region(rendered, findings_of, env):
    stack = rendered[env]["dr-primary"]
    assert stack.region == "eu-west-2"
    assert findings_of(stack) == []


def test_https_variant_has_no_findings_either(dr_variant_stacks, findings_of):
    assert findings_of(dr_variant_stacks["dr-primary"]) == []


@pytest.mark.parametrize("env", PRESETS)
def test_format_version_first_and_every_output_exported(rendered, dr, env):
    assert rendered[env]["dr-primary"].text.startswith("AWSTemplateFormatVersion: '2010-09-09'\n")
    for name, output in dr[env]["dr-primary"]["Outputs"].items():
        assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + name}


def test_exports_what_the_recovery_side_and_operators_need(dr):
    expected = {
        "DatabaseInstanceArn", "DatabaseEndpoint", "DatabaseInstanceIdentifier", "DatabaseMasterSecretArn",
        "FileSystemId", "FileSystemAccessPointId", "LoadBalancerDnsName", "LoadBalancerHostedZoneId", "ServiceUrl",
        "CachePrimaryEndpoint", "EcsClusterName", "EcsServiceName", "VpcId", "DataKeyArn", "AlarmTopicArn",
        "RecoveryRegion", "RecoveryTimeObjectiveMinutes", "RecoveryPointObjectiveMinutes", "RecoveryPointMechanism",
    }
    outputs = dr["prod"]["dr-primary"]["Outputs"]
    assert expected <= set(outputs)
    mechanism = outputs["RecoveryPointMechanism"]["Value"]
    assert "cross-region read replica in us-east-1" in mechanism and "300 s" in mechanism and "EFS replication" in mechanism
    assert outputs["RecoveryTimeObjectiveMinutes"]["Value"] == "15"


@pytest.mark.parametrize(("env", "multi_az", "protected"), [("dev", False, False), ("staging", True, True), ("prod", True, True)])
def test_postgres_primary(dr, env, multi_az, protected):
    template = dr[env]["dr-primary"]
    resource = template["Resources"]["PostgresPrimaryInstance"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    db = resource["Properties"]
    assert db["Engine"] == "postgres" and db["EngineVersion"] == "16.15"
    assert db["DBInstanceClass"] == "db.t3.medium"
    # prod: on by the follow-up update of the DeletionProtection parameter (false at create, SF3002)
    assert db["MultiAZ"] is multi_az and db["DeletionProtection"] == ({"Ref": "DeletionProtection"} if protected else False)
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == {"Ref": "DataKey"}
    assert db["BackupRetentionPeriod"] == 7 and db["PreferredBackupWindow"] == "03:00-05:00"
    # RDS refuses replicas of a source that manages its password (SF3001): a template-owned secret
    assert "ManageMasterUserPassword" not in db and db["MasterUsername"] == "streamflix_admin"
    assert db["MasterUserPassword"]["Fn::Sub"][1] == {"Secret": {"Ref": "DatabaseMasterSecret"}}
    assert db["EnableIAMDatabaseAuthentication"] is True and db["PubliclyAccessible"] is False
    assert db["EnablePerformanceInsights"] is True and db["PerformanceInsightsKMSKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert db["MonitoringInterval"] == 60 and db["MonitoringRoleArn"] == {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]}
    assert db["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    parameters = props(template, db["DBParameterGroupName"]["Ref"])
    assert parameters["Family"] == "postgres16" and parameters["Parameters"]["rds.force_ssl"] == "1"


def test_backups_replicate_to_the_recovery_region_once_its_key_is_wired(dr):
    template = dr["prod"]["dr-primary"]
    db = props(template, "PostgresPrimaryInstance")
    condition = "ReplicateBackupsToRecoveryRegion"
    assert db["AutomaticBackupReplicationRegion"] == {"Fn::If": [condition, "us-east-1", {"Ref": "AWS::NoValue"}]}
    assert db["AutomaticBackupReplicationKmsKeyId"]["Fn::If"][1] == {"Ref": "RecoveryBackupKmsKeyArn"}
    assert db["AutomaticBackupReplicationRetentionPeriod"]["Fn::If"][1] == 7
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "RecoveryBackupKmsKeyArn"}, ""]}]}
    parameter = template["Parameters"]["RecoveryBackupKmsKeyArn"]
    assert parameter["Default"] == ""
    # the key must live in the recovery region: a primary-region key ARN is refused at deploy time
    assert ":kms:us-east-1:" in parameter["AllowedPattern"]


def test_cache_is_multi_az_encrypted_and_keeps_five_snapshots(dr):
    group = props(dr["prod"]["dr-primary"], "CacheReplicationGroup")
    assert group["NumCacheClusters"] == 2 and group["CacheNodeType"] == "cache.t3.micro"
    assert group["MultiAZEnabled"] is True and group["AutomaticFailoverEnabled"] is True
    assert group["AtRestEncryptionEnabled"] is True and group["TransitEncryptionEnabled"] is True
    assert group["KmsKeyId"] == {"Ref": "DataKey"} and group["SnapshotRetentionLimit"] == 5
    assert dr["prod"]["dr-primary"]["Resources"]["CacheReplicationGroup"]["DeletionPolicy"] == "Snapshot"


def test_file_system_is_encrypted_replicated_and_kept(dr):
    template = dr["prod"]["dr-primary"]
    resource = template["Resources"]["FileSystem"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    fs = resource["Properties"]
    assert fs["Encrypted"] is True and fs["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert {"TransitionToIA": "AFTER_30_DAYS"} in fs["LifecyclePolicies"]
    # replication into the recovery stack's own file system (its customer key), once it is wired:
    # a failed first create leaves nothing in us-east-1 (findings 2, 8)
    assert fs["ReplicationConfiguration"] == {"Fn::If": [
        "ReplicateFileSystemToRecoveryRegion",
        {"Destinations": [{"FileSystemId": {"Ref": "RecoveryFileSystemId"}, "Region": "us-east-1"}]},
        {"Ref": "AWS::NoValue"},
    ]}
    lag = template["Resources"]["FileSystemReplicationLagAlarm"]  # finding 9: the file RPO is alarmed
    assert lag["Condition"] == "ReplicateFileSystemToRecoveryRegion"
    assert lag["Properties"]["MetricName"] == "TimeSinceLastSync" and lag["Properties"]["Threshold"] == 15 * 60
    assert {d["Name"] for d in lag["Properties"]["Dimensions"]} == {"FileSystemId", "DestinationFileSystemId"}
    deny = fs["FileSystemPolicy"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert STANDARD_TAGS <= tag_keys(fs["FileSystemTags"])
    mount_targets = of_type(template, "AWS::EFS::MountTarget")
    assert {m["Properties"]["SubnetId"]["Ref"] for m in mount_targets.values()} == {"AppSubnetA", "AppSubnetB", "AppSubnetC"}
    assert all(m["Properties"]["SecurityGroups"] == [{"Ref": "FileSystemSecurityGroup"}] for m in mount_targets.values())
    access_point = props(template, "FileSystemAccessPoint")
    # the container contract's identity (the recovery side mounts without an access point)
    assert access_point["PosixUser"] == {"Uid": "101", "Gid": "101"}
    assert access_point["RootDirectory"]["Path"] == "/streamflix"


def test_service_mounts_efs_through_the_access_point_with_iam_and_tls(dr):
    template = dr["prod"]["dr-primary"]
    (volume,) = [v for v in props(template, "TaskDefinition")["Volumes"] if "EFSVolumeConfiguration" in v]
    efs = volume["EFSVolumeConfiguration"]
    assert efs["FilesystemId"] == {"Ref": "FileSystem"} and efs["TransitEncryption"] == "ENABLED"
    assert efs["AuthorizationConfig"] == {"IAM": "ENABLED", "AccessPointId": {"Ref": "FileSystemAccessPoint"}}
    (container,) = [c for c in props(template, "TaskDefinition")["ContainerDefinitions"] if c["Name"] == "app"]
    assert {"SourceVolume": "shared", "ContainerPath": "/mnt/shared", "ReadOnly": False} in container["MountPoints"]
    statements = [s for p in props(template, "TaskRole")["Policies"] for s in p["PolicyDocument"]["Statement"]]
    (mount,) = [s for s in statements if "elasticfilesystem:ClientMount" in s["Action"]]
    assert mount["Condition"] == {
        "StringEquals": {"elasticfilesystem:AccessPointArn": {"Fn::GetAtt": ["FileSystemAccessPoint", "Arn"]}}
    }
    service = template["Resources"]["Service"]
    assert props(template, "Service")["DesiredCount"] == 2
    assert {"HttpsListener", "FileSystemMountTargetA"} <= set(service["DependsOn"])  # prod serves HTTPS
    assert props(template, "Service")["LoadBalancers"] == [
        {"ContainerName": "app", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "TargetGroup"}}
    ]


def test_firewall_nfs_only_from_the_service_and_the_service_only_from_the_alb(dr):
    template = dr["prod"]["dr-primary"]
    ingress = {k: v["Properties"] for k, v in of_type(template, "AWS::EC2::SecurityGroupIngress").items()}
    sources = {(p["GroupId"]["Fn::GetAtt"][0], p["FromPort"], p["SourceSecurityGroupId"]["Fn::GetAtt"][0])
               for p in ingress.values()}
    assert sources == {
        ("DatabaseSecurityGroup", 5432, "ServiceSecurityGroup"),
        ("DatabaseSecurityGroup", 5432, "SecretRotationSecurityGroup"),  # the AWS-hosted rotation function
        ("CacheSecurityGroup", 6379, "ServiceSecurityGroup"),
        ("FileSystemSecurityGroup", 2049, "ServiceSecurityGroup"),
        ("ServiceSecurityGroup", 8080, "LoadBalancerSecurityGroup"),
    }
    for group in ("FileSystemSecurityGroup", "ServiceSecurityGroup"):
        assert "SecurityGroupIngress" not in props(template, group)
    internet = props(template, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    # prod: HTTPS, and 80 only to redirect; dev serves plain HTTP on 80 alone
    assert {(rule["FromPort"], rule["CidrIp"]) for rule in internet} == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0")}
    internet = props(dr["dev"]["dr-primary"], "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert {(rule["FromPort"], rule["CidrIp"]) for rule in internet} == {(80, "0.0.0.0/0")}


def test_https_variant_listens_on_443_and_redirects_80(dr_variant):
    template = dr_variant["dr-primary"]
    https = props(template, "HttpsListener")
    assert https["Protocol"] == "HTTPS" and https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"][0]["CertificateArn"].startswith("arn:aws:acm:eu-west-2:")
    redirect = props(template, "HttpListener")["DefaultActions"][0]
    assert redirect["Type"] == "redirect" and redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    ports = {rule["FromPort"] for rule in props(template, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]}
    assert ports == {80, 443}
    assert not [n for n in template["Metadata"]["StreamFlix"].get("SecurityNotes", []) if "plain HTTP" in n]
    assert template["Resources"]["Service"]["DependsOn"][-1] == "HttpsListener"


def test_plain_http_is_a_recorded_security_note(dr):
    notes = dr["dev"]["dr-primary"]["Metadata"]["StreamFlix"]["SecurityNotes"]
    assert len([n for n in notes if "plain HTTP" in n]) == 1
    assert props(dr["dev"]["dr-primary"], "HttpListener")["DefaultActions"][0]["Type"] == "forward"
    # prod refuses plain HTTP: its certificates are deploy-time parameters
    assert not [n for n in dr["prod"]["dr-primary"]["Metadata"]["StreamFlix"]["SecurityNotes"] if "plain HTTP" in n]
    https = props(dr["prod"]["dr-primary"], "HttpsListener")
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]


def test_access_logs_bucket(dr):
    template = dr["prod"]["dr-primary"]
    bucket_resource = template["Resources"]["AccessLogBucket"]
    assert bucket_resource["DeletionPolicy"] == "Retain"  # not ExceptOnCreate: ELB writes to it at create
    bucket = bucket_resource["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}  # the only one ELB delivery supports
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    (lifecycle,) = bucket["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == 90 and lifecycle["Status"] == "Enabled"
    deny, deliver = props(template, "AccessLogBucketPolicy")["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # eu-west-2 predates the log-delivery service principal: its regional ELB account writes
    assert deliver["Principal"] == {"AWS": "arn:aws:iam::652711504416:root"}
    assert deliver["Action"] == ["s3:PutObject"]
    attributes = {a["Key"]: a["Value"] for a in props(template, "LoadBalancer")["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true" and attributes["access_logs.s3.bucket"] == {"Ref": "AccessLogBucket"}
    assert attributes["deletion_protection.enabled"] == {"Ref": "DeletionProtection"}  # on by the follow-up update
    assert template["Resources"]["LoadBalancer"]["DependsOn"] == ["AccessLogBucketPolicy", "InternetGatewayAttachment"]


def test_log_delivery_uses_the_service_principal_in_newer_regions():
    from streamflix.constructs.load_balancer import LOG_DELIVERY_PRINCIPAL, log_delivery_principal

    assert log_delivery_principal("ap-southeast-5").JSONrepr() == {"Service": LOG_DELIVERY_PRINCIPAL}
    assert log_delivery_principal("us-east-1").JSONrepr() == {"AWS": "arn:aws:iam::127311923021:root"}


CRITICAL_AND_WATCH_ALARMS = {
    "DatabaseCpuAlarm": ("AWS/RDS", "CPUUtilization", "GreaterThanThreshold", 80),
    "DatabaseConnectionsAlarm": ("AWS/RDS", "DatabaseConnections", "GreaterThanThreshold", 1000),
    "CacheNode1CpuAlarm": ("AWS/ElastiCache", "EngineCPUUtilization", "GreaterThanThreshold", 75),
    "FileSystemIoLimitAlarm": ("AWS/EFS", "PercentIOLimit", "GreaterThanThreshold", 90),
    "ServiceRunningTasksAlarm": ("ECS/ContainerInsights", "RunningTaskCount", "LessThanThreshold", 1),
    "LoadBalancerNoHealthyHostsAlarm": ("AWS/ApplicationELB", "HealthyHostCount", "LessThanThreshold", 1),
    "LoadBalancerResponseTimeAlarm": ("AWS/ApplicationELB", "TargetResponseTime", "GreaterThanThreshold", 1.0),
}


@pytest.mark.parametrize("env", PRESETS)
def test_alarms_with_their_thresholds(dr, env):
    template = dr[env]["dr-primary"]
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    for logical_id, (namespace, metric, comparison, threshold) in CRITICAL_AND_WATCH_ALARMS.items():
        alarm = alarms[logical_id]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            namespace, metric, comparison, threshold
        ), logical_id
        expected = [{"Ref": "AlarmTopic"}] + ([{"Ref": "ExistingAlarmTopicArn"}] if env == "prod" else [])
        assert alarm["AlarmActions"] == expected  # prod also pages through an existing topic
    for critical in ("ServiceRunningTasksAlarm", "LoadBalancerNoHealthyHostsAlarm"):
        assert alarms[critical]["Properties"]["TreatMissingData"] == "breaching"


def test_dashboard_charts_every_dr_metric_including_the_remote_replica_lag(dr):
    dashboard = props(dr["prod"]["dr-primary"], "Dashboard")
    assert dashboard["DashboardName"] == {"Fn::Sub": "streamflix-${EnvironmentSuffix}-dr-primary"}
    body = dashboard["DashboardBody"]["Fn::Sub"][0]
    for metric in ("CPUUtilization", "DatabaseConnections", "ReplicaLag", "CacheHits", "CacheMisses",
                   "ClientConnections", "PercentIOLimit", "MemoryUtilization", "RunningTaskCount",
                   "TargetResponseTime", "HealthyHostCount"):
        assert f'"{metric}"' in body, metric
    # the replica lives in the recovery region: its widget says so
    assert '"region":"us-east-1"' in body and '"title":"ReplicaLag (us-east-1)"' in body


def test_efs_resources_carry_the_standard_tags(dr):
    template = dr["prod"]["dr-primary"]
    assert STANDARD_TAGS | {"CostCenter", "Name"} <= tag_keys(props(template, "FileSystemAccessPoint")["AccessPointTags"])


def test_names_and_key_are_its_own(dr):
    template = dr["prod"]["dr-primary"]
    assert props(template, "PostgresPrimaryInstance")["DBInstanceIdentifier"] == {
        "Fn::Sub": "streamflix-${EnvironmentSuffix}-pg-primary"
    }
    assert props(template, "DataKeyAlias")["AliasName"] == {"Fn::Sub": "alias/streamflix-${EnvironmentSuffix}-dr-primary-data"}
    assert template["Metadata"]["StreamFlix"]["Region"] == "eu-west-2"


def keys_anywhere(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys_anywhere(value)
    elif isinstance(node, list):
        for item in node:
            yield from keys_anywhere(item)


@pytest.mark.parametrize("env", PRESETS)
def test_no_credentials_in_either_template(dr, env):
    for name in ("dr-primary", "dr-recovery"):
        keys = set(keys_anywhere(dr[env][name]["Resources"]))
        assert not keys & {"AuthToken", "SecretString", "Password"}, name
    # the only password is a dynamic reference to the template's generated, rotating secret
    primary = props(dr[env]["dr-primary"], "PostgresPrimaryInstance")
    assert primary["MasterUserPassword"]["Fn::Sub"][0].startswith("{{resolve:secretsmanager:")
    assert "MasterUserPassword" not in set(keys_anywhere(dr[env]["dr-recovery"]["Resources"]))
    task_role = props(dr[env]["dr-primary"], "TaskRole")
    assert task_role["Description"] == "The application: connect to the database and cache, mount the shared file system"
