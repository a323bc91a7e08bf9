"""The runbook chapters' branches the three presets never reach, each from a real render.

Every preset builds all three stacks with IAM roles, databases, exports, unsubscribed alarm
topics and complete cost estimates, so the chapter templates' other branches never show in
``out/``. Each case here takes a real rendered template (or a config variant), changes what
the branch is about in a parsed copy, renders it again and asserts the sentence, step or table
that branch must write; the runbook command checkers run over the result where commands change.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Callable

import pytest
from runbook_commands import cli_problems, invocations, section, table_with, template_problems

from streamflix import parse_config, render_environment
from streamflix.cfn import depends_on, references
from streamflix.docs.context import RunbookContext
from streamflix.docs.runbook import render_runbook
from streamflix.docs.stack import EnvironmentFacts
from streamflix.render import RenderedStack, load_template, render

Edit = Callable[[dict], None]


def with_edit(stacks: list[RenderedStack], blueprint: str, edit: Edit) -> list[RenderedStack]:
    """The environment's rendered stacks, with ``blueprint``'s template parsed, changed by ``edit`` and rendered again."""
    out = []
    for stack in stacks:
        if stack.blueprint == blueprint:
            template = copy.deepcopy(load_template(stack.text))
            edit(template)
            stack = RenderedStack(stack.blueprint, stack.region, stack.filename, render(template), len(template["Resources"]))
        out.append(stack)
    return out


def runbooks(config, stacks: list[RenderedStack], files: dict[str, str] | None = None) -> tuple[dict[str, str], EnvironmentFacts]:
    env = EnvironmentFacts.build(config, stacks)
    return {b: render_runbook(RunbookContext(env=env, blueprint=b, files=files or {})) for b in env.stacks}, env


def edited(configs, rendered, blueprint: str, edit: Edit, env: str = "dev") -> tuple[str, EnvironmentFacts]:
    """``blueprint``'s runbook after ``edit``, and the environment it was written from."""
    books, facts = runbooks(configs[env], with_edit(list(rendered[env].values()), blueprint, edit))
    return books[blueprint], facts


def headings(text: str) -> list[str]:
    return re.findall(r"^### (.+)$", text, re.M)


def numbered_steps(text: str) -> list[str]:
    return re.findall(r"^(\d+\. .+)$", text, re.M)


def assert_commands_hold(markdown: str, env: EnvironmentFacts) -> None:
    assert cli_problems(markdown) == []
    assert template_problems(markdown, env) == []


# -- a stack that holds only its network: no database, no IAM, no alarms --------------------------

NETWORK_TYPES = {
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::Route",
}


def network_only(template: dict) -> None:
    """Keep the VPC, its subnets and routes (and the outputs naming only them)."""
    names = set(template.get("Parameters") or {}) | set(template.get("Conditions") or {})
    kept = {rid: body for rid, body in template["Resources"].items() if body["Type"] in NETWORK_TYPES}
    while True:
        dangling = [rid for rid, body in kept.items() if (references(body) | set(depends_on(body))) - set(kept) - names]
        if not dangling:
            break
        for rid in dangling:
            del kept[rid]
    template["Resources"] = kept
    template["Outputs"] = {
        name: body for name, body in template["Outputs"].items() if not references(body) - set(kept) - names
    }


@pytest.fixture(scope="module")
def network_stack(configs, rendered):
    return edited(configs, rendered, "ha-database", network_only)


def test_a_stack_without_a_database_has_no_database_chapters(network_stack):
    markdown, _ = network_stack
    contents = re.findall(r"^- \[\d+\. (.+?)\]", markdown, re.M)
    assert contents == [
        "Purpose and architecture",
        "Prerequisites",
        "Deploy",
        "Parameters",
        "Outputs",
        "Provisioning times",
        "When a resource takes too long",
        "Lifecycle: failed create, delete, re-create, failover",
        "Troubleshooting",
        "Security and compliance",
        "Cost estimate",
    ]
    # no engine, replication group, service, service-linked role, EIP or stateful resource to trouble over
    assert headings(section(markdown, "Troubleshooting")) == [
        "An export is still imported by another stack",
        "Template too large for an inline body",
    ]
    assert "- Network: 6 subnets, 0 NAT gateway(s), 0 interface endpoint(s) and 0 gateway endpoint(s)." in markdown


