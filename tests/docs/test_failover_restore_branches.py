"""Branches of the failover and restore chapters that the three presets never reach.

Each case starts from a real render (a preset's templates, a parsed copy edited the way
another config or a plugin's template would differ, or a real config variant), builds the
documents again and reads the branch's own words and commands back. Each test also checks
the unedited render says the other thing, so it fails if the branch is not taken or says
the wrong thing. The runbook command checkers run over every edited runbook.
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from runbook_commands import cli_problems, invocations, section, template_problems
from test_runbook_branches import wire_efs_replica

from streamflix import parse_config, render_environment
from streamflix.cfn import depends_on, references
from streamflix.docs.stack import EnvironmentFacts
from streamflix.pipeline import render_artifacts
from streamflix.render import RenderedStack, load_template, render

DR_TITLE = "Disaster recovery: cross-region failover"
RESTORE_TITLE = "Backup and restore"


def edited(config, stacks, **edits) -> dict[str, str]:
    """The documents of ``stacks`` with each named blueprint's template changed by its edit (on a parsed copy);
    the runbook command checkers pass over every runbook."""
    changed = []
    for stack in stacks:
        edit = edits.get(stack.blueprint.replace("-", "_"))
        if edit is not None:
            template = copy.deepcopy(load_template(stack.text))
            edit(template)
            stack = RenderedStack(stack.blueprint, stack.region, stack.filename, render(template),
                                  len(template["Resources"]))
        changed.append(stack)
    files = render_artifacts(config, changed)
    facts = EnvironmentFacts.build(config, changed)
    for path, text in files.items():
        if path.startswith("runbooks/"):
            assert cli_problems(text) == [], path
            assert template_problems(text, facts) == [], path
    return files


def drop(template: dict, rid: str) -> None:
    """Remove resource ``rid`` and everything that refers to it (resources, outputs), as a template without it would be."""

    def refers(body: dict, names: set[str]) -> bool:
        return bool((references(body) | set(depends_on(body))) & names)

    removed = {rid}
    while mentions := {o for o, body in template["Resources"].items() if o not in removed and refers(body, removed)}:
        removed |= mentions
    for name in removed:
        template["Resources"].pop(name)
    for output, body in list(template.get("Outputs", {}).items()):
        if refers(body, removed):
            template["Outputs"].pop(output)


def of_type(template: dict, resource_type: str) -> list[str]:
    return [rid for rid, body in template["Resources"].items() if body["Type"] == resource_type]


def phase(text: str, number: int) -> str:
    """The body of phase ``number`` of the cross-region chapter (heading excluded)."""
    match = re.search(rf"^### Phase {number}: [^\n]*\n(.*?)(?=^### )", text, re.S | re.M)
    assert match, f"no phase {number}"
    return match.group(1).strip()


def restore_block(text: str, rid: str) -> str:
    match = re.search(rf"^### `{rid}` \([^\n]*\n(.*?)(?=^### |\Z)", text, re.S | re.M)
    assert match, f"no restore block for {rid}"
    return match.group(1).strip()


@pytest.fixture(scope="module")
def dev(configs, rendered):
    return configs["dev"], list(rendered["dev"].values())


@pytest.fixture(scope="module")
def dev_dr(artifacts):
    return section(artifacts["dev"]["runbooks/dr-recovery.md"], DR_TITLE)


# -- cross-region failover ----------------------------------------------------------------


def test_a_pair_without_file_replication_promotes_the_database_only(dev, dev_dr):
    config, stacks = dev

    def no_replication(template):
        for rid in of_type(template, "AWS::EFS::FileSystem"):
            template["Resources"][rid]["Properties"].pop("ReplicationConfiguration")

    files = edited(config, stacks, dr_primary=no_replication)
    promote = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 2)
    assert "Make the EFS replica in us-east-1 writable" in phase(dev_dr, 2)
    assert "Make the EFS replica" not in promote
    assert not [c for c in invocations(promote) if c.service == "efs"]
    assert promote.startswith("Promote the cross-region read replica `PostgresReplicaInstance` with the failover update")
    assert promote.endswith("```")


def test_a_replica_without_the_failover_switch_is_promoted_by_hand_with_the_primarys_backups(dev, dev_dr):
    config, stacks = dev
    database = config.dr.database
    files = edited(config, stacks, dr_recovery=lambda t: t["Parameters"].pop("DatabaseRole"))
    promote = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 2)
    assert "`DatabaseRole=standalone`" in phase(dev_dr, 2)
    assert promote.startswith(
        "Promote the cross-region read replica `PostgresReplicaInstance`: it stops replicating and becomes a "
        "standalone, writable instance"
    )
    calls = invocations(promote)
    assert not [c for c in calls if c.operation == "update-stack"]
    by_hand = next(c for c in calls if c.operation == "promote-read-replica")
    assert by_hand.value("--region") == config.dr.recovery_region
    assert by_hand.value("--db-instance-identifier") == "streamflix-dev-pg-replica"
    assert by_hand.value("--backup-retention-period") == str(database.backup_retention_days)
    assert by_hand.value("--preferred-backup-window") == database.preferred_backup_window
    assert [c.waiter for c in calls if c.waiter] == ["db-instance-available"]


def test_a_recovery_stack_without_a_service_is_told_to_start_the_application(dev, dev_dr):
    config, stacks = dev
    files = edited(config, stacks, dr_recovery=lambda t: drop(t, "Service"))
    markdown = files["runbooks/dr-recovery.md"]
    assert "update-service" in phase(dev_dr, 3)
    assert phase(section(markdown, DR_TITLE), 3) == (
        "The recovery stack runs no ECS service; start the application the way it is deployed there."
    )
    assert "Replace the service's tasks" not in section(markdown, "In-region failover and drills")
    assert "Replace the service's tasks (`Service`)" in section(
        files["runbooks/dr-primary.md"], "In-region failover and drills"
    )


def test_a_fixed_auto_scaling_minimum_is_raised_with_the_service(dev, dev_dr):
    config, stacks = dev
    serving = str(config.dr.compute.desired_count)

    def fixed_minimum(template):
        for rid in of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget"):
            template["Resources"][rid]["Properties"]["MinCapacity"] = 1

    files = edited(config, stacks, dr_recovery=fixed_minimum)
    scale = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 3)
    assert "register-scalable-target" not in phase(dev_dr, 3)
    assert scale.splitlines()[0].endswith(
        "then record it in the stack's `ServiceTaskCount` parameter and raise the auto-scaling minimum so it "
        "does not scale back in:"
    )
    register = next(c for c in invocations(scale) if c.operation == "register-scalable-target")
    assert register.value("--min-capacity") == serving
    assert register.value("--resource-id") == "service/streamflix-dev/$ECS_SERVICE"
    operations = [c.waiter or c.operation for c in invocations(scale)]
    assert operations.index("register-scalable-target") < operations.index("services-stable")


def test_without_a_stated_serving_size_the_primarys_service_size_is_used(dev, dev_dr):
    config, stacks = dev
    files = edited(config, stacks, dr_recovery=lambda t: t["Outputs"].pop("FailoverTaskCount"))
    scale = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 3)
    assert "FailoverTaskCount output" in phase(dev_dr, 3)
    serving = str(config.dr.compute.desired_count)
    assert f"to the serving size ({serving} tasks, what dr-primary's Service runs)" in scale
    assert next(c for c in invocations(scale) if c.operation == "update-service").value("--desired-count") == serving


def test_without_records_or_a_load_balancer_name_dns_is_switched_by_hand(dev, dev_dr):
    config, stacks = dev

    def no_balancer_name(template):
        for output, body in list(template["Outputs"].items()):
            if "Fn::GetAtt" in body["Value"] and body["Value"]["Fn::GetAtt"][1] == "DNSName":
                template["Outputs"].pop(output)

    files = edited(config, stacks, dr_recovery=no_balancer_name)
    dns = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 4)
    assert "LoadBalancerDnsName" in phase(dev_dr, 4)
    assert dns == (
        "No Route 53 failover records in these templates: point the public name (or the clients) at the "
        "recovery side yourself."
    )


def test_with_only_dns_failover_there_is_nothing_to_promote_and_failback_is_dns_and_recreate(
    dr_variant_config, dr_variant_stacks
):
    """The HTTPS + Route 53 variant with neither a replica nor file replication: only DNS fails over."""
    config = dr_variant_config
    stacks = list(dr_variant_stacks.values())
    before = section(render_artifacts(config, stacks)["runbooks/dr-recovery.md"], DR_TITLE)

    def no_replica(template):
        for rid in of_type(template, "AWS::RDS::DBInstance"):
            template["Resources"][rid]["Properties"].pop("SourceDBInstanceIdentifier", None)

    def no_replication(template):
        for rid in of_type(template, "AWS::EFS::FileSystem"):
            template["Resources"][rid]["Properties"].pop("ReplicationConfiguration")

    files = edited(config, stacks, dr_recovery=no_replica, dr_primary=no_replication)
    text = section(files["runbooks/dr-recovery.md"], DR_TITLE)

    assert "`ReplicaLag`" in phase(before, 1) and "`ReplicaLag`" not in phase(text, 1)
    assert phase(text, 2) == "Nothing to promote in these templates: the data tier is not replicated across regions."
    failback = text.split("### Failback", 1)[1]
    steps = re.findall(r"^(\d+)\. (.{20})", failback, re.M)
    assert steps == [
        ("1", "Confirm the primary "),
        ("2", "Send traffic back: u"),
        ("3", "Re-create the recove"),
    ]
    assert "create-db-snapshot" in before.split("### Failback", 1)[1]
    assert not [c for c in invocations(failback) if c.service == "rds"]


# -- restore blocks ------------------------------------------------------------------------


def test_a_file_system_without_automatic_backups_has_nothing_to_restore(configs, artifacts):
    data = configs["dev"].model_dump(mode="json", exclude_none=True)
    data["dr"].setdefault("file_system", {})["automatic_backups"] = False
    config = parse_config(yaml.safe_dump(data, sort_keys=False), source="dev-no-efs-backups.yaml")
    stacks = render_environment(config)
    files = render_artifacts(config, stacks)
    facts = EnvironmentFacts.build(config, stacks)
    before = restore_block(section(artifacts["dev"]["runbooks/dr-primary.md"], RESTORE_TITLE), "FileSystem")
    assert "start-restore-job" in before
    for blueprint, rid in (("dr-primary", "FileSystem"), ("dr-recovery", "ReplicaFileSystem")):
        markdown = files[f"runbooks/{blueprint}.md"]
        assert cli_problems(markdown) == [] and template_problems(markdown, facts) == []
        assert restore_block(section(markdown, RESTORE_TITLE), rid) == (
            "Automatic backups are off in the template (`BackupPolicy` not ENABLED): there is nothing to restore "
            "from except a replica, if one exists."
        )


def test_a_cache_without_automatic_snapshots_says_only_manual_ones_exist(dev, artifacts):
    config, stacks = dev
    cache = of_type(load_template(next(s for s in stacks if s.blueprint == "ha-database").text),
                    "AWS::ElastiCache::ReplicationGroup")[0]

    def no_snapshots(template):
        properties = template["Resources"][cache]["Properties"]
        properties.pop("SnapshotWindow", None)
        properties["SnapshotRetentionLimit"] = 0

    files = edited(config, stacks, ha_database=no_snapshots)
    block = restore_block(section(files["runbooks/ha-database.md"], RESTORE_TITLE), cache)
    before = restore_block(section(artifacts["dev"]["runbooks/ha-database.md"], RESTORE_TITLE), cache)
    assert before.startswith(f"{config.ha_database.cache.snapshot_retention_days} daily snapshot(s) kept, taken in ")
    assert block.startswith(
        "No automatic snapshots (`SnapshotRetentionLimit` is 0): the only snapshots to restore from are manual "
        "ones, such as the one below; take one before risky work."
    )
    assert "daily snapshot(s)" not in block
    assert [c.operation for c in invocations(block)][:2] == ["describe-snapshots", "create-snapshot"]


def test_an_instance_and_a_cluster_without_a_backup_window_say_aws_picks_it(dev, artifacts):
    config, stacks = dev
    window = config.dr.database.preferred_backup_window

    def no_window(template):
        for resource_type in ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
            for rid in of_type(template, resource_type):
                template["Resources"][rid]["Properties"].pop("PreferredBackupWindow", None)

    before = {b: section(artifacts["dev"][f"runbooks/{b}.md"], RESTORE_TITLE) for b in ("dr-primary", "ha-database")}
    files = edited(config, stacks, dr_primary=no_window)
    instance = restore_block(section(files["runbooks/dr-primary.md"], RESTORE_TITLE), "PostgresPrimaryInstance")
    assert f"(window {window} UTC)" in restore_block(before["dr-primary"], "PostgresPrimaryInstance")
    assert instance.startswith(f"Automated backups for {config.dr.database.backup_retention_days} day(s) "
                               "(window picked by AWS). A restore creates a new instance next to the live one.")
    restore = next(c for c in invocations(instance) if c.operation == "restore-db-instance-to-point-in-time")
    assert restore.value("--target-db-instance-identifier") == "streamflix-dev-pg-primary-restore"
    assert not config.dr.database.multi_az and "--multi-az" not in restore.options

    files = edited(config, stacks, ha_database=no_window)
    cluster = of_type(load_template(next(s for s in stacks if s.blueprint == "ha-database").text),
                      "AWS::RDS::DBCluster")[0]
    block = restore_block(section(files["runbooks/ha-database.md"], RESTORE_TITLE), cluster)
    ha_window = config.ha_database.database.preferred_backup_window
    assert f"the daily backup runs in {ha_window} UTC." in restore_block(before["ha-database"], cluster)
    assert "the daily backup runs in a window AWS picks. A restore always creates a **new** cluster" in block
    operations = [c.operation for c in invocations(block)]
    assert "restore-db-cluster-to-point-in-time" in operations and "create-db-instance" in operations
    assert "restore-db-instance-to-point-in-time" not in operations



def test_with_no_serving_size_anywhere_the_operator_sets_serving_tasks(dev, dev_dr):
    """No FailoverTaskCount output, a primary service whose size only a deploy knows, a scaling maximum
    and a task-count parameter that state none: phase 3 asks the operator for the number."""
    config, stacks = dev

    def unstated_primary(template):
        template["Parameters"]["ServiceDesiredCount"] = {"Type": "Number", "Description": "tasks the service runs"}
        template["Resources"]["Service"]["Properties"]["DesiredCount"] = {"Ref": "ServiceDesiredCount"}

    def unstated_recovery(template):
        template["Outputs"].pop("FailoverTaskCount")
        template["Parameters"]["ServiceTaskCount"].pop("MaxValue")
        template["Parameters"]["ServingMaximum"] = {"Type": "Number", "Description": "the most tasks to scale to"}
        template["Resources"]["ServiceScalableTarget"]["Properties"]["MaxCapacity"] = {"Ref": "ServingMaximum"}

    files = edited(config, stacks, dr_primary=unstated_primary, dr_recovery=unstated_recovery)
    scale = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 3)
    assert 'SERVING_TASKS="<tasks production needs>"' not in phase(dev_dr, 3)
    assert "to the serving size ($SERVING_TASKS tasks, SERVING_TASKS: set it to the number of tasks production needs)" in scale
    block = re.search(r"```bash\n(.*?)```", scale, re.S).group(1)
    assert block.splitlines()[0] == 'SERVING_TASKS="<tasks production needs>"'
    calls = invocations(scale)
    assert next(c for c in calls if c.operation == "update-service").value("--desired-count") == "$SERVING_TASKS"
    update = next(c for c in calls if c.operation == "update-stack")
    assert "ParameterKey=ServiceTaskCount,ParameterValue=$SERVING_TASKS" in update.options["--parameters"]


def test_a_recovery_stack_wired_to_its_efs_replica_reads_the_source_in_its_own_region(dev, dev_dr):
    """A recovery template that takes the EFS replica's id as a wired parameter (``efs-replication-destination``,
    which ``StackTemplate.add_wired_parameter`` offers): phase 2 reads the replica from the recovery stack's
    parameter and the source from the replica's replication, both in the recovery region."""
    config, stacks = dev
    files = edited(config, stacks, dr_recovery=wire_efs_replica)
    efs = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 2).split("Make the EFS replica", 1)[1]
    assert "Outputs[?OutputKey=='ReplicaFileSystemId']" in phase(dev_dr, 2)  # unedited: the recovery stack's output
    calls = invocations(efs)
    assert [(c.operation, c.value("--region")) for c in calls] == [
        ("describe-stacks", "us-east-1"),
        ("describe-replication-configurations", "us-east-1"),
        ("delete-replication-configuration", "us-east-1"),
        ("delete-replication-configuration", "us-east-1"),
        ("describe-file-systems", "us-east-1"),
    ]
    assert calls[0].value("--query") == "Stacks[0].Parameters[?ParameterKey=='PrimaryReplicaFileSystemId'].ParameterValue"
    assert calls[1].value("--file-system-id") == "$REPLICA_FILE_SYSTEM"
    assert calls[1].value("--query") == "Replications[0].SourceFileSystemId"
    assert {c.value("--source-file-system-id") for c in calls[2:4]} == {"$SOURCE_FILE_SYSTEM"}
    assert calls[3].value("--deletion-mode") == "LOCAL_CONFIGURATION_ONLY"
    assert calls[4].value("--file-system-id") == "$REPLICA_FILE_SYSTEM"


