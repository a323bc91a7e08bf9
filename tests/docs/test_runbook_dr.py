"""The cross-region sections, generated for small hand-built DR templates (the DR blueprints are not here yet)."""

from __future__ import annotations

import re

import pytest
from dr_templates import PRIMARY, RECOVERY, dr_pair, rendered
from runbook_commands import cli_problems, invocations, section, table_with, template_problems

from streamflix.checks.lint import run_cfn_lint
from streamflix.docs import produce_costs, produce_diagrams, produce_parameter_files, produce_runbooks
from streamflix.docs.failover import phase_budget
from streamflix.docs.stack import EnvironmentFacts

DR_TITLE = "Disaster recovery: cross-region failover"


def build(config, stacks):
    files = {s.filename: s.text for s in stacks}
    for produce in (produce_parameter_files, produce_costs, produce_diagrams, produce_runbooks):
        files.update(produce(config, stacks, dict(files)))
    return files, EnvironmentFacts.build(config, stacks, files)


@pytest.fixture(scope="module")
def pair(configs):
    return build(configs["dev"], dr_pair())


def test_the_hand_built_templates_are_valid_cloudformation():
    assert run_cfn_lint(PRIMARY, region="eu-west-2", filename="primary.yaml") == []
    assert run_cfn_lint(RECOVERY, region="us-east-1", filename="recovery.yaml") == []


@pytest.mark.parametrize("blueprint", ["dr-primary", "dr-recovery"])
def test_every_command_runs_and_names_what_the_templates_hold(blueprint, pair):
    files, env = pair
    markdown = files[f"runbooks/{blueprint}.md"]
    assert cli_problems(markdown) == []
    assert template_problems(markdown, env) == []
    assert DR_TITLE in markdown


def dr_section(pair, blueprint="dr-recovery"):
    files, _ = pair
    return section(files[f"runbooks/{blueprint}.md"], DR_TITLE)


def test_rto_budget_is_split_over_the_phases():
    assert phase_budget(15)[:4] == [(0, 2), (2, 7), (7, 12), (12, 15)]
    assert phase_budget(20)[:4] == [(0, 3), (3, 9), (9, 16), (16, 20)]
    assert phase_budget(60)[3] == (48, 60)


def test_phases_carry_the_rto_from_the_primary_output(pair):
    text = dr_section(pair)
    assert "**Recovery time objective: 20 minutes** (dr-primary.yaml output RecoveryTimeObjectiveMinutes)" in text
    headings = re.findall(r"^### (Phase .+)$", text, re.M)
    assert headings == [
        "Phase 1: Detect and decide (minutes 0-3)",
        "Phase 2: Promote the data (minutes 3-9)",
        "Phase 3: Scale the recovery service (minutes 9-16)",
        "Phase 4: Switch DNS (minutes 16-20)",
        "Phase 5: Validate (by minute 20)",
    ]
    budget = table_with(text, "Phase")
    assert [row["Budget (minutes from the decision clock start)"] for row in budget] == [
        "0-3",
        "3-9",
        "9-16",
        "16-20",
        "by 20",
    ]


def test_the_replica_is_promoted_in_the_recovery_region_with_the_primarys_backup_settings(pair):
    calls = invocations(dr_section(pair))
    promote = next(c for c in calls if c.operation == "promote-read-replica")
    assert promote.value("--region") == "us-east-1"
    assert promote.value("--db-instance-identifier") == "streamflix-dev-pg-replica"
    assert promote.value("--backup-retention-period") == "7"
    assert promote.value("--preferred-backup-window") == "03:00-05:00"
    lag = next(c for c in calls if c.operation == "get-metric-statistics")
    assert lag.value("--dimensions") == "Name=DBInstanceIdentifier,Value=streamflix-dev-pg-replica"


def test_efs_replication_is_deleted_from_the_recovery_side(pair):
    text = dr_section(pair)
    calls = invocations(text)
    deletes = [c for c in calls if c.operation == "delete-replication-configuration"]
    assert {c.value("--region") for c in deletes} == {"us-east-1"}
    assert deletes[1].value("--deletion-mode") == "LOCAL_CONFIGURATION_ONLY"
    assert "Parameters[?ParameterKey=='ReplicaFileSystemId']" in text


