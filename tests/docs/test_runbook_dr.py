"""The DR pair's documents, read from the real renders: every command runs and names what the templates hold."""

from __future__ import annotations

import copy
import re

import pytest
from runbook_commands import cli_problems, invocations, section, table_with, template_problems

from streamflix import parse_config, render_environment
from streamflix.docs.failover import phase_budget
from streamflix.docs.stack import EnvironmentFacts
from streamflix.pipeline import render_artifacts
from streamflix.render import RenderedStack, load_template, render

DR_TITLE = "Disaster recovery: cross-region failover"
ENVS = ["dev", "staging", "prod"]

#: A 20-minute RTO (the presets use 15), so its path from the config through the
#: primary's output to the runbook's phases is visible.
TWENTY_MINUTES_YAML = """\
name: drtwenty
tier: staging
environment_suffix: drt
dr:
  rto_minutes: 20
"""


def documents(config, stacks):
    files = render_artifacts(config, stacks)
    return files, EnvironmentFacts.build(config, stacks)


@pytest.fixture(scope="module")
def twenty():
    config = parse_config(TWENTY_MINUTES_YAML, source="twenty.yaml")
    stacks = render_environment(config)
    files, facts = documents(config, stacks)
    return config, stacks, files, facts


@pytest.fixture(scope="module")
def variant(dr_variant_config, dr_variant_stacks):
    """The HTTPS + Route 53 failover variant of tests/conftest.py (the presets have no hosted zone)."""
    config = dr_variant_config
    stacks = list(dr_variant_stacks.values())
    files, facts = documents(config, stacks)
    return config, stacks, files, facts


def dr_section(files, blueprint="dr-recovery"):
    return section(files[f"runbooks/{blueprint}.md"], DR_TITLE)


@pytest.mark.parametrize("blueprint", ["dr-primary", "dr-recovery"])
@pytest.mark.parametrize("env", ENVS)
def test_every_command_runs_and_names_what_the_templates_hold(env, blueprint, artifacts, env_facts):
    markdown = artifacts[env][f"runbooks/{blueprint}.md"]
    assert len(invocations(markdown)) > 40
    assert cli_problems(markdown) == []
    assert template_problems(markdown, env_facts[env]) == []
    assert DR_TITLE in markdown


@pytest.mark.parametrize("blueprint", ["dr-primary", "dr-recovery"])
@pytest.mark.parametrize("which", ["variant", "twenty"])
def test_the_variants_runbooks_pass_the_same_checks(which, blueprint, request):
    _, _, files, facts = request.getfixturevalue(which)
    markdown = files[f"runbooks/{blueprint}.md"]
    assert cli_problems(markdown) == []
    assert template_problems(markdown, facts) == []


def test_rto_budget_is_split_over_the_phases():
    assert phase_budget(15)[:4] == [(0, 2), (2, 7), (7, 12), (12, 15)]
    assert phase_budget(20)[:4] == [(0, 3), (3, 9), (9, 16), (16, 20)]
    assert phase_budget(60)[3] == (48, 60)


def test_phases_carry_the_rto_from_the_config_through_the_primary_output(twenty):
    config, stacks, files, _ = twenty
    primary = load_template(next(s for s in stacks if s.blueprint == "dr-primary").text)
    assert primary["Outputs"]["RecoveryTimeObjectiveMinutes"]["Value"] == str(config.dr.rto_minutes) == "20"
    text = dr_section(files)
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
        "0-3", "3-9", "9-16", "16-20", "by 20",
    ]


@pytest.mark.parametrize("env", ENVS)
def test_the_replica_is_promoted_by_the_failover_update_with_the_primarys_backup_settings(env, artifacts, configs, dr):
    """Issue 10: the stack promotes in place (DatabaseRole=standalone drops SourceDBInstanceIdentifier),
    so the template, not a hand promote-read-replica, carries the backup settings from then on."""
    database = configs[env].dr.database
    recovery = dr[env]["dr-recovery"]
    replica = recovery["Resources"]["PostgresReplicaInstance"]["Properties"]
    replica_name = replica["DBInstanceIdentifier"]["Fn::Sub"].replace("${EnvironmentSuffix}", configs[env].environment_suffix)
    calls = invocations(dr_section(artifacts[env]))
    assert not [c for c in calls if c.operation == "promote-read-replica"]
    promote = next(c for c in calls if c.operation == "update-stack"
                   and "ParameterKey=DatabaseRole,ParameterValue=standalone" in c.options["--parameters"])
    assert promote.value("--region") == configs[env].dr.recovery_region == "us-east-1"
    assert promote.value("--stack-name") == f"streamflix-{configs[env].environment_suffix}-dr-recovery"
    assert recovery["Conditions"]["IsReadReplica"] == {"Fn::Equals": [{"Ref": "DatabaseRole"}, "replica"]}
    assert replica["SourceDBInstanceIdentifier"]["Fn::If"][0] == "IsReadReplica"
    assert replica["BackupRetentionPeriod"] == {"Fn::If": ["IsReadReplica", {"Ref": "AWS::NoValue"}, database.backup_retention_days]}
    assert replica["PreferredBackupWindow"] == {"Fn::If": ["IsReadReplica", {"Ref": "AWS::NoValue"}, database.preferred_backup_window]}
    lag = next(c for c in calls if c.operation == "get-metric-statistics")
    assert lag.value("--dimensions") == f"Name=DBInstanceIdentifier,Value={replica_name}"