def test_a_stack_without_iam_resources_needs_no_capabilities(network_stack):
    markdown, env = network_stack
    deploy = section(markdown, "Deploy")
    assert "`validate-template` prints the capabilities it needs: none.\n" in deploy
    creates = [c for c in invocations(deploy) if c.operation in ("create-change-set", "deploy")]
    assert len(creates) == 3 and all("--capabilities" not in c.options for c in creates)
    assert "| Capabilities | none |" in markdown
    assert "### Requires capabilities" not in markdown
    iam = section(markdown, "Security and compliance").split("Identity and access:\n\n", 1)[1]
    assert iam.startswith("- No IAM roles.\n- Wildcard actions or resources in inline policies: none.\n")
    assert_commands_hold(markdown, env)


def test_a_stack_without_stateful_resources_keeps_nothing_and_warns_of_no_replacement(network_stack):
    markdown, _ = network_stack
    deploy = section(markdown, "Deploy")
    update = deploy.split("### Update\n\n", 1)[1].split("\n", 1)[0]
    assert update == "Rebuild (`python build.py`), then upload and review a change set the same way. "
    assert "What stays behind by design" not in deploy
    assert "### A change set replaces a stateful resource" not in markdown
    assert "### Parameters from other stacks" not in deploy and "### Deploy order" not in deploy


# -- the Deploy chapter's delete steps ---------------------------------------------------------


def test_deletion_protection_on_at_create_adds_a_delete_step(configs, rendered):
    def protect(template):
        template["Resources"]["AuroraCluster"]["Properties"]["DeletionProtection"] = True

    markdown, env = edited(configs, rendered, "ha-database", protect)
    delete = section(markdown, "Deploy").split("### Delete\n", 1)[1]
    assert numbered_steps(delete) == [
        "1. Keep the outputs (identifiers you need to find retained resources afterwards):",
        "2. No other stack may still import an export (the delete fails otherwise):",
        "3. Turn deletion protection off where the template turns it on:",
        "4. Delete and wait:",
    ]
    step = delete.split("3. Turn deletion protection off", 1)[1].split("4. Delete and wait", 1)[0]
    (modify,) = invocations(step)
    assert modify.operation == "modify-db-cluster" and "--no-deletion-protection" in modify.options
    assert modify.value("--db-cluster-identifier") == "streamflix-dev-aurora"
    assert "deletion protection: yes." in section(markdown, "Purpose and architecture")
    assert_commands_hold(markdown, env)


def test_a_stack_without_exports_has_no_import_check(configs, rendered):
    def unexport(template):
        for output in template["Outputs"].values():
            output.pop("Export", None)

    markdown, env = edited(configs, rendered, "ha-database", unexport)
    delete = section(markdown, "Deploy").split("### Delete\n", 1)[1]
    assert numbered_steps(delete) == [
        "1. Keep the outputs (identifiers you need to find retained resources afterwards):",
        "2. Delete and wait:",
    ]
    assert "list-imports" not in markdown
    assert "### An export is still imported by another stack" not in markdown
    assert_commands_hold(markdown, env)


# -- the Deploy chapter's wiring ------------------------------------------------------------------


def test_an_optional_parameter_from_a_stack_outside_the_environment(configs, rendered):
    def wire_elsewhere(template):
        template["Parameters"]["UpstreamQueueArn"] = {"Type": "String", "Default": "", "Description": "from elsewhere"}
        template["Metadata"]["StreamFlix"]["Wiring"] = {
            "UpstreamQueueArn": {"FromStack": "queue-stack", "Output": "QueueArn", "Resolve": "stack-output"}
        }

    books, env = runbooks(configs["dev"], with_edit(list(rendered["dev"].values()), "ha-database", wire_elsewhere))
    ha = section(books["ha-database"], "Deploy")
    # its source is not in the environment: no partner, so no deploy order, and nothing to read and fill
    assert "### Deploy order" not in ha
    (row,) = table_with(ha.split("### Parameters from other stacks", 1)[1], "From stack")
    assert row == {
        "Parameter": "UpstreamQueueArn",
        "From stack": "queue-stack",
        "Output": "QueueArn",
        "Value": "the output's value",
        "Needed": "optional",
        "Detected from": "template metadata (Metadata.StreamFlix.Wiring)",
    }
    assert "Read them from the deployed source stacks" not in ha
    # the pair's deploy order ends with the update of this stack, which names no source
    order = section(books["dr-recovery"], "Deploy").split("### Deploy order\n\n", 1)[1].split("\n\n", 1)[0]
    assert order.splitlines()[-1] == "6. update `streamflix-dev-ha-database` with `UpstreamQueueArn`."
    assert_commands_hold(books["ha-database"], env)


