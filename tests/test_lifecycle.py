"""The lifecycle simulation and the fixes it checks, read from the real rendered output."""

import pytest

from streamflix.config import load_config
from streamflix.lifecycle import LIFECYCLE_RULE, deploy_model_holds, simulate, stack_views, unaccepted
from streamflix.pipeline import render_environment
from streamflix.render import load_template


@pytest.fixture(scope="module")
def prod():
    config = load_config(env="prod")
    return config, render_environment(config)


def verdict(verdicts, stack, resource, phase):
    return next(v for v in verdicts if (v.stack, v.resource, v.phase) == (stack, resource, phase))


def test_shipped_presets_need_no_unnamed_manual_cleanup(prod):
    config, rendered = prod
    verdicts = simulate(stack_views(rendered))
    assert unaccepted(verdicts) == []
    assert deploy_model_holds(config, rendered, __import__("pathlib").Path("out/prod")) == []


def test_failed_create_deletes_what_it_made(prod):
    _, rendered = prod
    verdicts = simulate(stack_views(rendered))
    # finding 2: the stream and keys go with the rollback; deletion protection is off at create
    assert verdict(verdicts, "ha-database", "EventStream", "create-rollback").outcome == "deleted"
    # kept by a delete, but CloudFormation names it: the next create does not collide
    assert verdict(verdicts, "ha-database", "EventStream", "delete").outcome == "retained"
    assert verdict(verdicts, "ha-database", "EventStream", "second-create").outcome == "created"
    assert verdict(verdicts, "ha-database", "DataKey", "create-rollback").outcome == "deleted"
    assert verdict(verdicts, "ha-database", "AuroraCluster", "create-rollback").outcome == "snapshot"
    assert verdict(verdicts, "dr-primary", "LoadBalancer", "create-rollback").outcome == "deleted"
    # ... and after the follow-up update, deletion protection refuses the delete by design
    assert verdict(verdicts, "ha-database", "AuroraCluster", "delete").outcome == "protected"
    assert verdict(verdicts, "dr-recovery", "PostgresReplicaInstance", "delete").outcome == "protected"


def test_failover_promotes_in_place_and_removes_the_lag_alarm(prod):
    _, rendered = prod
    verdicts = simulate(stack_views(rendered))
    promoted = verdict(verdicts, "dr-recovery", "PostgresReplicaInstance", "failover")
    assert promoted.outcome == "changed" and "promoted in place" in promoted.why
    assert verdict(verdicts, "dr-recovery", "ReplicaLagAlarm", "failover").outcome == "deleted"


def test_an_unnamed_manual_cleanup_fails_the_build(prod):
    config, _ = prod
    bare = config.model_copy(update={"lifecycle_exceptions": []})
    findings = deploy_model_holds(bare, render_environment(bare), __import__("pathlib").Path("out/prod"))
    assert {f.rule for f in findings} == {LIFECYCLE_RULE}
    named = sorted(f.message.split(" (")[0] for f in findings)
    assert named == ["AccessLogBucket", "AccessLogBucket"]
    assert all("lifecycle_exceptions" in f.message for f in findings)


def test_exceptions_reach_the_compliance_report_and_the_runbook():
    with open("out/prod/compliance/dr-primary.md") as report:
        assert "Lifecycle exceptions (outcomes needing manual cleanup, accepted): **AccessLogBucket** on create-rollback" in report.read()
    assert "(accepted: ELB writes a test object" in open("out/prod/runbooks/dr-primary.md").read()
    runbook = open("out/prod/runbooks/ha-database.md").read()
    assert "| resource | type | create-rollback | delete | second-create | failover |" in runbook
    assert "| `EventStream` | AWS::Kinesis::Stream |" in runbook
    assert "ParameterKey=DeletionProtection,ParameterValue=true" in runbook


def test_dr_primary_master_secret_is_template_owned_rotated_and_replicable():
    template = load_template(open("out/prod/dr-primary.yaml").read())
    resources = template["Resources"]
    assert template["Transform"] == "AWS::SecretsManager-2020-07-23"
    primary = resources["PostgresPrimaryInstance"]["Properties"]
    assert "ManageMasterUserPassword" not in primary  # finding 1
    assert "{{resolve:secretsmanager:${Secret}:SecretString:password}}" in str(primary["MasterUserPassword"])
    secret = resources["DatabaseMasterSecret"]
    assert secret["Properties"]["KmsKeyId"] == {"Ref": "DataKey"}
    assert secret["Properties"]["ReplicaRegions"]["Fn::If"][0] == "ReplicateBackupsToRecoveryRegion"  # finding 7
    rotation = resources["DatabaseMasterSecretRotation"]["Properties"]
    assert rotation["HostedRotationLambda"]["RotationType"] == "PostgreSQLSingleUser"
    assert rotation["RotationRules"]["AutomaticallyAfterDays"] <= 30


