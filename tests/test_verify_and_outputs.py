"""The outputs helper and the deployed-stack checks, against recorded responses (Stubber).

A healthy stack passes every check; a broken one fails each, so the
integration tests are known to catch a wrong stack.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from streamflix.cli import main
from streamflix.outputs import StackNotFound, fetch_outputs, read_flat_outputs, write_flat_outputs
from streamflix.verify import check_alarms, check_cache, check_database, check_exports, check_network

REGION = "eu-central-1"
OUTPUTS = {
    "VpcId": "vpc-1",
    "AppSubnetIds": "subnet-a,subnet-b",
    "DataSubnetIds": "subnet-x",
    "DatabaseClusterName": "streamflix-dev-aurora",
    "DatabaseWriterEndpoint": "streamflix-dev-aurora.cluster-abc.eu-central-1.rds.amazonaws.com",
    "CacheReplicationGroupId": "streamflix-dev-cache",
    "AlarmTopicArn": "arn:aws:sns:eu-central-1:123456789012:alarms",
}


def client(service):
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def stack_response(status="CREATE_COMPLETE", outputs=(("B", "2"), ("A", "1"))):
    return {
        "Stacks": [
            {
                "StackName": "streamflix-dev-ha-database",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": status,
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs],
            }
        ]
    }


def test_fetch_outputs_flattens_and_sorts():
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_response(), {"StackName": "streamflix-dev-ha-database"})
        assert list(fetch_outputs(cfn, "streamflix-dev-ha-database").items()) == [("A", "1"), ("B", "2")]


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "CREATE_IN_PROGRESS"])
def test_outputs_of_an_unfinished_or_rolled_back_stack_are_refused(status):
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack_response(status), {"StackName": "s"})
        with pytest.raises(StackNotFound, match=status):
            fetch_outputs(cfn, "s")


def test_missing_stack_is_a_clear_error():
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id s does not exist")
        with pytest.raises(StackNotFound, match="does not exist"):
            fetch_outputs(cfn, "s")


def test_flat_outputs_round_trip(tmp_path):
    path = write_flat_outputs({"B": "2", "A": "1"}, tmp_path / "cfn-outputs" / "flat-outputs.json")
    assert path.read_text() == '{\n  "A": "1",\n  "B": "2"\n}\n'
    assert read_flat_outputs(path) == {"A": "1", "B": "2"}
    assert read_flat_outputs(tmp_path / "absent.json") is None


def test_outputs_command_writes_the_file(tmp_path, monkeypatch):
    cfn = client("cloudformation")
    stub = Stubber(cfn)
    stub.add_response("describe_stacks", stack_response(), {"StackName": "streamflix-dev-ha-database"})
    stub.activate()
    monkeypatch.setattr(boto3, "client", lambda service, region_name: cfn if (service, region_name) == ("cloudformation", REGION) else None)
    target = tmp_path / "flat.json"
    result = CliRunner().invoke(main, ["outputs", "--env", "dev", "--stack", "ha-database", "--file", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text()) == {"A": "1", "B": "2"}
    stub.assert_no_pending_responses()


def stub_network(ec2_stub, *, nat=True, data_route=False, same_az=False):
    ec2_stub.add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-1", "State": "available"}]}, {"VpcIds": ["vpc-1"]})
    ec2_stub.add_response(
        "describe_subnets",
        {"Subnets": [{"SubnetId": "subnet-a", "VpcId": "vpc-1", "AvailabilityZone": "eu-central-1a"},
                     {"SubnetId": "subnet-b", "VpcId": "vpc-1",
                      "AvailabilityZone": "eu-central-1a" if same_az else "eu-central-1b"}]},
        {"SubnetIds": ["subnet-a", "subnet-b"]},
    )
    ec2_stub.add_response("describe_vpc_endpoints", {"VpcEndpoints": []}, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]})
    nat_route = {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}
    local = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}
    for subnet in ("subnet-a", "subnet-b"):
        ec2_stub.add_response(
            "describe_route_tables",
            {"RouteTables": [{"Routes": [local, nat_route] if nat else [local]}]},
            {"Filters": [{"Name": "association.subnet-id", "Values": [subnet]}]},
        )
    ec2_stub.add_response(
        "describe_route_tables",
        {"RouteTables": [{"Routes": [local, nat_route] if data_route else [local]}]},
        {"Filters": [{"Name": "association.subnet-id", "Values": ["subnet-x"]}]},
    )


def test_network_healthy_and_broken():
    ec2 = client("ec2")
    with Stubber(ec2) as stub:
        stub_network(stub)
        assert check_network(ec2, OUTPUTS) == []
    with Stubber(ec2) as stub:
        stub_network(stub, nat=False, data_route=True, same_az=True)
        problems = check_network(ec2, OUTPUTS)
    assert any("two availability zones" in p for p in problems)
    assert sum("has no route out" in p for p in problems) == 2
    assert any("data subnet subnet-x has a default route" in p for p in problems)


def cluster(**changes):
    base = {
        "DBClusterIdentifier": "streamflix-dev-aurora",
        "Status": "available",
        "StorageEncrypted": True,
        "MultiAZ": True,
        "Endpoint": OUTPUTS["DatabaseWriterEndpoint"],
        "DBClusterMembers": [{"DBInstanceIdentifier": "w", "IsClusterWriter": True},
                             {"DBInstanceIdentifier": "r", "IsClusterWriter": False}],
    }
    base.update(changes)
    return {"DBClusters": [base]}


def test_database_healthy_and_broken():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_response("describe_db_clusters", cluster(), {"DBClusterIdentifier": "streamflix-dev-aurora"})
        assert check_database(rds, OUTPUTS) == []
    with Stubber(rds) as stub:
        stub.add_response(
            "describe_db_clusters",
            cluster(Status="backing-up", StorageEncrypted=False, MultiAZ=False,
                    DBClusterMembers=[{"DBInstanceIdentifier": "w", "IsClusterWriter": True}], Endpoint="other"),
            {"DBClusterIdentifier": "streamflix-dev-aurora"},
        )
        problems = check_database(rds, OUTPUTS)
    assert len(problems) == 4


def test_cache_healthy_and_broken():
    cache = client("elasticache")
    healthy = {"ReplicationGroupId": "streamflix-dev-cache", "Status": "available", "AutomaticFailover": "enabled",
               "MultiAZ": "enabled", "TransitEncryptionEnabled": True, "AtRestEncryptionEnabled": True}
    with Stubber(cache) as stub:
        stub.add_response("describe_replication_groups", {"ReplicationGroups": [healthy]},
                          {"ReplicationGroupId": "streamflix-dev-cache"})
        assert check_cache(cache, OUTPUTS) == []
    with Stubber(cache) as stub:
        stub.add_response("describe_replication_groups",
                          {"ReplicationGroups": [dict(healthy, AutomaticFailover="disabled", MultiAZ="disabled")]},
                          {"ReplicationGroupId": "streamflix-dev-cache"})
        problems = check_cache(cache, OUTPUTS)
    assert [p.split(":")[1].split()[0] for p in problems] == ["AutomaticFailover", "MultiAZ"]


def test_exports_healthy_and_missing():
    cfn = client("cloudformation")
    exports = [{"ExportingStackId": "id", "Name": f"stack-{k}", "Value": v} for k, v in OUTPUTS.items()]
    with Stubber(cfn) as stub:
        stub.add_response("list_exports", {"Exports": exports}, {})
        assert check_exports(cfn, "stack", OUTPUTS) == []
    with Stubber(cfn) as stub:
        stub.add_response("list_exports", {"Exports": exports[1:]}, {})
        assert check_exports(cfn, "stack", OUTPUTS) == ["output VpcId is not exported as stack-VpcId"]


def test_alarms_present_and_missing():
    cloudwatch = client("cloudwatch")
    alarm = {"AlarmName": "a", "AlarmActions": [OUTPUTS["AlarmTopicArn"]]}
    other = {"AlarmName": "b", "AlarmActions": ["arn:aws:sns:eu-central-1:123456789012:other"]}
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [alarm, alarm, other]}, {"AlarmTypes": ["MetricAlarm"]})
        assert check_alarms(cloudwatch, OUTPUTS, minimum=2) == []
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [alarm, other]}, {"AlarmTypes": ["MetricAlarm"]})
        assert check_alarms(cloudwatch, OUTPUTS, minimum=2) == [f"1 alarms notify {OUTPUTS['AlarmTopicArn']}; expected at least 2"]