def wire_efs_replica(template: dict) -> None:
    """dr-recovery takes the EFS replica's id as a required parameter wired with ``efs-replication-destination``."""
    template["Parameters"]["PrimaryReplicaFileSystemId"] = {"Type": "String", "Description": "the EFS replica"}
    template["Metadata"]["StreamFlix"]["Wiring"]["PrimaryReplicaFileSystemId"] = {
        "FromStack": "dr-primary",
        "Output": "FileSystemId",
        "Resolve": "efs-replication-destination",
    }


def test_a_required_wire_whose_source_is_not_in_the_environment_keeps_its_placeholder(configs, rendered):
    """Beside a required wire from dr-primary, one from a stack this environment does not build: the
    fill commands replace only the first placeholder, so the 'still unfilled' check still warns
    (the sed once replaced both, the second with an unset variable, i.e. an empty value)."""
    def wire_from_outside(template):
        template["Parameters"]["LedgerQueueArn"] = {"Type": "String", "Description": "the ledger queue"}
        template["Metadata"]["StreamFlix"]["Wiring"]["LedgerQueueArn"] = {
            "FromStack": "ledger", "Output": "QueueArn", "Resolve": "stack-output",
        }

    markdown, env = edited(configs, rendered, "dr-recovery", wire_from_outside)
    fill = section(markdown, "Deploy").split("fill the parameter files", 1)[1]
    seds = [line for line in fill.splitlines() if line.startswith("sed ")]
    assert len(seds) == 2 and all("PRIMARY_DATABASE_INSTANCE_ARN" in line for line in seds)
    assert not any("LEDGER_QUEUE_ARN" in line or "<from ledger" in line for line in seds)
    assert 'grep -q "<from " "$FILLED" && echo "a parameter is still unfilled" >&2' in fill


def test_a_required_parameter_read_from_the_efs_replica_in_this_region(configs, rendered):
    markdown, env = edited(configs, rendered, "dr-recovery", wire_efs_replica)
    deploy = section(markdown, "Deploy")
    rows = {r["Parameter"]: r for r in table_with(deploy.split("### Parameters from other stacks", 1)[1], "From stack")}
    assert rows["PrimaryReplicaFileSystemId"]["Value"] == "its EFS replica in this region"
    assert rows["PrimaryReplicaFileSystemId"]["Needed"] == "required"
    fill = deploy.split("fill the parameter files", 1)[1]
    assert "PRIMARY_REPLICA_FILE_SYSTEM_ID_SOURCE=$(aws cloudformation describe-stacks --region eu-west-2" in fill
    replication = next(c for c in invocations(fill) if c.operation == "describe-replication-configurations")
    assert replication.value("--region") == "eu-west-2"
    assert replication.value("--file-system-id") == "$PRIMARY_REPLICA_FILE_SYSTEM_ID_SOURCE"
    assert replication.value("--query") == "Replications[0].Destinations[?Region=='us-east-1'].FileSystemId"
    assert "'\"$PRIMARY_REPLICA_FILE_SYSTEM_ID\"'" in fill
    assert (
        "2. create `streamflix-dev-dr-recovery` in us-east-1 from [`dr-recovery`](dr-recovery.md) (this stack), "
        "after filling `PrimaryDatabaseInstanceArn`, `PrimaryReplicaFileSystemId`;"
    ) in deploy.splitlines()
    assert_commands_hold(markdown, env)


# -- Troubleshooting ------------------------------------------------------------------------------


def test_a_service_in_a_cluster_outside_the_template_gets_no_service_entry(configs, rendered):
    def outside_cluster(template):
        template["Resources"]["Service"]["Properties"]["Cluster"] = "shared-cluster"

    markdown, _ = edited(configs, rendered, "ha-database", outside_cluster)
    trouble = headings(section(markdown, "Troubleshooting"))
    assert "The service does not stabilise (tasks keep stopping)" not in trouble
    # the rest of the chapter is still there
    assert "A service-linked role is missing" in trouble and "Elastic IP quota reached" in trouble


# -- Monitoring -----------------------------------------------------------------------------------


def test_subscribed_topics_and_an_existing_topic_are_named(configs, rendered):
    def subscribe(template):
        template["Resources"]["AlarmTopic"]["Properties"]["Subscription"] = [
            {"Protocol": "email", "Endpoint": "oncall@streamflix.example"}
        ]
        template["Parameters"]["ExistingAlarmTopicArn"] = {"Type": "String", "Default": ""}
        del template["Outputs"]["AlarmTopicArn"]

    markdown, _ = edited(configs, rendered, "ha-database", subscribe)
    monitoring = section(markdown, "Monitoring")
    first = monitoring.strip().split("\n", 1)[0]
    assert re.fullmatch(
        r"\d+ alarms, read from the template; they notify `AlarmTopic` \(1 subscription\(s\): oncall@streamflix\.example\)"
        r" and the existing topic given as the `ExistingAlarmTopicArn` parameter\. .*",
        first,
    ), first
    # no output names the topic: nothing to subscribe with
    assert "Subscribe another endpoint" not in monitoring and "sns subscribe" not in monitoring
    assert "- After the deploy, each alarm recipient confirms the SNS subscription e-mail (oncall@streamflix.example)." in (
        section(markdown, "Prerequisites")
    )