def test_a_replica_no_template_names_is_found_from_the_primary_region(dev, dev_dr):
    """Without wiring that says which file system is the replica, the source id can only come from the
    primary stack's output, and the runbook says that read needs the primary region."""
    config, stacks = dev

    def unwired(template):
        template["Metadata"]["StreamFlix"]["Wiring"].pop("RecoveryFileSystemId")

    files = edited(config, stacks, dr_primary=unwired)
    efs = phase(section(files["runbooks/dr-recovery.md"], DR_TITLE), 2).split("Make the EFS replica", 1)[1]
    assert "REPLICA_FILE_SYSTEM" in phase(dev_dr, 2)
    assert "REPLICA_FILE_SYSTEM" not in efs
    calls = invocations(efs)
    assert (calls[0].value("--region"), calls[0].value("--stack-name")) == ("eu-west-2", "streamflix-dev-dr-primary")
    assert calls[0].value("--query") == "Stacks[0].Outputs[?OutputKey=='FileSystemId'].OutputValue"
    assert "--output text)   # reads the primary region" in efs


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_restore_an_operator_may_run_alone_sets_every_variable_it_uses(env, artifacts):
    """The point-in-time restore and the snapshot restore are alternatives ("... instead"): an
    operator runs one of them, so each block sets the placement variables it reads (the snapshot
    block once read $AURORA_SUBNET_GROUP etc. that only the block above it set)."""
    text = section(artifacts[env]["runbooks/ha-database.md"], RESTORE_TITLE)
    alternatives = re.findall(r"^From a snapshot instead[^\n]*\n\n```bash\n(.*?)```", text, re.M | re.S)
    assert alternatives, "the Aurora cluster's snapshot restore is in the chapter"
    for block in alternatives:
        assigned = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", block, re.M))
        used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", block))
        assert used <= assigned, f"read but not set in this block: {sorted(used - assigned)}"
        assert {"AURORA_SUBNET_GROUP", "DATABASE_SECURITY_GROUP", "DATA_KEY"} <= used