def test_efs_replication_is_deleted_from_the_recovery_side(artifacts):
    text = dr_section(artifacts["dev"])
    deletes = [c for c in invocations(text) if c.operation == "delete-replication-configuration"]
    assert {c.value("--region") for c in deletes} == {"us-east-1"}
    assert deletes[1].value("--deletion-mode") == "LOCAL_CONFIGURATION_ONLY"
    # everything is read in the recovery region, which is up when the primary's is not: the replica is this
    # stack's own ReplicaFileSystem (the output dr-primary's RecoveryFileSystemId is wired from), and the
    # source is what the replica's replication names
    efs = text.split("Make the EFS replica", 1)[1].split("###", 1)[0]
    calls = invocations(efs)
    assert {c.value("--region") for c in calls} == {"us-east-1"}
    assert calls[0].value("--stack-name") == "streamflix-dev-dr-recovery"
    assert calls[0].value("--query") == "Stacks[0].Outputs[?OutputKey=='ReplicaFileSystemId'].OutputValue"
    assert calls[1].operation == "describe-replication-configurations"
    assert calls[1].value("--file-system-id") == "$REPLICA_FILE_SYSTEM"
    assert calls[-1].operation == "describe-file-systems"


@pytest.mark.parametrize("env", ENVS)
def test_the_service_scales_and_the_stack_records_it(env, artifacts, configs, dr):
    serving = str(configs[env].dr.compute.desired_count)
    calls = invocations(dr_section(artifacts[env]))
    scale = next(c for c in calls if c.operation == "update-service")
    assert scale.value("--cluster") == f"streamflix-{configs[env].environment_suffix}"
    assert scale.value("--desired-count") == serving
    # read from the recovery template (the blueprint writes the config's count there), not the registry
    assert "dr-recovery.yaml's FailoverTaskCount output" in dr_section(artifacts[env])
    update = next(c for c in calls if c.operation == "update-stack"
                  and f"ParameterKey=ServiceTaskCount,ParameterValue={serving}" in c.options["--parameters"])
    parameters = update.options["--parameters"]
    # every parameter of the real recovery template, the others kept as they are
    assert [p.split(",")[0] for p in parameters] == [f"ParameterKey={name}" for name in dr[env]["dr-recovery"]["Parameters"]]
    assert all(p.endswith("UsePreviousValue=true") for p in parameters if "ServiceTaskCount" not in p)


def test_dns_is_switched_through_the_failover_records(variant):
    _, _, files, _ = variant
    text = dr_section(files)
    records = {row["Record"]: row for row in table_with(text, "Failover")}
    assert {row["Failover"] for row in records.values()} == {"PRIMARY", "SECONDARY"}
    assert {row["Hosted zone"] for row in records.values()} == {"Z0123456789ABCDEFGHIJ"}
    calls = invocations(text)
    assert any(c.operation == "update-health-check" and "--inverted" in c.options for c in calls)
    assert any(c.operation == "list-resource-record-sets" and "app.streamflix.example." in c.value("--query") for c in calls)


def test_failover_records_given_as_parameters_name_their_parameters(artifacts, dr):
    """prod takes the record name and the hosted zone at deploy time: the records table names those
    parameters (it used to print `None`), and the commands read their deployed values."""
    recovery = dr["prod"]["dr-recovery"]
    text = dr_section(artifacts["prod"])
    records = {row["Record"]: row for row in table_with(text, "Failover")}
    assert {row["Failover"] for row in records.values()} == {"PRIMARY", "SECONDARY"}
    for rid, row in records.items():
        properties = recovery["Resources"][rid]["Properties"]
        assert properties["Name"] == {"Ref": "FailoverRecordName"} and properties["HostedZoneId"] == {"Ref": "HostedZoneId"}
        assert {"FailoverRecordName", "HostedZoneId"} <= set(recovery["Parameters"])
        assert (row["Name"], row["Hosted zone"]) == ("!Ref FailoverRecordName", "!Ref HostedZoneId")
    listing = next(c for c in invocations(text) if c.operation == "list-resource-record-sets")
    assert listing.value("--hosted-zone-id") == "$HOSTED_ZONE_ID"
    assert "Parameters[?ParameterKey=='HostedZoneId'].ParameterValue" in text