def test_the_service_scales_and_the_stack_records_it(pair, configs):
    # the serving size is the DR config's own compute.desired_count
    serving = str(configs["dev"].dr.compute.desired_count)
    calls = invocations(dr_section(pair))
    scale = next(c for c in calls if c.operation == "update-service")
    assert scale.value("--cluster") == "streamflix-dev" and scale.value("--desired-count") == serving
    update = next(c for c in calls if c.operation == "update-stack")
    parameters = update.options["--parameters"]
    assert f"ParameterKey=ServiceTaskCount,ParameterValue={serving}" in parameters
    assert {p.split(",")[0] for p in parameters} == {
        f"ParameterKey={name}"
        for name in (
            "EnvironmentSuffix",
            "PrimaryDatabaseInstanceArn",
            "ReplicaFileSystemId",
            "ServiceTaskCount",
            "HostedZoneId",
            "DomainName",
        )
    }
    assert all(p.endswith("UsePreviousValue=true") for p in parameters if "ServiceTaskCount" not in p)


def test_dns_is_switched_through_the_failover_records(pair):
    text = dr_section(pair)
    records = {row["Record"]: row for row in table_with(text, "Failover")}
    assert records["PrimaryRecord"]["Failover"] == "PRIMARY" and records["SecondaryRecord"]["Failover"] == "SECONDARY"
    assert records["PrimaryRecord"]["Hosted zone"] == "Z0123456789EXAMPLE"
    calls = invocations(text)
    assert any(c.operation == "update-health-check" and "--inverted" in c.options for c in calls)
    assert any(c.operation == "list-resource-record-sets" and "app.example.com." in c.value("--query") for c in calls)


def test_deploy_order_and_parameter_filling(pair):
    files, _ = pair
    deploy = section(files["runbooks/dr-recovery.md"], "Deploy")
    assert "1. create `streamflix-dev-dr-primary` in eu-west-2" in deploy
    assert "2. create `streamflix-dev-dr-recovery` in us-east-1" in deploy
    wiring = table_with(deploy, "Detected from")
    assert {row["Parameter"]: row["Detected from"] for row in wiring} == {
        "PrimaryDatabaseInstanceArn": "naming convention",
        "ReplicaFileSystemId": "naming convention",
    }
    calls = invocations(deploy)
    assert any(
        c.operation == "describe-replication-configurations" and c.value("--region") == "eu-west-2" for c in calls
    )
    create = next(c for c in calls if c.operation == "create-change-set")
    assert create.value("--parameters") == "file://${FILLED}"
    assert "<from dr-primary output DatabaseInstanceArn>" in deploy


def test_drill_checklist_and_failback(pair):
    text = dr_section(pair)
    checklist = re.findall(r"^- \[ \] (.+)$", text, re.M)
    assert len(checklist) >= 8 and any("within 20 minutes" in item for item in checklist)
    failback = text.split("### Failback", 1)[1]
    operations = [c.operation for c in invocations(failback)]
    assert operations[:2] == ["describe-stacks", "create-db-snapshot"]
    assert "delete-stack" in operations and "update-health-check" in operations


def test_global_aurora_cluster_gets_a_global_failover(configs):
    recovery = RECOVERY.replace(
        "  Vpc:\n",
        """  GlobalMember:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      DBClusterIdentifier: !Sub 'streamflix-${EnvironmentSuffix}-global-member'
      Engine: aurora-postgresql
      EngineVersion: '16.15'
      GlobalClusterIdentifier: streamflix-global
      StorageEncrypted: true
      KmsKeyId: !Ref DataKey
  Vpc:
""",
        1,
    )
    files, env = build(configs["dev"], dr_pair(recovery))
    text = section(files["runbooks/dr-recovery.md"], DR_TITLE)
    failover = next(c for c in invocations(text) if c.operation == "failover-global-cluster")
    assert failover.value("--global-cluster-identifier") == "streamflix-global"
    assert failover.value("--target-db-cluster-identifier").endswith(":cluster:streamflix-dev-global-member")
    assert "--allow-data-loss" in failover.options
    assert cli_problems(files["runbooks/dr-recovery.md"]) == []


def test_a_stack_without_dr_resources_has_no_failover_procedure(configs):
    lonely = rendered(
        "lonely",
        "eu-west-2",
        PRIMARY.replace("      ReplicationConfiguration:\n        Destinations:\n          - Region: us-east-1\n", ""),
    )
    files, _ = build(configs["dev"], [lonely])
    assert DR_TITLE not in files["runbooks/lonely.md"]
    assert "delete-replication-configuration" not in files["runbooks/lonely.md"]


def test_a_multi_az_instance_gets_a_forced_failover_drill(pair):
    files, _ = pair
    drills = section(files["runbooks/dr-primary.md"], "In-region failover and drills")
    reboot = next(c for c in invocations(drills) if c.operation == "reboot-db-instance")
    assert reboot.value("--db-instance-identifier") == "streamflix-dev-pg-primary" and "--force-failover" in reboot.options
    # The replica is not Multi-AZ and is never rebooted into a failover.
    assert "reboot-db-instance" not in section(files["runbooks/dr-recovery.md"], "In-region failover and drills")