#: Each stateful type's name property, and the types a runbook command names by its ``Ref``.
GENERATED_NAMES = {
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
}


def generated_names(template: dict) -> None:
    """Leave every database's and cache's name to CloudFormation (no name property): only the deployed stack knows it."""
    for resource_type, prop in GENERATED_NAMES.items():
        for rid in of_type(template, resource_type):
            template["Resources"][rid]["Properties"].pop(prop, None)


def test_generated_names_are_read_from_the_stack_never_the_logical_id(dev, artifacts):
    """With no name in the template, every command reads the identifier CloudFormation generated from the
    stack (``describe-stack-resource`` or an output) and derives the restored copies' names from it in shell,
    within the AWS limits; it never passes the logical ID, which names nothing in AWS."""
    config, stacks = dev
    files = edited(config, stacks, ha_database=generated_names, dr_primary=generated_names)
    ha = load_template(next(s for s in stacks if s.blueprint == "ha-database").text)
    cluster, = of_type(ha, "AWS::RDS::DBCluster")
    cache, = of_type(ha, "AWS::ElastiCache::ReplicationGroup")
    logical = set(ha["Resources"]) | set(load_template(next(s for s in stacks if s.blueprint == "dr-primary").text)["Resources"])
    identifier_flags = ("--db-cluster-identifier", "--source-db-cluster-identifier", "--db-instance-identifier",
                        "--source-db-instance-identifier", "--target-db-instance-identifier",
                        "--replication-group-id", "--source-identifier", "--snapshot-name",
                        "--db-cluster-snapshot-identifier")
    for book in ("ha-database", "dr-primary"):
        text = files[f"runbooks/{book}.md"]
        before = artifacts["dev"][f"runbooks/{book}.md"]
        region = next(s.region for s in stacks if s.blueprint == book)  # the recovery stack keeps its names
        for call in (c for c in invocations(text) if c.value("--region") == region):
            for flag in identifier_flags:
                for value in call.options.get(flag, []):
                    assert value.startswith("$"), f"{book}: {call.line}"
                    assert value.split("-")[0].lstrip("$") not in logical
        # the unedited render names the resources literally
        assert any(not v.startswith("$") for c in invocations(before) for v in c.options.get("--replication-group-id", []))

    restore = section(files["runbooks/ha-database.md"], RESTORE_TITLE)
    assert f"### `{cluster}` (Aurora cluster with a generated name)" in restore
    assert f"### `{cache}` (ElastiCache with a generated name)" in restore
    assert "### `PostgresPrimaryInstance` (DB instance with a generated name)" in files["runbooks/dr-primary.md"]
    assert f"### `{cluster}` (Aurora cluster `streamflix-dev-" in section(artifacts["dev"]["runbooks/ha-database.md"], RESTORE_TITLE)
    aurora = restore_block(restore, cluster)
    lines = re.findall(r"```bash\n.*?```", aurora, re.S)
    reads = f"--logical-resource-id {cluster} --query StackResourceDetail.PhysicalResourceId"
    assert all(reads in block or "Outputs[?OutputKey==" in block for block in lines[:3])
    pit = next(c for c in invocations(aurora) if c.operation == "restore-db-cluster-to-point-in-time")
    source, target = pit.value("--source-db-cluster-identifier"), pit.value("--db-cluster-identifier")
    assert source != target
    # the restored cluster's name is derived in shell from the read name, cut to the RDS limit
    derive = next(line for line in lines[1].splitlines() if line.startswith(target.lstrip("$") + "="))
    assert f"${{{source.lstrip('$')}:0:55}}" in derive and derive.endswith("-restore\"")
    cleanup = invocations(lines[3])
    assert [c.operation for c in cleanup] == ["describe-stacks", "delete-db-instance", "delete-db-cluster"]
    assert cleanup[2].value("--db-cluster-identifier") == target
    # each fenced block sets what it reads (the clean-up reads the names the restore derived)
    for block in lines:
        assigned = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", block, re.M)) | set(re.findall(r"; ([A-Z_][A-Z0-9_]*)=", block))
        used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", block))
        assert used <= assigned | {"SNAPSHOT_DATE", "RESTORE_TIME", "SNAPSHOT"}, sorted(used - assigned)

    cache_block = restore_block(restore, cache)
    create = next(c for c in invocations(cache_block) if c.operation == "create-replication-group")
    assert "\nCACHE_REPLICATION_GROUP=$(aws cloudformation describe-stack" in cache_block
    derive = next(line for line in cache_block.splitlines()
                  if line.startswith(create.value("--replication-group-id").lstrip("$") + "="))
    assert ":0:32}" in derive and derive.endswith("-restore\"")

    stuck = section(files["runbooks/ha-database.md"], "Troubleshooting")
    assert "\nCACHE_REPLICATION_GROUP=$(aws cloudformation describe-stack" in stuck
    groups = [c.value("--replication-group-id") for c in invocations(stuck) if "--replication-group-id" in c.options]
    assert len(groups) == 4 and set(groups) == {"$CACHE_REPLICATION_GROUP"}


