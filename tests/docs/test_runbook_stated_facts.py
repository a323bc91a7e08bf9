"""What a runbook states about the stack must be what an operator finds at 3 a.m.

Each case reads the real rendered runbook of a preset (or of a real render changed for the
case, as tests/docs/test_runbook_branches.py does) and asserts the sentence, cell or command
that used to say something the deployed stack does not: deletion protection as the follow-up
update leaves it, values known only at deploy time, generated names, and the wording of lines
that printed stray spaces, empty lists or a Python dict.
"""

from __future__ import annotations

import re

import pytest
from runbook_commands import invocations, section, table_with
from test_runbook_branches import assert_commands_hold, edited, numbered_steps, runbooks


@pytest.fixture(scope="module")
def prod_books(configs, rendered):
    return runbooks(configs["prod"], list(rendered["prod"].values()))


def _delete(markdown: str) -> str:
    return section(markdown, "Deploy").split("### Delete\n", 1)[1]


# -- 1. deletion protection as the follow-up update leaves it ------------------------------------


def test_key_facts_state_deletion_protection_after_the_follow_up_update(prod_books):
    books, _ = prod_books
    ha = section(books["ha-database"], "Purpose and architecture")
    assert re.search(
        r"^- `AuroraCluster`: .*deletion protection: yes \(from the follow-up update after the create; "
        r"off at create, see Lifecycle\)\.$",
        ha,
        re.M,
    )
    primary = section(books["dr-primary"], "Purpose and architecture")
    assert re.search(r"^- `PostgresPrimaryInstance`: .*, deletion protection: yes \(from the follow-up update", primary, re.M)
    assert re.search(r"^- `LoadBalancer`: .*, deletion protection: yes \(from the follow-up update", primary, re.M)
    backups = table_with(section(books["ha-database"], "Backup and restore"), "Resource")
    (row,) = [r for r in backups if r["Resource"] == "AuroraCluster" and r["Setting"] == "DeletionProtection"]
    assert row["Value"] == "true after the follow-up update (false at create)"


@pytest.mark.parametrize(
    "blueprint, direct",
    [
        ("ha-database", "`modify-db-cluster`"),
        ("dr-primary", "`modify-db-instance` or `modify-load-balancer-attributes`"),
        ("dr-recovery", "`modify-db-instance` or `modify-load-balancer-attributes`"),
    ],
)
def test_delete_switches_protection_off_by_a_stack_update_before_delete_stack(prod_books, blueprint, direct):
    books, env = prod_books
    stack = env[blueprint]
    delete = _delete(books[blueprint])
    steps = numbered_steps(delete)
    assert steps[2].startswith("3. Turn deletion protection off (the follow-up update turned it on;")
    assert f"back to `false` with a stack update, not with {direct}: a direct change would leave" in steps[2]
    assert steps[3] == "4. Delete and wait:"
    calls = [(c.service, c.waiter or c.operation) for c in invocations(delete)]
    update = calls.index(("cloudformation", "update-stack"))
    assert calls[update + 1] == ("cloudformation", "stack-update-complete")
    assert update + 1 < calls.index(("cloudformation", "delete-stack"))
    (call,) = [c for c in invocations(delete) if c.operation == "update-stack"]
    assert call.value("--stack-name") == stack.stack_name
    assert "ParameterKey=DeletionProtection,ParameterValue=false" in call.options["--parameters"]
    assert not [c for c in invocations(delete) if c.operation.startswith("modify-")]
    assert_commands_hold(books[blueprint], env)


def test_failback_waits_for_the_protection_update_before_deleting_the_recovery_stack(prod_books):
    books, _ = prod_books
    failback = section(books["dr-recovery"], "Disaster recovery: cross-region failover").split("Re-create the recovery stack", 1)[1]
    calls = [(c.waiter or c.operation) for c in invocations(failback)]
    assert calls[:4] == ["update-stack", "stack-update-complete", "delete-stack", "stack-delete-complete"]


def test_without_follow_up_updates_the_delete_has_no_protection_step(configs, rendered):
    books, _ = runbooks(configs["dev"], list(rendered["dev"].values()))
    delete = _delete(books["ha-database"])
    assert not any("deletion protection" in step for step in numbered_steps(delete))
    assert "deletion protection: no." in section(books["ha-database"], "Purpose and architecture")