def test_another_endpoint_subscribes_to_the_topic_whose_arn_is_exported(configs, rendered):
    """With a second topic listed first and not exported, the subscribe command still reads the
    exported alarm topic's ARN (it once took the first topic whatever its output)."""
    def audit_topic_first(template):
        template["Resources"] = {"AuditTopic": {"Type": "AWS::SNS::Topic", "Properties": {}}, **template["Resources"]}

    markdown, env = edited(configs, rendered, "ha-database", audit_topic_first)
    monitoring = section(markdown, "Monitoring")
    assert "they notify `AuditTopic`, `AlarmTopic`" in monitoring
    subscribe = monitoring.split("Subscribe another endpoint", 1)[1]
    assert "OutputKey=='AlarmTopicArn'" in subscribe and "AuditTopic" not in subscribe
    assert_commands_hold(markdown, env)


def test_dashboards_and_logs_without_alarms(configs, rendered):
    def no_alarms(template):
        for rid in [r for r, body in template["Resources"].items() if body["Type"] == "AWS::CloudWatch::Alarm"]:
            del template["Resources"][rid]

    markdown, env = edited(configs, rendered, "ha-database", no_alarms)
    monitoring = section(markdown, "Monitoring").strip()
    assert monitoring.startswith("Dashboard `streamflix-dev-dashboard`: <https://eu-central-1.console.aws.amazon.com/")
    assert "alarms, read from the template" not in monitoring and "describe-alarms" not in monitoring
    assert "\nLog groups:\n" in monitoring
    assert_commands_hold(markdown, env)


# -- Security and compliance ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "summary"),
    [
        ("{not json", "- (not valid JSON)\n"),
        ("[1, 2]", "- (no fields to summarise)\n"),  # valid JSON, but not an object
        ("{}", "- (no fields to summarise)\n"),
        (json.dumps({"passed": True, "checks": [1, 2, 3], "nested": {"a": 1}}), "- passed: True\n- checks: 3 item(s)\n"),
    ],
)
def test_a_compliance_report_is_summarised_whatever_it_holds(configs, rendered, report, summary):
    books, _ = runbooks(configs["dev"], list(rendered["dev"].values()), files={"compliance/ha-database.json": report})
    security = section(books["ha-database"], "Security and compliance")
    assert security.startswith(
        "\nThe compliance report of this build (framework mapping and every check):\n\n"
        "- [`compliance/ha-database.json`](../compliance/ha-database.json)\n\n"
        "Summary of `compliance/ha-database.json`:\n\n" + summary + "\nEncryption at rest:\n"
    ), security[:400]


def test_a_report_other_than_json_is_linked_without_a_summary(configs, rendered):
    books, _ = runbooks(configs["dev"], list(rendered["dev"].values()), files={"compliance/ha-database.md": "# report"})
    security = section(books["ha-database"], "Security and compliance")
    assert security.startswith(
        "\nThe compliance report of this build (framework mapping and every check):\n\n"
        "- [`compliance/ha-database.md`](../compliance/ha-database.md)\n\nEncryption at rest:\n"
    )


