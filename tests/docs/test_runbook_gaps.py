"""Runbook gaps a line-by-line trace of the post-mortems found (issue 11), on the real DR renders.

Every test reads the runbooks the build writes for the shipped presets (the ``artifacts``
fixture) and the rendered templates they describe.
"""

from __future__ import annotations

import math
import re

import pytest
from runbook_commands import cli_problems, invocations, section, template_problems

from streamflix.docs.maintenance import INVESTIGATE_FACTOR, INVESTIGATE_FLOOR_MINUTES
from streamflix.docs.provisioning import load_times
from streamflix.render import load_template

ENVS = ("dev", "staging", "prod")
DR = ("dr-primary", "dr-recovery")


def runbook(artifacts, env: str, blueprint: str) -> str:
    return artifacts[env][f"runbooks/{blueprint}.md"]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("blueprint", DR)
def test_real_dr_runbooks_name_real_commands_and_resources(artifacts, env_facts, env, blueprint):
    markdown = runbook(artifacts, env, blueprint)
    assert cli_problems(markdown) == []
    assert template_problems(markdown, env_facts[env]) == []


@pytest.mark.parametrize("env", ENVS)
def test_primary_prerequisites_agree_with_the_deploy_order(artifacts, env):
    markdown = runbook(artifacts, env, "dr-primary")
    prerequisites = section(markdown, "Prerequisites")
    recovery = f"streamflix-{'stg' if env == 'staging' else env}-dr-recovery"
    # dr-primary deploys first: dr-recovery is not a prerequisite, only a later optional update
    assert f"`{recovery}` (us-east-1) deployed" not in prerequisites
    assert f"Not before the first deploy: `{recovery}`" in prerequisites
    assert not [c for c in invocations(prerequisites) if c.value("--stack-name") == recovery]
    order = section(markdown, "Deploy")
    assert order.index("1. create `streamflix-") < order.index(f"create `{recovery}`")
    # the recovery stack does need the primary first
    assert "dr-primary` (eu-west-2) deployed" in section(runbook(artifacts, env, "dr-recovery"), "Prerequisites")


@pytest.mark.parametrize("blueprint", ["ha-database", "dr-primary"])
def test_secret_rotation_can_be_verified_and_forced(artifacts, blueprint):
    markdown = runbook(artifacts, "prod", blueprint)
    text = section(markdown, "Verify or force a secret rotation")
    calls = {(c.service, c.operation): c for c in invocations(text)}
    assert "LastRotatedDate" in calls[("secretsmanager", "describe-secret")].value("--query")
    assert calls[("secretsmanager", "rotate-secret")].value("--secret-id") == "$SECRET_ARN"
    assert "OutputKey=='DatabaseMasterSecretArn'" in text
    assert "DatabaseMasterSecretArn" in load_template(artifacts["prod"][f"{blueprint}.yaml"])["Outputs"]


def test_the_replica_stack_has_no_secret_of_its_own(artifacts):
    assert "Verify or force a secret rotation" not in runbook(artifacts, "prod", "dr-recovery")


@pytest.mark.parametrize("env", ENVS)
def test_manual_snapshot_before_dr_updates(artifacts, env):
    primary = section(runbook(artifacts, env, "dr-primary"), "Before every update: a manual snapshot")
    template = load_template(artifacts[env]["dr-primary.yaml"])
    identifier = template["Resources"]["PostgresPrimaryInstance"]["Properties"]["DBInstanceIdentifier"]["Fn::Sub"]
    suffix = "stg" if env == "staging" else env
    name = identifier.replace("${EnvironmentSuffix}", suffix)
    create = next(c for c in invocations(primary) if c.operation == "create-db-snapshot")
    assert create.value("--db-instance-identifier") == name
    assert create.value("--db-snapshot-identifier").startswith(f"{name}-pre-update-")
    assert any(c.waiter == "db-snapshot-available" for c in invocations(primary))
    recovery = section(runbook(artifacts, env, "dr-recovery"), "Before every update: a manual snapshot")
    assert "read replica" in recovery and "[`dr-primary`](dr-primary.md)" in recovery
    assert not invocations(recovery)  # never snapshot the replica in place of the primary


@pytest.mark.parametrize("blueprint", ["ha-database", *DR])
def test_investigate_after_thresholds_per_resource_type(artifacts, blueprint):
    text = section(runbook(artifacts, "prod", blueprint), "When a resource takes too long")
    rows = dict(re.findall(r"^\| `([A-Za-z0-9:]+)`[^|]*\| [\d.-]+ \| (\d+) \|$", text, re.M))
    table = load_times()
    times, unlisted = table["types"], table["unlisted_minutes"]
    template = load_template(artifacts["prod"][f"{blueprint}.yaml"])
    types_here = {r["Type"] for r in template["Resources"].values()}
    assert set(rows) <= types_here
    for resource_type, minutes in rows.items():
        worst = max(high for _, high in times.get(resource_type, {"default": unlisted}).values())
        assert int(minutes) <= max(INVESTIGATE_FLOOR_MINUTES, math.ceil(worst * INVESTIGATE_FACTOR))
    assert "AWS::ECS::Service" in rows and "AWS::EC2::NatGateway" in rows
    database = "AWS::RDS::DBCluster" if blueprint == "ha-database" else "AWS::RDS::DBInstance"
    assert database in rows