# -- 2. values known only at deploy time -----------------------------------------------------------


def _alarm_dimensions(markdown: str, alarm: str) -> str:
    (row,) = [r for r in table_with(section(markdown, "Monitoring"), "Alarm") if r["Alarm"] == alarm]
    return row["Dimensions"]


def test_a_dimension_from_a_wired_parameter_with_an_empty_default_names_the_parameter(prod_books):
    books, _ = prod_books
    assert _alarm_dimensions(books["dr-primary"], "FileSystemReplicationLagAlarm") == (
        "FileSystemId=!Ref FileSystem, DestinationFileSystemId=!Ref RecoveryFileSystemId"
    )


@pytest.mark.parametrize(
    "wired, shown",
    [
        (True, "!Ref RecoveryFileSystemId"),  # another stack's output replaces the default at deploy
        (False, "fs-0123456789abcdef0"),  # nothing replaces it: the default is what is deployed
    ],
)
def test_a_parameter_default_is_shown_only_when_it_is_what_is_deployed(configs, rendered, wired, shown):
    def state(template):
        template["Parameters"]["RecoveryFileSystemId"]["Default"] = "fs-0123456789abcdef0"
        if not wired:
            del template["Metadata"]["StreamFlix"]["Wiring"]["RecoveryFileSystemId"]

    markdown, _ = edited(configs, rendered, "dr-primary", state)
    assert _alarm_dimensions(markdown, "FileSystemReplicationLagAlarm") == (
        f"FileSystemId=!Ref FileSystem, DestinationFileSystemId={shown}"
    )


# -- 3. a generated stream name ---------------------------------------------------------------------


def _stream_fact(markdown: str) -> str:
    (line,) = re.findall(r"^- `EventStream`: .*$", section(markdown, "Purpose and architecture"), re.M)
    return line


def _replay(markdown: str) -> str:
    return section(markdown, "Backup and restore").split("### `EventStream` (Kinesis)", 1)[1].split("### ", 1)[0]


def test_a_generated_stream_name_is_read_from_its_output(prod_books):
    books, env = prod_books
    markdown = books["ha-database"]
    assert _stream_fact(markdown) == (
        "- `EventStream`: Kinesis stream named by CloudFormation at create "
        "(the name is in output `EventStreamName`), ON_DEMAND, records kept 168 h."
    )
    calls = invocations(_replay(markdown))
    assert [c.operation for c in calls] == ["describe-stacks", "list-shards", "get-shard-iterator"]
    assert "'EventStreamName'" in calls[0].value("--query")
    assert {c.value("--stream-name") for c in calls[1:]} == {"$STREAM_NAME"}
    assert calls[2].value("--shard-id") == "$SHARD_ID" and calls[2].value("--shard-iterator-type") == "AT_TIMESTAMP"
    assert_commands_hold(markdown, env)


def test_a_generated_stream_name_without_an_output_is_read_from_the_stack_resource(configs, rendered):
    def drop_output(template):
        del template["Outputs"]["EventStreamName"]

    markdown, env = edited(configs, rendered, "ha-database", drop_output)
    assert _stream_fact(markdown).startswith(
        "- `EventStream`: Kinesis stream named by CloudFormation at create (`aws cloudformation describe-stack-resource "
        "--region eu-central-1 --stack-name streamflix-dev-ha-database --logical-resource-id EventStream "
    )
    assert invocations(_replay(markdown))[0].operation == "describe-stack-resource"
    assert_commands_hold(markdown, env)


def test_a_named_stream_is_named(configs, rendered):
    def name(template):
        template["Resources"]["EventStream"]["Properties"]["Name"] = "streamflix-dev-events"

    markdown, env = edited(configs, rendered, "ha-database", name)
    assert _stream_fact(markdown).startswith("- `EventStream`: Kinesis stream `streamflix-dev-events`, ON_DEMAND")
    assert {c.value("--stream-name") for c in invocations(_replay(markdown))} == {"streamflix-dev-events"}


