"""The DR pair's deployed-stack checks (issue 11), against recorded AWS responses (Stubber).

A healthy pair passes each check, before and after a failover; a broken one fails it, so the
DR integration tests (tests/integration/test_dr_pair_deployed.py) are known to catch it.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from streamflix.verify_dr import (
    check_failover_health_check,
    check_file_replication,
    check_primary_database,
    check_recovery_database,
    check_service,
    check_targets,
)

PRIMARY = {"DatabaseInstanceIdentifier": "streamflix-prod-pg", "FileSystemId": "fs-0aaaaaaaaaaaaaaa1"}
RECOVERY = {
    "ReplicaInstanceIdentifier": "streamflix-prod-pg-replica",
    "ReplicaEndpoint": "streamflix-prod-pg-replica.abc.us-east-1.rds.amazonaws.com",
    "EcsClusterName": "streamflix-prod", "EcsServiceName": "svc",
    "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/sf/1",
    "PrimaryHealthCheckId": "11111111-2222-3333-4444-555555555555",
    "FailoverRecordName": "app.streamflix.com",
}
GROUP_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sf/2"


def client(service, region="us-east-1"):
    return boto3.client(service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")


def _instances(rds, identifier, **instance):
    body = {"DBInstanceIdentifier": identifier, "DBInstanceStatus": "available", **instance}
    return rds, {"DBInstances": [body]}, {"DBInstanceIdentifier": identifier}


def test_primary_database_healthy_and_broken():
    rds = client("rds", "eu-west-2")
    healthy = dict(MultiAZ=True, StorageEncrypted=True, IAMDatabaseAuthenticationEnabled=True,
                   ReadReplicaDBInstanceIdentifiers=["arn:aws:rds:us-east-1:123456789012:db:streamflix-prod-pg-replica"])
    with Stubber(rds) as stub:
        stub.add_response("describe_db_instances", *_instances(rds, "streamflix-prod-pg", **healthy)[1:])
        assert check_primary_database(rds, PRIMARY) == []
    with Stubber(rds) as stub:
        broken = dict(healthy, MultiAZ=False, ReadReplicaDBInstanceIdentifiers=[])
        stub.add_response("describe_db_instances", *_instances(rds, "streamflix-prod-pg", **broken)[1:])
        assert check_primary_database(rds, PRIMARY) == [
            "DB instance streamflix-prod-pg is not Multi-AZ",
            "DB instance streamflix-prod-pg has no cross-region read replica",
        ]


@pytest.mark.parametrize("promoted", [False, True])
def test_recovery_database_before_and_after_promotion(promoted):
    rds = client("rds")
    replica = {"Endpoint": {"Address": RECOVERY["ReplicaEndpoint"]},
               "ReadReplicaSourceDBInstanceIdentifier": "arn:aws:rds:eu-west-2:123456789012:db:streamflix-prod-pg"}
    standalone = {"Endpoint": {"Address": RECOVERY["ReplicaEndpoint"]}}
    right, wrong = (standalone, replica) if promoted else (replica, standalone)
    with Stubber(rds) as stub:
        stub.add_response("describe_db_instances", *_instances(rds, RECOVERY["ReplicaInstanceIdentifier"], **right)[1:])
        assert check_recovery_database(rds, RECOVERY, promoted=promoted) == []
    with Stubber(rds) as stub:
        stub.add_response("describe_db_instances", *_instances(rds, RECOVERY["ReplicaInstanceIdentifier"], **wrong)[1:])
        (problem,) = check_recovery_database(rds, RECOVERY, promoted=promoted)
    assert ("was not promoted" if promoted else "not a read replica") in problem


def test_file_replication_enabled_then_deleted_at_failover():
    efs = client("efs", "eu-west-2")
    enabled = {"Replications": [{
        "SourceFileSystemId": PRIMARY["FileSystemId"], "SourceFileSystemRegion": "eu-west-2",
        "SourceFileSystemArn": "arn:aws:elasticfilesystem:eu-west-2:123456789012:file-system/fs-0aaaaaaaaaaaaaaa1",
        "OriginalSourceFileSystemArn": "arn:aws:elasticfilesystem:eu-west-2:123456789012:file-system/fs-0aaaaaaaaaaaaaaa1",
        "CreationTime": "2026-01-01T00:00:00Z",
        "Destinations": [{"Status": "ENABLED", "FileSystemId": "fs-0bbbbbbbbbbbbbbb2", "Region": "us-east-1"}],
    }]}
    expected = {"FileSystemId": PRIMARY["FileSystemId"]}
    with Stubber(efs) as stub:
        stub.add_response("describe_replication_configurations", enabled, expected)
        assert check_file_replication(efs, PRIMARY) == []
    with Stubber(efs) as stub:
        stub.add_response("describe_replication_configurations", enabled, expected)
        assert check_file_replication(efs, PRIMARY, promoted=True) == [
            "fs-0aaaaaaaaaaaaaaa1 still replicates: the recovery file system is read-only"
        ]
    with Stubber(efs) as stub:
        stub.add_response("describe_replication_configurations", {"Replications": []}, expected)
        assert check_file_replication(efs, PRIMARY) == [
            "fs-0aaaaaaaaaaaaaaa1 has no replication: files are not copied to the recovery region"
        ]


def test_service_runs_enough_tasks():
    ecs = client("ecs")
    expected = {"cluster": "streamflix-prod", "services": ["svc"]}
    service = {"serviceName": "svc", "runningCount": 1,
               "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]}
    with Stubber(ecs) as stub:
        stub.add_response("describe_services", {"services": [service]}, expected)
        assert check_service(ecs, RECOVERY, minimum=1) == []
    with Stubber(ecs) as stub:
        failed = dict(service, deployments=[{"status": "PRIMARY", "rolloutState": "FAILED",
                                             "rolloutStateReason": "circuit breaker"}])
        stub.add_response("describe_services", {"services": [failed]}, expected)
        assert check_service(ecs, RECOVERY, minimum=2) == [
            "ECS service svc runs 1 task(s), expected >= 2",
            "ECS service svc: the last deployment failed (circuit breaker)",
        ]


def test_targets_healthy_and_not():
    elbv2 = client("elbv2")
    groups = {"TargetGroups": [{"TargetGroupArn": GROUP_ARN, "TargetGroupName": "sf"}]}
    for states, expected in ((["healthy", "unhealthy"], []), (["unhealthy"], ["target group sf has no healthy target"])):
        with Stubber(elbv2) as stub:
            stub.add_response("describe_target_groups", groups, {"LoadBalancerArn": RECOVERY["LoadBalancerArn"]})
            stub.add_response(
                "describe_target_health",
                {"TargetHealthDescriptions": [{"Target": {"Id": f"10.0.0.{i}"}, "TargetHealth": {"State": s}}
                                              for i, s in enumerate(states)]},
                {"TargetGroupArn": GROUP_ARN},
            )
            assert check_targets(elbv2, RECOVERY) == expected


@pytest.mark.parametrize("promoted", [False, True])
def test_route53_health_check_follows_the_serving_side(promoted):
    route53 = client("route53")
    success = {"IPAddress": "1.1.1.1", "Region": "us-east-1", "StatusReport": {"Status": "Success: HTTP Status Code 200"}}
    failure = {"IPAddress": "1.1.1.2", "Region": "eu-west-1", "StatusReport": {"Status": "Failure: Connection timed out"}}
    healthy, down = [success, success, failure], [failure, failure, success]
    expected = {"HealthCheckId": RECOVERY["PrimaryHealthCheckId"]}
    with Stubber(route53) as stub:
        stub.add_response("get_health_check_status", {"HealthCheckObservations": down if promoted else healthy}, expected)
        assert check_failover_health_check(route53, RECOVERY, promoted=promoted) == []
    with Stubber(route53) as stub:
        stub.add_response("get_health_check_status", {"HealthCheckObservations": healthy if promoted else down}, expected)
        (problem,) = check_failover_health_check(route53, RECOVERY, promoted=promoted)
    assert "app.streamflix.com" in problem


def test_without_dns_there_is_no_health_check_to_judge():
    assert check_failover_health_check(client("route53"), {"ReplicaInstanceIdentifier": "x"}) == []


def test_integration_tests_skip_clearly_without_outputs(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/integration/test_dr_pair_deployed.py"],
        capture_output=True, text=True, timeout=300, cwd=str(__import__("pathlib").Path(__file__).parents[1]),
        env={**__import__("os").environ, "STREAMFLIX_DR_RECOVERY_OUTPUTS": str(tmp_path / "missing.json"),
             "STREAMFLIX_DR_PRIMARY_OUTPUTS": str(tmp_path / "missing-primary.json")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout and "missing.json not found: deploy the DR pair" in result.stdout