def test_without_failover_records_the_runbook_says_to_switch_by_hand(artifacts):
    text = dr_section(artifacts["dev"])  # prod requires Route 53 failover (issue 11)
    assert "No Route 53 failover records in these templates" in text
    assert not [c for c in invocations(text) if c.service == "route53"]


def test_deploy_order_and_parameter_filling(artifacts):
    deploy = section(artifacts["dev"]["runbooks/dr-recovery.md"], "Deploy")
    assert "1. create `streamflix-dev-dr-primary` in eu-west-2" in deploy
    assert "2. create `streamflix-dev-dr-recovery` in us-east-1" in deploy
    assert "update `streamflix-dev-dr-primary` with `RecoveryBackupKmsKeyArn` from `streamflix-dev-dr-recovery`" in deploy
    wiring = table_with(deploy, "Detected from")
    assert {row["Parameter"]: row["Detected from"] for row in wiring} == {
        "PrimaryDatabaseInstanceArn": "template metadata (Metadata.StreamFlix.Wiring)",
    }
    calls = invocations(deploy)
    create = next(c for c in calls if c.operation == "create-change-set")
    assert create.value("--parameters") == "file://${FILLED}"
    assert "<from dr-primary output DatabaseInstanceArn>" in deploy


def test_drill_checklist_and_failback(artifacts, configs):
    text = dr_section(artifacts["prod"])
    checklist = re.findall(r"^- \[ \] (.+)$", text, re.M)
    assert len(checklist) >= 8
    assert any(f"within {configs['prod'].dr.rto_minutes} minutes" in item for item in checklist)
    failback = text.split("### Failback", 1)[1]
    operations = [c.operation for c in invocations(failback)]
    assert operations[:2] == ["describe-stacks", "create-db-snapshot"]
    assert "delete-stack" in operations


def test_a_global_aurora_member_gets_a_global_failover(configs, rendered):
    """The real recovery template plus an Aurora global-cluster member: the runbook fails the global cluster over."""
    stacks = list(rendered["dev"].values())
    recovery = next(s for s in stacks if s.blueprint == "dr-recovery")
    template = copy.deepcopy(load_template(recovery.text))
    replica = template["Resources"]["PostgresReplicaInstance"]
    template["Resources"]["GlobalMember"] = {
        "Type": "AWS::RDS::DBCluster",
        "DeletionPolicy": "Snapshot",
        "UpdateReplacePolicy": "Snapshot",
        "Properties": {
            "DBClusterIdentifier": {"Fn::Sub": "streamflix-${EnvironmentSuffix}-global-member"},
            "Engine": "aurora-postgresql",
            "EngineVersion": "16.6",
            "GlobalClusterIdentifier": "streamflix-global",
            "StorageEncrypted": True,
            "KmsKeyId": replica["Properties"]["KmsKeyId"],
        },
    }
    text = render(template)
    changed = RenderedStack(recovery.blueprint, recovery.region, recovery.filename, text, len(template["Resources"]))
    files, _ = documents(configs["dev"], [s if s is not recovery else changed for s in stacks])
    failover = next(c for c in invocations(dr_section(files)) if c.operation == "failover-global-cluster")
    assert failover.value("--global-cluster-identifier") == "streamflix-global"
    assert failover.value("--target-db-cluster-identifier").endswith(":cluster:streamflix-dev-global-member")
    assert "--allow-data-loss" in failover.options
    assert cli_problems(files["runbooks/dr-recovery.md"]) == []


def test_a_stack_without_dr_resources_has_no_failover_procedure(artifacts):
    ha = artifacts["dev"]["runbooks/ha-database.md"]
    assert DR_TITLE not in ha
    assert "delete-replication-configuration" not in ha and "promote-read-replica" not in ha


def test_a_multi_az_instance_gets_a_forced_failover_drill(artifacts, configs):
    assert configs["prod"].dr.database.multi_az
    drills = section(artifacts["prod"]["runbooks/dr-primary.md"], "In-region failover and drills")
    reboot = next(c for c in invocations(drills) if c.operation == "reboot-db-instance")
    assert reboot.value("--db-instance-identifier") == "streamflix-prod-pg-primary" and "--force-failover" in reboot.options
    # A read replica is never rebooted into a failover drill (it is promoted instead).
    assert "reboot-db-instance" not in section(artifacts["prod"]["runbooks/dr-recovery.md"], "In-region failover and drills")