def test_exposure_transit_and_access_findings_are_worded(configs, rendered):
    def expose(template):
        resources = template["Resources"]
        resources["AppSubnetA"]["Properties"]["MapPublicIpOnLaunch"] = True
        network = resources["Service"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        network["AssignPublicIp"] = "ENABLED"
        resources["OpenIngress"] = {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {"GroupId": {"Ref": "ServiceSecurityGroup"}, "IpProtocol": "tcp",
                           "FromPort": 5432, "ToPort": 5432, "CidrIpv6": "::/0"},
        }
        resources["AuroraClusterParameterGroup"]["Properties"]["Parameters"]["rds.force_ssl"] = 0
        resources["CacheReplicationGroup"]["Properties"]["TransitEncryptionEnabled"] = False
        resources["AuroraCluster"]["Properties"]["ManageMasterUserPassword"] = False
        task_role = resources["TaskRole"]["Properties"]
        task_role["Policies"] = [
            *(task_role.get("Policies") or []),
            {"PolicyName": "everything", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}},
        ]

    markdown, _ = edited(configs, rendered, "ha-database", expose)
    security = section(markdown, "Security and compliance")
    exposure = security.split("Network exposure:\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert "- `AppSubnetA` gives instances public IPs on launch." in exposure
    assert "- `OpenIngress` allows tcp 5432-5432 from anywhere." in exposure
    assert "- `Service` gives its tasks public IPs." in exposure
    assert not any("nothing is reachable" in line for line in exposure)
    transit = security.split("In transit:\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert "- `AuroraClusterParameterGroup` sets `rds.force_ssl=0`: the database accepts unencrypted connections." in transit
    assert "- `CacheReplicationGroup`: TransitEncryptionEnabled off, mode `required`." in transit
    iam = security.split("Identity and access:\n\n", 1)[1]
    assert "- Wildcard actions or resources in inline policies: `TaskRole` policy `everything`.\n" in iam
    assert "`AuroraCluster`: the master password is generated" not in iam
    assert "- `AuroraCluster`: applications connect with IAM database authentication (no password).\n" in iam


def test_a_publicly_accessible_instance_is_named(configs, rendered):
    def public(template):
        template["Resources"]["PostgresPrimaryInstance"]["Properties"]["PubliclyAccessible"] = True

    markdown, _ = edited(configs, rendered, "dr-primary", public)
    exposure = section(markdown, "Security and compliance").split("Network exposure:\n\n", 1)[1].split("\n\n", 1)[0]
    assert "- `PostgresPrimaryInstance` is publicly accessible." in exposure.splitlines()


# -- Purpose: key facts ---------------------------------------------------------------------------


def test_key_facts_name_the_replica_s_source_region_and_an_unstated_node_count(configs, rendered):
    def state(template):
        template["Resources"]["PostgresReplicaInstance"]["Properties"]["SourceRegion"] = "eu-west-2"
        del template["Resources"]["CacheReplicationGroup"]["Properties"]["NumCacheClusters"]

    markdown, _ = edited(configs, rendered, "dr-recovery", state)
    facts = section(markdown, "Purpose and architecture")
    assert (
        "- `PostgresReplicaInstance`: PostgreSQL (inherited) cross-region read replica of the instance in eu-west-2 "
        "`streamflix-dev-pg-replica` (db.t3.medium, Multi-AZ: no, deletion protection: no)."
    ) in facts
    assert re.search(r"^- `CacheReplicationGroup`: valkey [\d.]+ replication group `streamflix-dev-cache`, \? × cache\.", facts, re.M)


# -- Cost estimate and the runbook frame ----------------------------------------------------------


def test_unpriced_items_are_listed_and_the_total_marked_incomplete(configs, rendered):
    def unpriced(template):
        template["Resources"]["CacheReplicationGroup"]["Properties"]["CacheNodeType"] = "cache.x9.huge"

    markdown, _ = edited(configs, rendered, "ha-database", unpriced)
    costs = section(markdown, "Cost estimate")
    assert re.match(r"\n\*\*\$[\d,]+\.\d\d per month\*\* \(on-demand, USD, 730 hours a month\), \*\*incomplete\*\*: "
                    r"1 item\(s\) have no price or quantity\.", costs), costs[:300]
    not_priced = costs.split("Not priced (listed, not guessed):\n\n", 1)[1].split("\n\n", 1)[0]
    assert not_priced == (
        "- ElastiCache valkey cache.x9.huge nodes (`eu-central-1/elasticache/valkey/cache.x9.huge`): "
        "no price for eu-central-1/elasticache/valkey/cache.x9.huge in the price table"
    )
    assert re.search(r"^\| Monthly cost \| \$[\d,]+\.\d\d \+ unknown items \(", markdown, re.M)
    totals = {r["Stack"]: r["Monthly"] for r in table_with(costs, "Stack")}
    assert totals["streamflix-dev-ha-database"].endswith(" (incomplete)")


HA_ONLY_YAML = """\
name: haonly
tier: dev
environment_suffix: hao
ha_database: {}
"""


def test_a_one_stack_environment_has_no_deploy_order_and_no_all_stacks_table():
    config = parse_config(HA_ONLY_YAML, source="haonly.yaml")
    books, env = runbooks(config, render_environment(config))
    assert list(books) == ["ha-database"]
    markdown = books["ha-database"]
    costs = section(markdown, "Cost estimate")
    assert "All stacks of" not in costs and "| Stack | Region | Monthly |" not in costs
    assert "### Deploy order" not in markdown
    assert "> Generated by `python build.py --config <your config file>` from" in markdown
    assert_commands_hold(markdown, env)