# -- 4. words, not stray spaces or empty lists ---------------------------------------------------


def test_key_facts_have_no_double_space_where_a_version_is_inherited_or_unstated(configs, rendered):
    def unstate(template):
        del template["Resources"]["CacheReplicationGroup"]["Properties"]["EngineVersion"]

    markdown, _ = edited(configs, rendered, "dr-recovery", unstate)
    facts = section(markdown, "Purpose and architecture")
    assert re.search(r"^- `PostgresReplicaInstance`: PostgreSQL \(inherited\) cross-region read replica ", facts, re.M)
    assert re.search(r"^- `CacheReplicationGroup`: valkey replication group ", facts, re.M)
    assert not [line for line in facts.splitlines() if line.startswith("- ") and "  " in line]


def test_a_stack_with_nothing_priced_names_no_price_source(configs, rendered):
    from test_runbook_branches import network_only

    markdown, _ = edited(configs, rendered, "ha-database", network_only)
    costs = section(markdown, "Cost estimate")
    assert "Nothing in the stack is billed on its own: there is no item to price." in costs
    assert "| Item |" not in costs
    assert "Price sources" not in costs
    assert "\nFree tiers, taxes, support, backups beyond the free allowance and data transfer not listed are not included.\n" in costs


def test_a_priced_stack_names_its_price_sources(prod_books):
    books, _ = prod_books
    costs = section(books["ha-database"], "Cost estimate")
    assert re.search(r"^Price sources: [^.\s].*\(\d{4}-\d{2}-\d{2}\)\. Refresh with ", costs, re.M)
    assert "| Item |" in costs


# -- 5. the deploy order's separators --------------------------------------------------------------


def test_every_deploy_order_step_but_the_last_ends_in_a_semicolon(prod_books):
    books, _ = prod_books
    order = section(books["dr-primary"], "Deploy").split("### Deploy order\n", 1)[1].split("### ", 1)[0]
    steps = numbered_steps(order)
    assert len(steps) == 5
    assert any("from `streamflix-prod-dr-recovery` output `DataKeyArn` (optional" in step for step in steps[:-1])
    assert [step[-1] for step in steps] == [";"] * 4 + ["."]


# -- 6. property values as text, never a Python value ------------------------------------------------


def test_key_facts_show_an_intrinsic_property_in_the_template_notation(configs, rendered):
    """Each of these properties was put into the sentence as the Python value (``{'Fn::If': ...}``)."""

    def intrinsics(template):
        resources = template["Resources"]
        template.setdefault("Conditions", {})["IsLarge"] = {"Fn::Equals": [{"Ref": "EnvironmentSuffix"}, "prod"]}
        template.setdefault("Mappings", {})["TaskSize"] = {"Cpu": {"dev": "512", "prod": "1024"}}
        resources["CacheReplicationGroup"]["Properties"]["NumCacheClusters"] = {"Fn::If": ["IsLarge", 3, 2]}
        resources["TaskDefinition"]["Properties"]["Cpu"] = {
            "Fn::FindInMap": ["TaskSize", "Cpu", {"Ref": "EnvironmentSuffix"}]
        }
        network = resources["Service"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        network["Subnets"] = {"Fn::Split": [",", {"Fn::ImportValue": "shared-AppSubnetIds"}]}
        resources["Service"]["Properties"]["DesiredCount"] = {"Fn::If": ["IsLarge", 3, 1]}

    markdown, _ = edited(configs, rendered, "ha-database", intrinsics)
    facts = section(markdown, "Purpose and architecture")
    assert "{'" not in facts and "'}" not in facts
    assert re.search(r"^- `CacheReplicationGroup`: .* `streamflix-dev-cache`, !If \[IsLarge, 3, 2\] × cache\.", facts, re.M)
    (service,) = re.findall(r"^- `Service`: .*$", facts, re.M)
    assert service == (
        "- `Service`: FARGATE service, !If [IsLarge, 3, 1] task(s) at rest of "
        "!FindInMap [TaskSize, Cpu, !Ref EnvironmentSuffix] CPU units / 1024 MiB (ARM64), "
        "in the subnets !Split [',', !ImportValue shared-AppSubnetIds]."
    )
