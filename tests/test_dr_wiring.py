"""Cross-region wiring: wiring.json from the rendered pair, the output gate, and the boto3 resolver (Stubber only)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from streamflix import load_template, pipeline, wiring
from streamflix.cli import main
from streamflix.config import PRESETS
from streamflix.render import RenderedStack

ACCOUNT = "123456789012"
DB_ARN = f"arn:aws:rds:eu-west-2:{ACCOUNT}:db:streamflix-prod-pg-primary"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="session")
def artifacts(configs, rendered):
    return {env: pipeline.render_artifacts(configs[env], list(rendered[env].values())) for env in PRESETS}


@pytest.fixture(scope="session")
def described(artifacts):
    return {env: json.loads(files[wiring.WIRING_FILE]) for env, files in artifacts.items()}


@pytest.mark.parametrize("env", PRESETS)
def test_every_recovery_parameter_from_the_primary_is_wired_to_an_existing_output(dr, described, env):
    recovery, primary = dr[env]["dr-recovery"], dr[env]["dr-primary"]
    from_primary = {p["parameter"]: p["from"] for p in described[env]["parameters"] if p["stack"] == "dr-recovery"}
    # the recovery stack's own parameters (not wired): suffix, scale, failover switch, deletion
    # protection, image, and prod's deploy-time DNS name, certificate and alarm topic
    own = {"EnvironmentSuffix", "ServiceTaskCount", "DatabaseRole", "DeletionProtection", "ContainerImage",
           "CertificateArn", "HostedZoneId", "FailoverRecordName", "ExistingAlarmTopicArn"}
    assert set(from_primary) == set(recovery["Parameters"]) - own
    for parameter, source in from_primary.items():
        assert source["stack"] == "dr-primary"
        assert source["output"] in primary["Outputs"], parameter
    # EFS replicates into the recovery stack's own file system, wired back to the primary (findings 2, 8)
    from_recovery = {p["parameter"]: p["from"] for p in described[env]["parameters"] if p["stack"] == "dr-primary"}
    assert from_recovery["RecoveryFileSystemId"] == {
        "stack": "dr-recovery", "output": "ReplicaFileSystemId", "resolve": "stack-output"
    }
    assert "ReplicaFileSystemId" in recovery["Outputs"]


def test_dns_parameters_are_wired_when_dns_is_configured(dr_variant, dr_variant_stacks):
    wired = {w.parameter: w for w in wiring.wired_parameters(list(dr_variant_stacks.values()))}
    for parameter, output in (("PrimaryLoadBalancerDnsName", "LoadBalancerDnsName"),
                              ("PrimaryLoadBalancerHostedZoneId", "LoadBalancerHostedZoneId")):
        assert wired[parameter].source_output == output and wired[parameter].required
        assert output in dr_variant["dr-primary"]["Outputs"]


def test_deploy_order_primary_recovery_then_primary_update(described):
    steps = described["prod"]["deploy_order"]
    assert [(s["action"], s["stack"]) for s in steps] == [
        ("create", "dr-primary"), ("create", "dr-recovery"), ("update", "dr-primary")
    ]
    assert steps[1]["parameters"] == ["PrimaryDatabaseInstanceArn", "PrimaryLoadBalancerDnsName",
                                      "PrimaryLoadBalancerHostedZoneId"]
    assert steps[2]["parameters"] == ["RecoveryBackupKmsKeyArn", "RecoveryFileSystemId"]
    stacks = described["prod"]["stacks"]
    assert stacks["dr-recovery"] == {
        "region": "us-east-1", "stack_name": "streamflix-prod-dr-recovery", "template": "dr-recovery.yaml"
    }


def test_required_wiring_cycle_is_refused():
    loop = [wiring.WiredParameter("a", "X", "b", "O", "stack-output", True),
            wiring.WiredParameter("b", "Y", "a", "O", "stack-output", True)]
    with pytest.raises(wiring.WiringCycleError, match=r"cycle: (a -> b -> a|b -> a -> b); no stack of it can be created first"):
        wiring.deploy_order(["a", "b"], loop)


def test_creation_order_takes_the_first_ready_stack_by_name():
    # "network" unblocks "app" before "zeta" goes: one stack at a time, first by name.
    order = wiring.creation_order({"zeta": set(), "network": set(), "app": {"network"}, "edge": {"app", "gone"}})
    assert order == ["network", "app", "edge", "zeta"]


def test_the_documents_refuse_a_wiring_cycle_as_wiring_json_does(configs, rendered):
    from streamflix.docs.stack import EnvironmentFacts, Wire

    env = EnvironmentFacts.build(configs["prod"], list(rendered["prod"].values()))
    primary = env["dr-primary"]
    assert env.deploy_order() == ["dr-primary", "dr-recovery", "ha-database"]
    # A default-less parameter of the primary wired from the recovery closes the loop.
    primary.wires = {**primary.wires, "RecoveryKey": Wire("RecoveryKey", "dr-recovery", "DataKeyArn", "stack-output", "test")}
    assert [w.parameter for w in env.required_wires("dr-primary")] == ["RecoveryKey"]
    with pytest.raises(wiring.WiringCycleError, match="cycle"):
        env.deploy_order()


def test_wiring_file_is_deterministic_and_free_of_paths(configs, artifacts):
    again = pipeline.render_artifacts(configs["prod"], pipeline.render_environment(configs["prod"]))
    assert again[wiring.WIRING_FILE] == artifacts["prod"][wiring.WIRING_FILE]
    assert "/work" not in artifacts["prod"][wiring.WIRING_FILE] and "/tmp" not in artifacts["prod"][wiring.WIRING_FILE]


def test_no_wiring_file_without_wired_stacks(configs, rendered):
    assert wiring.WIRING_FILE not in pipeline.render_artifacts(configs["dev"], [rendered["dev"]["ha-database"]])


def test_gate_passes_the_real_pair(configs, rendered):
    stacks = list(rendered["prod"].values())
    assert wiring.wired_outputs_exist(configs["prod"], stacks, Path("out/prod")) == []


def test_gate_catches_a_wired_output_the_primary_does_not_have(configs, rendered):
    primary = rendered["prod"]["dr-primary"]
    broken = RenderedStack(
        primary.blueprint, primary.region, primary.filename,
        primary.text.replace("  DatabaseInstanceArn:\n", "  DatabaseInstanceArnRenamed:\n", 1), primary.resource_count,
    )
    assert "DatabaseInstanceArn" not in load_template(broken.text)["Outputs"]
    findings = wiring.wired_outputs_exist(configs["prod"], [broken, rendered["prod"]["dr-recovery"]], Path("out/prod"))
    assert [(f.rule, f.file) for f in findings] == [(wiring.WIRING_RULE, "out/prod/dr-recovery.yaml")]
    assert "PrimaryDatabaseInstanceArn is wired from dr-primary output DatabaseInstanceArn" in findings[0].message
    assert rendered["prod"]["dr-recovery"].text.splitlines()[findings[0].line - 1] == "  PrimaryDatabaseInstanceArn:"


# -- resolver, with botocore's Stubber (never the network) --------------------


class StubbedSession:
    """Hands out pre-stubbed clients per (service, region) and fails on any other."""

    def __init__(self):
        self._clients = {}
        self.stubbers = []

    def stub(self, service, region):
        client = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        ).client(service)
        stubber = Stubber(client)
        stubber.activate()
        self._clients[(service, region)] = client
        self.stubbers.append(stubber)
        return stubber

    def client(self, service, region_name):
        return self._clients[(service, region_name)]

    def verify(self):
        for stubber in self.stubbers:
            stubber.assert_no_pending_responses()


def stack_response(name, outputs, status="CREATE_COMPLETE"):
    return {
        "Stacks": [
            {
                "StackName": name,
                "CreationTime": "2026-11-23T00:00:00Z",
                "StackStatus": status,
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def replication_response(status="ENABLED", region="us-east-1"):
    return {
        "Replications": [
            {
                "SourceFileSystemId": "fs-0aaaaaaaaaaaaaaa1",
                "SourceFileSystemRegion": "eu-west-2",
                "SourceFileSystemArn": f"arn:aws:elasticfilesystem:eu-west-2:{ACCOUNT}:file-system/fs-0aaaaaaaaaaaaaaa1",
                "OriginalSourceFileSystemArn": f"arn:aws:elasticfilesystem:eu-west-2:{ACCOUNT}:file-system/fs-0aaaaaaaaaaaaaaa1",
                "CreationTime": "2026-11-23T00:00:00Z",
                "Destinations": [{"Status": status, "FileSystemId": "fs-0bbbbbbbbbbbbbbb2", "Region": region}],
            }
        ]
    }


ALB_DNS = "streamflix-prod-alb-123.eu-west-2.elb.amazonaws.com"
PRIMARY_OUTPUTS = {"DatabaseInstanceArn": DB_ARN, "FileSystemId": "fs-0aaaaaaaaaaaaaaa1", "VpcId": "vpc-1",
                   "LoadBalancerDnsName": ALB_DNS, "LoadBalancerHostedZoneId": "ZHURV8PSTC4K8"}


@pytest.fixture
def efs_described(described):
    """The shipped pair plus a parameter resolved from an EFS replication EFS created itself
    (the resolver's other mode, for templates that let EFS make the replica)."""
    description = json.loads(json.dumps(described["prod"]))
    description["parameters"].append({
        "stack": "dr-recovery", "parameter": "ReplicaFileSystemId", "required": True,
        "from": {"stack": "dr-primary", "output": "FileSystemId", "resolve": "efs-replication-destination"},
    })
    return description


def test_resolves_the_recovery_parameters_from_the_deployed_primary(described):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_response(
        "describe_stacks", stack_response("streamflix-prod-dr-primary", PRIMARY_OUTPUTS),
        {"StackName": "streamflix-prod-dr-primary"},
    )
    values = wiring.resolve_parameters(described["prod"], "dr-recovery", session=session)
    # prod fails over through Route 53, so the primary ALB's name and zone are wired too
    assert values == {"PrimaryDatabaseInstanceArn": DB_ARN,
                      "PrimaryLoadBalancerDnsName": ALB_DNS, "PrimaryLoadBalancerHostedZoneId": "ZHURV8PSTC4K8"}
    assert wiring.cloudformation_parameters(values)[0] == {"ParameterKey": "PrimaryDatabaseInstanceArn", "ParameterValue": DB_ARN}
    session.verify()


def test_deployed_stack_names_can_be_overridden(described):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_response(
        "describe_stacks", stack_response("sf-london", PRIMARY_OUTPUTS), {"StackName": "sf-london"}
    )
    values = wiring.resolve_parameters(described["prod"], "dr-recovery", session=session,
                                       stack_names={"dr-primary": "sf-london"})
    assert values["PrimaryDatabaseInstanceArn"] == DB_ARN
    session.verify()


def test_primary_not_deployed_is_a_clear_error(described):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_client_error(
        "describe_stacks", "ValidationError", "Stack with id streamflix-prod-dr-primary does not exist"
    )
    with pytest.raises(wiring.WiringError, match="dr-recovery needs PrimaryDatabaseInstanceArn.*is not deployed; deploy dr-primary first"):
        wiring.resolve_parameters(described["prod"], "dr-recovery", session=session)


def test_primary_still_rolling_back_is_refused(described):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_response(
        "describe_stacks", stack_response("streamflix-prod-dr-primary", {}, status="ROLLBACK_FAILED")
    )
    with pytest.raises(wiring.WiringError, match="is ROLLBACK_FAILED"):
        wiring.resolve_parameters(described["prod"], "dr-recovery", session=session)


def test_efs_created_replica_is_resolved_from_the_replication(efs_described):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_response(
        "describe_stacks", stack_response("streamflix-prod-dr-primary", PRIMARY_OUTPUTS)
    )
    session.stub("efs", "eu-west-2").add_response(
        "describe_replication_configurations", replication_response(), {"FileSystemId": "fs-0aaaaaaaaaaaaaaa1"}
    )
    values = wiring.resolve_parameters(efs_described, "dr-recovery", session=session)
    assert values == {"PrimaryDatabaseInstanceArn": DB_ARN, "ReplicaFileSystemId": "fs-0bbbbbbbbbbbbbbb2",
                      "PrimaryLoadBalancerDnsName": ALB_DNS, "PrimaryLoadBalancerHostedZoneId": "ZHURV8PSTC4K8"}
    session.verify()


def test_replication_not_yet_enabled_is_refused(efs_described):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_response(
        "describe_stacks", stack_response("streamflix-prod-dr-primary", PRIMARY_OUTPUTS)
    )
    session.stub("efs", "eu-west-2").add_response("describe_replication_configurations", replication_response("ENABLING"))
    with pytest.raises(wiring.WiringError, match="is ENABLING; wait until it is ENABLED"):
        wiring.resolve_parameters(efs_described, "dr-recovery", session=session)


def test_replication_to_another_region_is_refused(efs_described):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_response(
        "describe_stacks", stack_response("streamflix-prod-dr-primary", PRIMARY_OUTPUTS)
    )
    session.stub("efs", "eu-west-2").add_response(
        "describe_replication_configurations", replication_response(region="us-west-2")
    )
    with pytest.raises(wiring.WiringError, match="does not replicate to us-east-1"):
        wiring.resolve_parameters(efs_described, "dr-recovery", session=session)


def test_optional_backup_key_is_skipped_until_the_recovery_stack_exists(described):
    session = StubbedSession()
    session.stub("cloudformation", "us-east-1").add_client_error(
        "describe_stacks", "ValidationError", "Stack with id streamflix-prod-dr-recovery does not exist"
    )
    assert wiring.resolve_parameters(described["prod"], "dr-primary", session=session) == {}


def test_backup_key_comes_from_the_recovery_stack_once_deployed(described):
    session = StubbedSession()
    session.stub("cloudformation", "us-east-1").add_response(
        "describe_stacks",
        stack_response("streamflix-prod-dr-recovery", {"DataKeyArn": KEY_ARN, "ReplicaFileSystemId": "fs-0bbbbbbbbbbbbbbb2"},
                       "UPDATE_COMPLETE"),
        {"StackName": "streamflix-prod-dr-recovery"},
    )
    assert wiring.resolve_parameters(described["prod"], "dr-primary", session=session) == {
        "RecoveryBackupKmsKeyArn": KEY_ARN, "RecoveryFileSystemId": "fs-0bbbbbbbbbbbbbbb2"
    }


def test_cli_prints_the_parameters_file(monkeypatch, tmp_path):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_response(
        "describe_stacks", stack_response("streamflix-stg-dr-primary", PRIMARY_OUTPUTS),
        {"StackName": "streamflix-stg-dr-primary"},
    )
    monkeypatch.setattr(wiring, "new_session", lambda: session)
    target = tmp_path / "recovery-parameters.json"
    result = CliRunner().invoke(main, ["wiring", "--env", "staging", "--stack", "dr-recovery", "--output", str(target)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text()) == [
        {"ParameterKey": "PrimaryDatabaseInstanceArn", "ParameterValue": DB_ARN},
    ]
    session.verify()


def test_cli_reports_a_missing_primary_without_a_traceback(monkeypatch):
    session = StubbedSession()
    session.stub("cloudformation", "eu-west-2").add_client_error(
        "describe_stacks", "ValidationError", "Stack with id streamflix-prod-dr-primary does not exist"
    )
    monkeypatch.setattr(wiring, "new_session", lambda: session)
    result = CliRunner().invoke(main, ["wiring", "--env", "prod", "--stack", "dr-recovery"])
    assert result.exit_code == 1
    assert "deploy dr-primary first" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--stack", "ha-database"], "allowed: dr-primary, dr-recovery"),
    (["--stack", "dr-recovery", "--stack-name", "nonsense"], "expected BLUEPRINT=NAME"),
])
def test_cli_bad_input_exits_2(args, message):
    result = CliRunner().invoke(main, ["wiring", "--env", "prod", *args])
    assert result.exit_code == 2 and message in result.output
