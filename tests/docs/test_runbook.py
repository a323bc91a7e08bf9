"""The HA runbooks, read back: every command runs as written and names what the template holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from runbook_commands import (
    cli_problems,
    code_lines,
    invocations,
    section,
    table_with,
    tables,
    template_problems,
)

from streamflix import pipeline
from streamflix.cfn import text_of
from streamflix.docs.context import RunbookContext
from streamflix.docs.operations import dashboard_url
from streamflix.docs.runbook import render_runbook
from streamflix.docs.stack import EnvironmentFacts
from streamflix.render import load_template

ENVS = ["dev", "staging", "prod"]


def runbook(artifacts, env: str, blueprint: str = "ha-database") -> str:
    return artifacts[env][f"runbooks/{blueprint}.md"]


@pytest.mark.parametrize("env", ENVS)
def test_every_aws_command_is_a_real_cli_call(env, artifacts):
    markdown = runbook(artifacts, env)
    assert len(invocations(markdown)) > 60
    assert cli_problems(markdown) == []


@pytest.mark.parametrize("env", ENVS)
def test_every_command_names_what_the_template_holds(env, artifacts, env_facts):
    assert template_problems(runbook(artifacts, env), env_facts[env]) == []


@pytest.mark.parametrize(
    ("wrong", "right", "finding"),
    [
        (
            "--db-cluster-identifier streamflix-prod-aurora ",
            "--db-cluster-identifier streamflix-prod-aurora2 ",
            "is no AWS::RDS::DBCluster",
        ),
        ("OutputKey=='EcsServiceName'", "OutputKey=='EcsService'", "output EcsService does not exist"),
        (
            "--logical-resource-id AuroraSubnetGroup",
            "--logical-resource-id AuroraSubnets",
            "AuroraSubnets is not a resource",
        ),
        ("--stack-name streamflix-prod-ha-database", "--stack-name streamflix-prod-ha-db", "no stack named"),
        (
            "--replication-group-id streamflix-prod-cache",
            "--replication-group-id streamflix-stg-cache",
            "is no AWS::ElastiCache",
        ),
        ('--service "$ECS_SERVICE"', '--service "$ECS_SERVCE"', "$ECS_SERVCE is used before any line defines it"),
    ],
)
def test_the_template_check_catches_a_wrong_name(wrong, right, finding, artifacts, env_facts):
    markdown = runbook(artifacts, "prod")
    assert wrong in markdown.replace("\\\n    ", " ")
    broken = markdown.replace("\\\n    ", " ").replace(wrong, right, 1)
    problems = template_problems(broken, env_facts["prod"])
    assert any(finding in p for p in problems), problems


def test_the_template_check_catches_the_wrong_region(artifacts, env_facts):
    command = "aws cloudformation execute-change-set \\\n    --region eu-central-1"
    assert command in runbook(artifacts, "prod")
    broken = runbook(artifacts, "prod").replace(command, command.replace("eu-central-1", "eu-west-1"), 1)
    assert any("lives in eu-central-1, not eu-west-1" in p for p in template_problems(broken, env_facts["prod"]))


@pytest.mark.parametrize(
    ("wrong", "right", "finding"),
    [
        ("--db-cluster-identifier", "--cluster-identifier", "--cluster-identifier is not a parameter"),
        ("aws rds failover-db-cluster", "aws rds fail-over-db-cluster", "no operation aws rds fail-over-db-cluster"),
        ("aws rds wait db-instance-available", "aws rds wait db-instance-ready", "no waiter 'db-instance-ready'"),
        ("--replication-group-description", "--description", "needs --replication-group-description"),
    ],
)
def test_the_cli_check_catches_an_invented_option(wrong, right, finding, artifacts):
    broken = runbook(artifacts, "prod").replace(wrong, right)
    assert any(finding in p for p in cli_problems(broken))


@pytest.mark.parametrize(
    ("flag", "written"),
    [("--db-instance-class", "None"), ("--engine", "{'Ref': 'DbEngine'}"), ("--engine-version", "{'Fn::If': ['C', 'a', 'b']}")],
)
def test_the_cli_check_catches_a_value_python_wrote_for_a_missing_or_unresolved_one(flag, written, artifacts):
    """A template value the runbook failed to resolve, written into a command by str()."""
    text = runbook(artifacts, "prod")
    broken, count = re.subn(rf"{flag} [^\s\\]+", f'{flag} "{written}"', text, count=1)
    assert count == 1 and cli_problems(text) == []
    assert any("is Python's text of a missing or unresolved value" in p for p in cli_problems(broken))


@pytest.mark.parametrize("env", ENVS)
def test_deploy_commands_upload_through_s3_with_capabilities_and_the_parameter_file(env, artifacts):
    markdown = runbook(artifacts, env)
    assert len(artifacts[env]["ha-database.yaml"].encode()) > 51_200
    creates = [c for c in invocations(markdown) if c.operation in ("create-change-set", "deploy")]
    assert {c.value("--change-set-type") for c in creates if c.operation == "create-change-set"} == {"CREATE", "UPDATE"}
    for call in creates:
        assert call.options["--capabilities"] == ["CAPABILITY_IAM"]
        assert "--template-body" not in call.options
        assert call.value("--template-url") == "$TEMPLATE_URL" or call.value("--s3-bucket") == "$TEMPLATE_BUCKET"
        file_argument = call.value("--parameters") or call.value("--parameter-overrides")
        path = file_argument.removeprefix("file://")
        assert path in artifacts[env], f"{path} is not written beside the template"
    assert not any("--template-body" in line for line in code_lines(markdown))
    assert any(line.startswith("aws s3 cp ha-database.yaml ") for line in code_lines(markdown))


@pytest.mark.parametrize("env", ENVS)
def test_links_point_at_files_the_build_writes(env, artifacts):
    markdown = runbook(artifacts, env)
    targets = set(re.findall(r"\]\(\.\./([^)#]+)\)", markdown))
    assert {
        "ha-database.yaml",
        "parameters/ha-database.json",
        "costs/ha-database.json",
        "diagrams/ha-database.mmd",
    } <= targets
    assert targets <= set(artifacts[env])


@pytest.mark.parametrize("env", ENVS)
def test_parameter_and_output_tables_are_the_templates(env, artifacts, ha, configs):
    markdown = runbook(artifacts, env)
    parameters = table_with(section(markdown, "Parameters"), "Parameter")
    assert [row["Parameter"] for row in parameters] == list(ha[env]["Parameters"])
    assert {row["Parameter"]: row["Value"] for row in parameters}["EnvironmentSuffix"] == configs[
        env
    ].environment_suffix
    outputs = table_with(section(markdown, "Outputs"), "Output")
    assert [row["Output"] for row in outputs] == list(ha[env]["Outputs"])
    suffix = configs[env].environment_suffix
    for row in outputs:
        assert row["Export name"] == f"streamflix-{suffix}-ha-database-{row['Output']}"
        # resolved where the template says the value, else written as the template has it (text_of)
        if row["Value"].startswith("!"):
            assert row["Value"] == text_of(ha[env]["Outputs"][row["Output"]]["Value"])
    values = {row["Output"]: row["Value"] for row in outputs}
    assert values["VpcId"] == "!Ref Vpc"
    assert values["DataKeyArn"] == "!GetAtt DataKey.Arn"
    assert values["AppSubnetIds"].startswith("!Join [',', [!Ref AppSubnetA, !Ref AppSubnetB")


@pytest.mark.parametrize("env", ENVS)
def test_alarm_figures_equal_the_templates(env, artifacts, ha):
    rows = table_with(section(runbook(artifacts, env), "Monitoring"), "Alarm")
    alarms = {rid: r["Properties"] for rid, r in ha[env]["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert [row["Alarm"] for row in rows] == list(alarms)
    for row in rows:
        props = alarms[row["Alarm"]]
        assert row["Metric"] == f"{props['Namespace']}/{props['MetricName']}"
        assert row["Statistic"] == props["Statistic"]
        assert row["Comparison"] == props["ComparisonOperator"]
        assert float(row["Threshold"]) == float(props["Threshold"])
        assert int(row["Period (s)"]) == props["Period"]
        assert int(row["Evaluation periods"]) == props["EvaluationPeriods"]
        assert int(row["Datapoints to alarm"]) == props["DatapointsToAlarm"]
        assert row["Missing data"] == props["TreatMissingData"]
        assert row["Actions"].startswith("AlarmTopic")


@pytest.mark.parametrize("env", ENVS)
def test_backup_figures_equal_the_templates(env, artifacts, ha):
    text = section(runbook(artifacts, env), "Backup and restore")
    rows = table_with(text, "Setting")
    shown = {(row["Resource"], row["Setting"]): row["Value"] for row in rows}
    resources = ha[env]["Resources"]
    cluster, cache = resources["AuroraCluster"], resources["CacheReplicationGroup"]
    assert shown[("AuroraCluster", "BackupRetentionPeriod")] == str(cluster["Properties"]["BackupRetentionPeriod"])
    assert shown[("AuroraCluster", "PreferredBackupWindow")] == cluster["Properties"]["PreferredBackupWindow"]
    assert shown[("AuroraCluster", "DeletionPolicy")] == cluster["DeletionPolicy"] == "Snapshot"
    assert shown[("CacheReplicationGroup", "SnapshotRetentionLimit")] == str(
        cache["Properties"]["SnapshotRetentionLimit"]
    )
    assert shown[("CacheReplicationGroup", "SnapshotWindow")] == cache["Properties"]["SnapshotWindow"]
    for rid, body in resources.items():
        if body.get("DeletionPolicy"):
            assert shown[(rid, "DeletionPolicy")] == body["DeletionPolicy"]
            assert shown[(rid, "UpdateReplacePolicy")] == body["UpdateReplacePolicy"]
    # The prose quotes the same figures.
    retention = cluster["Properties"]["BackupRetentionPeriod"]
    assert f"Automated backups for {retention} day(s)" in text


def test_restore_commands_use_the_resolved_identifiers(artifacts):
    calls = invocations(runbook(artifacts, "prod"))
    restore = next(c for c in calls if c.operation == "restore-db-cluster-to-point-in-time")
    assert restore.value("--source-db-cluster-identifier") == "streamflix-prod-aurora"
    assert restore.value("--db-cluster-identifier") == "streamflix-prod-aurora-restore"
    assert restore.value("--kms-key-id") == "$DATA_KEY"
    failover = next(c for c in calls if c.operation == "failover-db-cluster")
    assert failover.value("--target-db-instance-identifier") == "$AURORA_READER_INSTANCE1"
    assert any(
        c.operation == "test-failover" and c.value("--replication-group-id") == "streamflix-prod-cache" for c in calls
    )


def test_dashboard_and_alarms_point_at_the_stack(artifacts, ha):
    markdown = runbook(artifacts, "prod")
    name = "streamflix-prod-dashboard"
    assert ha["prod"]["Resources"]["Dashboard"]["Properties"]["DashboardName"] == {
        "Fn::Sub": "streamflix-${EnvironmentSuffix}-dashboard"
    }
    assert dashboard_url("eu-central-1", name) in markdown
    assert (
        "https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1#dashboards/dashboard/streamflix-prod-dashboard"
        in markdown
    )


def test_sections_follow_the_resource_types(artifacts):
    markdown = runbook(artifacts, "prod")
    titles = re.findall(r"^## \d+\. (.+)$", markdown, re.M)
    assert titles[:8] == [
        "Purpose and architecture",
        "Prerequisites",
        "Deploy",
        "First step after deploy: the application database role",
        "Before every update: a manual snapshot",
        "Parameters",
        "Outputs",
        "Provisioning times",
    ]
    assert {
        "Monitoring",
        "Backup and restore",
        "In-region failover and drills",
        "Troubleshooting",
        "Security and compliance",
        "Cost estimate",
    } <= set(titles)
    # No replica, no EFS replication, no failover records: no cross-region procedure.
    assert not any("Disaster recovery" in t for t in titles)
    assert "promote-read-replica" not in markdown
    troubleshooting = section(markdown, "Troubleshooting")
    for heading in (
        "An engine version is not available",
        "`ROLLBACK_FAILED` / `UPDATE_ROLLBACK_FAILED`",
        "An export is still imported",
        "Requires capabilities",
    ):
        assert heading in troubleshooting
    skip = next(c for c in invocations(troubleshooting) if c.operation == "continue-update-rollback")
    assert skip.options["--resources-to-skip"] == ["CacheReplicationGroup"]


def test_runbook_cost_equals_the_cost_file(artifacts):
    for env in ENVS:
        total = json.loads(artifacts[env]["costs/ha-database.json"])["total_monthly_usd"]
        assert f"**${total:,.2f} per month**" in runbook(artifacts, env)
        rows = table_with(section(runbook(artifacts, env), "Cost estimate"), "Price entry")
        assert len(rows) == len(json.loads(artifacts[env]["costs/ha-database.json"])["lines"])


def test_compliance_report_is_linked_and_summarised_when_present(configs, rendered):
    stacks = list(rendered["prod"].values())
    env = EnvironmentFacts.build(configs["prod"], stacks)
    report = {
        "summary": {"passed": 41, "failed": 2, "frameworks": "HIPAA, PCI-DSS, SOC 2, GDPR"},
        "failed_checks": [{}, {}],
    }
    files = {"compliance/ha-database.json": json.dumps(report), "compliance/ha-database.md": "# report"}
    with_report = section(
        render_runbook(RunbookContext(env=env, blueprint="ha-database", files=files)), "Security and compliance"
    )
    assert "[`compliance/ha-database.json`](../compliance/ha-database.json)" in with_report
    assert "- failed: 2" in with_report and "- failed_checks: 2 item(s)" in with_report
    without = section(render_runbook(RunbookContext(env=env, blueprint="ha-database")), "Security and compliance")
    assert "derived from the template" in without and "compliance/" not in without
    encryption = {row["Resource"]: row for row in table_with(without, "Encrypted")}
    assert encryption["AuroraCluster"]["Encrypted"] == "yes"
    assert encryption["CacheReplicationGroup"]["Key"].startswith("DataKey")


def test_build_writes_every_document_and_rebuilds_byte_identically(tmp_path, configs, preset_build):
    first, second = preset_build("dev")[0], tmp_path / "b"  # the run's shared dev build, then a fresh one here
    report = pipeline.build(configs["dev"], out_dir=second, lint=False)
    assert report.written
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    for stack in ("ha-database", "dr-primary", "dr-recovery"):
        assert {
            f"dev/costs/{stack}.json",
            f"dev/diagrams/{stack}.mmd",
            f"dev/{stack}.yaml",
            f"dev/parameters/{stack}.json",
            f"dev/parameters/{stack}.overrides.json",
            f"dev/runbooks/{stack}.md",
            f"dev/compliance/{stack}.md",
        } <= set(names), stack
    assert {"dev/wiring.json", "dev/manifest.json"} <= set(names)
    for name in names:
        data = (first / name).read_bytes()
        assert data == (second / name).read_bytes(), name
        for folder in (tmp_path, first, Path.cwd()):
            assert str(folder).encode() not in data, (name, folder)


def test_tables_parse():
    assert tables("| a | b |\n|---|---|\n| `x` | y \\| z |\n") == [[{"a": "x", "b": "y | z"}]]


#: Modules that parse config files (plain YAML, no CloudFormation tags), never templates.
CONFIG_READERS = {
    "streamflix/config/loader.py",  # the config loader itself
    "tests/test_bad_configs.py",  # mutates the shipped presets into bad configs
    "tests/docs/test_dr_prod_failover.py",  # edits a prod config to show what it refuses
}


def test_templates_are_read_with_the_cloudformation_aware_loader_only():
    """Post-mortem 002 #1: a generic YAML parser dies on ``!Ref``; only the config loader may use one."""
    root = Path(__file__).resolve().parents[2]
    generic = re.compile(r"\byaml\.(safe_load|load|full_load|unsafe_load|load_all|safe_load_all)\(")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("streamflix", "blueprints", "tests", "benchmarks")
        for path in sorted((root / folder).rglob("*.py"))
        if path.relative_to(root).as_posix() not in CONFIG_READERS
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if generic.search(line)
    ]
    assert offenders == []
    assert load_template("A: !Ref B\nC: !GetAtt D.Arn\nE: !Sub '${B}-x'\n") == {
        "A": {"Ref": "B"}, "C": {"Fn::GetAtt": ["D", "Arn"]}, "E": {"Fn::Sub": "${B}-x"},
    }


def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the Markdown headings (code fences skipped): lower case, punctuation
    dropped, spaces to hyphens, a repeated heading suffixed -1, -2, ... Written from GitHub's rules,
    apart from ``streamflix.docs.markdown.anchor`` on purpose: the contents' links come from that
    function, and a test that reused it could not catch it going wrong."""
    anchors: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        heading = re.match(r"#{1,6} (.+)$", line)
        if fenced or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


@pytest.mark.parametrize("env", ENVS)
def test_every_link_inside_a_runbook_lands_on_a_heading(env, artifacts):
    """The contents and the cross-references (e.g. Lifecycle's pointer to Deploy, Delete) resolve."""
    checked = 0
    for path, text in artifacts[env].items():
        if not path.startswith("runbooks/"):
            continue
        anchors = _github_anchors(text)
        for target in re.findall(r"\]\(#([^)]+)\)", text):
            assert target in anchors, f"{env}/{path}: #{target} names no heading"
            checked += 1
    assert checked > 50
    assert "delete" in _github_anchors(artifacts[env]["runbooks/ha-database.md"])