@pytest.mark.parametrize("blueprint", DR)
def test_stalled_failover_and_communication_plan(artifacts, blueprint):
    markdown = runbook(artifacts, "prod", blueprint)
    stalled = section(markdown, "When a failover stalls")
    for case in ("Promotion does not finish", "file replication cannot be deleted", "Tasks do not start",
                 "DNS does not move", "primary region comes back"):
        assert case in stalled
    events = next(c for c in invocations(stalled) if c.operation == "describe-events")
    assert events.value("--region") == "us-east-1" and events.value("--source-identifier") == "streamflix-prod-pg-replica"
    comms = section(markdown, "Communication during a DR event")
    assert "incident lead" in comms and "comms lead" in comms and "scribe" in comms
    assert "within 15 minutes" in comms and "us-east-1" in comms and "eu-west-2" in comms


def test_ha_runbook_has_no_dr_event_sections(artifacts):
    markdown = runbook(artifacts, "prod", "ha-database")
    assert "When a failover stalls" not in markdown and "Communication during a DR event" not in markdown


@pytest.mark.parametrize("blueprint", ["ha-database", *DR])
def test_maintenance_procedure(artifacts, blueprint):
    text = section(runbook(artifacts, "prod", blueprint), "Maintenance: upgrades, pending actions, CA rotation")
    operations = {(c.service, c.operation) for c in invocations(text)}
    assert ("rds", "describe-pending-maintenance-actions") in operations
    assert ("elasticache", "describe-update-actions") in operations
    for topic in ("Minor engine versions", "Major engine versions", "Pending maintenance", "CA rotation"):
        assert topic in text
    template = load_template(artifacts["prod"][f"{blueprint}.yaml"])
    cas = {r["Properties"]["CACertificateIdentifier"] for r in template["Resources"].values()
           if r["Type"] == "AWS::RDS::DBInstance" and "CACertificateIdentifier" in r["Properties"]}
    assert cas and all(f"`{ca}`" in text for ca in cas)
    if blueprint != "dr-recovery":
        assert ("rds", "apply-pending-maintenance-action") in operations


def test_the_drill_runs_the_dr_integration_tests_in_the_recovery_region(artifacts):
    markdown = runbook(artifacts, "prod", "dr-recovery")
    assert ("STREAMFLIX_ENV=prod STREAMFLIX_DR_PROMOTED=1 python -m pytest tests/integration/test_dr_pair_deployed.py "
            "-m integration") in markdown
    assert "--stack dr-recovery --file cfn-outputs/dr-recovery.json" in markdown


@pytest.mark.parametrize("env", ENVS)
def test_real_failover_phases_act_on_the_rendered_pair(artifacts, env):
    """The cross-region procedure of the real recovery runbook names the real replica, file system and scale."""
    markdown = runbook(artifacts, env, "dr-recovery")
    template = load_template(artifacts[env]["dr-recovery.yaml"])
    suffix = "stg" if env == "staging" else env
    replica = template["Resources"]["PostgresReplicaInstance"]["Properties"]["DBInstanceIdentifier"]["Fn::Sub"]
    calls = invocations(markdown)
    # promotion is the stack's failover update (issue 10), never a hand promote-read-replica
    assert not [c for c in calls if c.operation == "promote-read-replica"]
    promote = next(c for c in calls if c.operation == "update-stack"
                   and "ParameterKey=DatabaseRole,ParameterValue=standalone" in c.options.get("--parameters", []))
    assert promote.value("--region") == "us-east-1"
    assert promote.value("--stack-name") == f"streamflix-{suffix}-dr-recovery"
    status = next(c for c in calls if c.operation == "describe-db-instances")
    assert status.value("--db-instance-identifier") == replica.replace("${EnvironmentSuffix}", suffix)
    assert any(c.operation == "delete-replication-configuration" for c in calls)
    serving = f"ParameterKey=ServiceTaskCount,ParameterValue={template['Outputs']['FailoverTaskCount']['Value']}"
    scale = next(c for c in calls if c.operation == "update-stack" and serving in c.options.get("--parameters", []))
    parameters = scale.options["--parameters"]
    # every other parameter of the real template keeps its value
    for name in template["Parameters"]:
        if name != "ServiceTaskCount":
            assert f"ParameterKey={name},UsePreviousValue=true" in parameters


def test_the_communication_chapter_is_the_prose_template_filled_with_the_pair_s_facts(artifacts):
    """The chapter's text is streamflix/docs/chapters/communication.md.j2 (package data), filled with
    the pair's regions and RTO; a fact left out is an error, never an empty string."""
    from importlib import resources

    import jinja2

    from streamflix.docs import prose

    shipped = resources.files("streamflix.docs").joinpath("chapters/communication.md.j2").read_text(encoding="utf-8")
    assert "{{ recovery_region }}" in shipped and "Name three people" in shipped
    comms = section(runbook(artifacts, "prod", "dr-recovery"), "Communication during a DR event")
    assert prose.render_chapter("communication", primary_region="eu-west-2", recovery_region="us-east-1", rto=15) in comms
    with pytest.raises(jinja2.UndefinedError, match="rto"):
        prose.render_chapter("communication", primary_region="eu-west-2", recovery_region="us-east-1")