def deploy_time_sizes(template: dict) -> None:
    """The cluster's and cache's class, engine and version as parameters: the engine with a default (what is
    deployed), the rest without one (only the deployed stack knows them)."""
    parameters = template["Parameters"]
    parameters["DbEngine"] = {"Type": "String", "Default": "aurora-postgresql", "Description": "engine"}
    for name in ("DbClass", "DbEngineVersion", "CacheClass", "CacheVersion", "CacheNodes"):
        parameters[name] = {"Type": "String", "Description": "known at deploy time"}
    resources = template["Resources"]
    cluster, = of_type(template, "AWS::RDS::DBCluster")
    resources[cluster]["Properties"].update(Engine={"Ref": "DbEngine"}, EngineVersion={"Ref": "DbEngineVersion"})
    for member in of_type(template, "AWS::RDS::DBInstance"):
        resources[member]["Properties"]["DBInstanceClass"] = {"Ref": "DbClass"}
    cache, = of_type(template, "AWS::ElastiCache::ReplicationGroup")
    resources[cache]["Properties"].update(CacheNodeType={"Ref": "CacheClass"}, EngineVersion={"Ref": "CacheVersion"},
                                          NumCacheClusters={"Ref": "CacheNodes"})


def test_a_class_or_version_known_at_deploy_time_is_read_from_the_deployed_resource(dev, artifacts):
    """A restore re-states the class, engine and version: a parameter default that is deployed is written out,
    a value only the deploy knows is read from the running resource into a shell variable (never ``None``,
    a Python dict or ``!Ref`` text, which the CLI would refuse or pass on as a name)."""
    config, stacks = dev
    files = edited(config, stacks, ha_database=deploy_time_sizes)
    ha = load_template(next(s for s in stacks if s.blueprint == "ha-database").text)
    cluster, = of_type(ha, "AWS::RDS::DBCluster")
    cache, = of_type(ha, "AWS::ElastiCache::ReplicationGroup")
    restore = section(files["runbooks/ha-database.md"], RESTORE_TITLE)
    before = section(artifacts["dev"]["runbooks/ha-database.md"], RESTORE_TITLE)
    sized = ("--engine", "--engine-version", "--db-instance-class", "--cache-node-type", "--num-cache-clusters")

    def values(text: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for call in invocations(text):
            if call.operation in ("create-db-instance", "restore-db-cluster-from-snapshot", "create-replication-group"):
                for flag in sized:
                    found.setdefault(flag, set()).update(call.options.get(flag, []))
        return found

    unedited = values(before)
    assert unedited["--db-instance-class"] == {config.ha_database.database.instance_class}
    assert not any(v.startswith("$") for vs in unedited.values() for v in vs)
    edited_values = values(restore)
    for flag, found in edited_values.items():
        assert found, flag
        assert not [v for v in found if v == "None" or "{" in v or "!" in v or "Ref" in v], (flag, found)
    assert "aurora-postgresql" in edited_values["--engine"]  # the parameter's default is what runs

    aurora = restore_block(restore, cluster)
    blocks = re.findall(r"```bash\n.*?```", aurora, re.S)
    from_snapshot = next(c for c in invocations(blocks[2]) if c.operation == "restore-db-cluster-from-snapshot")
    version = from_snapshot.value("--engine-version")
    assert version.startswith("$")
    assert re.search(rf'^{version[1:]}=\$\(aws rds describe-db-clusters .*--query "?DBClusters\[0\]\.EngineVersion"? ',
                     blocks[2], re.M)
    for block in blocks[1:3]:
        add = next(c for c in invocations(block) if c.operation == "create-db-instance")
        instance_class = add.value("--db-instance-class")
        assert instance_class.startswith("$")
        assert re.search(rf"^{instance_class[1:]}=\$\(aws rds describe-db-instances .*"
                         r'--query "?DBInstances\[0\]\.DBInstanceClass"? ', block, re.M)

    cache_block = restore_block(restore, cache)
    create = next(c for c in invocations(cache_block) if c.operation == "create-replication-group")
    reads = {
        "--cache-node-type": "ReplicationGroups[0].CacheNodeType",
        "--num-cache-clusters": "length(ReplicationGroups[0].MemberClusters)",
        "--engine-version": "CacheClusters[0].EngineVersion",
    }
    for flag, query in reads.items():
        variable = create.value(flag)
        assert variable.startswith("$"), flag
        line = next(line for line in cache_block.splitlines() if line.startswith(variable[1:] + "="))
        assert f'--query "{query}"' in line or f"--query {query}" in line, line
    for block in [*blocks, cache_block]:
        assigned = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", block, re.M))
        used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", block))
        assert used <= assigned | {"SNAPSHOT_DATE", "RESTORE_TIME", "SNAPSHOT"}, sorted(used - assigned)

    engines = section(files["runbooks/ha-database.md"], "Troubleshooting")
    assert not [c for c in invocations(engines) if "{" in (c.value("--engine") or "")]


def test_a_version_known_at_deploy_time_is_checked_with_the_value_the_operator_passes(dev, artifacts):
    """Before a deploy nothing runs to read a setting from: the prerequisites' engine-version check uses the
    parameter's default where that is deployed, else a variable the operator sets to the value passed."""
    config, stacks = dev
    files = edited(config, stacks, ha_database=deploy_time_sizes)
    checks = [c for c in invocations(section(files["runbooks/ha-database.md"], "Prerequisites"))
              if c.operation == "describe-db-engine-versions"]
    unedited = [c for c in invocations(section(artifacts["dev"]["runbooks/ha-database.md"], "Prerequisites"))
                if c.operation == "describe-db-engine-versions"]
    assert unedited[0].value("--engine-version") == config.ha_database.database.engine_version
    assert [(c.value("--engine"), c.value("--engine-version")) for c in checks] == [
        ("aurora-postgresql", "$DB_ENGINE_VERSION")
    ]
    assert 'DB_ENGINE_VERSION="<the DbEngineVersion you deploy with>"' in files["runbooks/ha-database.md"]
    cache = [c for c in invocations(section(files["runbooks/ha-database.md"], "Prerequisites"))
             if c.operation == "describe-cache-engine-versions"]
    assert [c.value("--engine-version") for c in cache] == ["$CACHE_VERSION"]