def test_recovery_replica_is_promotable_by_a_stack_update():
    template = load_template(open("out/prod/dr-recovery.yaml").read())
    replica = template["Resources"]["PostgresReplicaInstance"]
    source = replica["Properties"]["SourceDBInstanceIdentifier"]["Fn::If"]
    assert source[0] == "IsReadReplica" and source[2] == {"Ref": "AWS::NoValue"}
    assert replica["DeletionPolicy"] == "Snapshot"  # applies once standalone (finding 6)
    assert template["Resources"]["ReplicaLagAlarm"]["Condition"] == "IsReadReplica"  # finding 9
    assert template["Parameters"]["DatabaseRole"]["Default"] == "replica"


def test_public_resources_depend_on_the_gateway_attachment():
    template = load_template(open("out/prod/dr-primary.yaml").read())
    resources = template["Resources"]
    for logical_id in ("NatEipA", "NatGatewayA"):
        assert resources[logical_id]["DependsOn"] == "InternetGatewayAttachment"  # finding 3
    assert "InternetGatewayAttachment" in resources["LoadBalancer"]["DependsOn"]


def test_plain_http_listener_does_not_meet_encryption_in_transit():
    import json

    report = json.load(open("out/dev/compliance/dr-primary.json"))  # prod requires HTTPS (issue 11)
    transit = next(c for c in report["controls"] if c["id"] == "encryption-in-transit")
    listener = next(r for r in transit["resources"] if r["resource"] == "HttpListener")
    assert listener["meets"] is False and "plain HTTP" in listener["evidence"]  # finding 10
    assert transit["status"] == "gaps"


def test_service_and_slow_log_groups_are_kept_on_delete_and_replace():
    for name, group in (("dr-primary", "ServiceLogGroup"), ("ha-database", "CacheSlowLogGroup")):
        resource = load_template(open(f"out/prod/{name}.yaml").read())["Resources"][group]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


REPLICA_ONLY = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Source: {Type: String}
Resources:
  Replica:
    Type: AWS::RDS::DBInstance
    DeletionPolicy: Retain
    Properties: {SourceDBInstanceIdentifier: !Ref Source, DeletionProtection: true}
  Stream:
    Type: AWS::Kinesis::Stream
    DeletionPolicy: Retain
    Properties: {Name: fixed-name}
"""


def test_bad_fixture_shows_every_manual_cleanup_outcome():
    from streamflix.checks.rules import StackView

    stack = StackView("recovery", "us-east-1", "recovery.yaml", load_template(REPLICA_ONLY))
    verdicts = simulate([stack])
    # protection on at create: the rollback cannot delete it
    assert verdict(verdicts, "recovery", "Replica", "create-rollback").outcome == "blocks"
    # Retain with a fixed name: kept by the rollback, the retry collides; kept by a delete, the next create collides
    assert verdict(verdicts, "recovery", "Stream", "create-rollback").outcome == "blocks"
    assert verdict(verdicts, "recovery", "Stream", "second-create").outcome == "blocks"
    # a replica no stack update can promote: the failover leaves the stack able to delete the database
    failover = verdict(verdicts, "recovery", "Replica", "failover")
    assert failover.outcome == "blocks" and "ignores its DeletionPolicy" in failover.why
    assert {(v.resource, v.phase) for v in unaccepted(verdicts)} == {
        ("Replica", "create-rollback"), ("Stream", "create-rollback"), ("Stream", "second-create"), ("Replica", "failover"),
    }


def test_runbook_failback_switches_protection_off_before_deleting_the_recovery_stack():
    runbook = open("out/prod/runbooks/dr-recovery.md").read()
    failback = runbook[runbook.index("ailback"):]
    off = failback.index("ParameterKey=DeletionProtection,ParameterValue=false")
    assert off < failback.index("aws cloudformation delete-stack")
