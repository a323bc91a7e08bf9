"""`build.py diff`: replacements and data loss, read from real rendered templates mutated the way people break them."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from streamflix import load_template, render
from streamflix.checks.rules.stateful_policies import STATEFUL_TYPES
from streamflix.cli import main
from streamflix.diff import CONDITIONAL_REPLACEMENTS, DATA_LOSS_TYPES, diff_templates, type_rules

REGION = "eu-central-1"


# -- helpers: realistic before/after templates --------------------------------------


def rerender(template):
    """Through the real renderer and the CFN-aware loader, as a previous build would be read.

    JSON keeps the library tests fast (YAML rendering costs ~0.25 s); the CLI
    tests below write and read YAML.
    """
    return load_template(render(template, "json"))


def _renamed(value, old, new):
    if isinstance(value, list):
        return [_renamed(item, old, new) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key == "Ref" and inner == old:
                out[key] = new
            elif key == "Fn::GetAtt" and isinstance(inner, list) and inner[0] == old:
                out[key] = [new, *inner[1:]]
            elif key == "DependsOn":
                out[key] = [new if d == old else d for d in inner] if isinstance(inner, list) else (new if inner == old else inner)
            else:
                out[key] = _renamed(inner, old, new)
        return out
    if isinstance(value, str):
        return value.replace("${" + old + "}", "${" + new + "}").replace("${" + old + ".", "${" + new + ".")
    return value


def rename_resource(template, old, new):
    """Rename a logical ID the way a refactor would: the resource and every reference to it."""
    template = _renamed(copy.deepcopy(template), old, new)
    template["Resources"] = {(new if k == old else k): v for k, v in template["Resources"].items()}
    return template


@pytest.fixture()
def dev(ha):
    """A private copy of the rendered dev template (plain dicts)."""
    return json.loads(json.dumps(ha["dev"]))


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


def diff(before, after):
    return diff_templates(rerender(before), rerender(after), region=REGION, stack="ha-database")


def change(stack_diff, logical_id):
    (found,) = [r for r in stack_diff.resources if r.logical_id == logical_id]
    return found


def write_previous(root, template, env="dev", name="ha-database.yaml"):
    folder = root / env
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(render(template))
    return root


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- the cases that lose data --------------------------------------------------------


def test_renaming_the_db_cluster_logical_id_is_removal_plus_addition(dev):
    result = diff(dev, rename_resource(dev, "AuroraCluster", "AuroraDatabase"))
    removed = change(result, "AuroraCluster")
    assert removed.action == "remove" and removed.data_loss
    assert any("AuroraDatabase" in note and "rename" in note for note in removed.notes)
    assert any("DeletionPolicy Snapshot" in note for note in removed.notes)
    assert change(result, "AuroraDatabase").action == "add"
    # the instances follow the cluster they belong to, but hold no data of their own
    writer = change(result, "AuroraWriterInstance")
    assert writer.replacement == "always" and not writer.data_loss
    assert result.data_loss == [removed]


def test_changing_the_cluster_engine_replaces_it(dev):
    after = copy.deepcopy(dev)
    props(after, "AuroraCluster")["Engine"] = "aurora-mysql"
    cluster = change(diff(dev, after), "AuroraCluster")
    assert cluster.replacement == "always" and cluster.data_loss
    assert [c.path for c in cluster.changes] == ["Properties.Engine"]
    assert "Engine changes" in cluster.reasons[0]
    # the identifier stays the same, so CloudFormation refuses the replacement outright
    assert any("custom-named" in note and "FAILS" in note for note in cluster.notes)


def test_changing_db_subnet_group_name_replaces_the_cluster(dev):
    after = copy.deepcopy(dev)
    props(after, "AuroraCluster")["DBSubnetGroupName"] = "streamflix-dev-data"
    cluster = change(diff(dev, after), "AuroraCluster")
    assert cluster.data_loss and cluster.reasons == ("DBSubnetGroupName changes and is create-only",)


def test_naming_the_subnet_group_replaces_the_cluster_through_its_ref(dev):
    after = copy.deepcopy(dev)
    props(after, "AuroraSubnetGroup")["DBSubnetGroupName"] = {"Fn::Sub": "streamflix-${EnvironmentSuffix}-data"}
    result = diff(dev, after)
    assert change(result, "AuroraSubnetGroup").replacement == "always"
    cluster = change(result, "AuroraCluster")
    assert cluster.data_loss
    assert cluster.reasons == ("DBSubnetGroupName changes with AuroraSubnetGroup and is create-only",)
    (follow_on,) = cluster.changes
    assert follow_on.path == "Properties.DBSubnetGroupName" and follow_on.via == ("AuroraSubnetGroup",)


def test_changing_the_replication_group_id_replaces_the_cache(dev):
    after = copy.deepcopy(dev)
    props(after, "CacheReplicationGroup")["ReplicationGroupId"] = {"Fn::Sub": "streamflix-${EnvironmentSuffix}-valkey"}
    result = diff(dev, after)
    cache = change(result, "CacheReplicationGroup")
    assert cache.replacement == "always" and cache.data_loss
    assert [c.path for c in cache.changes] == ["Properties.ReplicationGroupId"]
    # a new physical name: nothing about a custom-name failure
    assert not any("custom-named" in note for note in cache.notes)


def test_removing_the_cache_is_data_loss(dev):
    after = copy.deepcopy(dev)
    del after["Resources"]["CacheReplicationGroup"]
    (cache,) = diff(dev, after).data_loss
    assert (cache.logical_id, cache.action) == ("CacheReplicationGroup", "remove")


def test_type_change_is_a_replacement(dev):
    after = copy.deepcopy(dev)
    after["Resources"]["EventStream"]["Type"] = "AWS::Kinesis::StreamConsumer"
    stream = change(diff(dev, after), "EventStream")
    assert stream.replacement == "always" and stream.data_loss
    assert stream.reasons == ("Type changes from AWS::Kinesis::Stream to AWS::Kinesis::StreamConsumer",)


def test_changed_suffix_default_renames_every_custom_named_resource(dev):
    after = copy.deepcopy(dev)
    after["Parameters"]["EnvironmentSuffix"]["Default"] = "dev2"
    result = diff(dev, after)
    assert result.parameters.modified == ("EnvironmentSuffix",)
    lost = {r.logical_id for r in result.data_loss}
    assert {"AuroraCluster", "CacheReplicationGroup"} <= lost
    assert "EventStream" not in lost  # CloudFormation names the stream: the suffix is not part of it


def test_conditional_create_only_change_on_a_stateful_resource_is_a_risk(dev):
    after = copy.deepcopy(dev)
    props(after, "AuroraCluster")["GlobalClusterIdentifier"] = "streamflix-global"
    cluster = change(diff(dev, after), "AuroraCluster")
    assert cluster.replacement == "conditional" and cluster.data_loss
    assert "may require replacement" in cluster.reasons[0]


# -- the cases that do not ------------------------------------------------------------


def test_a_tag_change_is_an_in_place_update(dev):
    after = copy.deepcopy(dev)
    for tag in props(after, "AuroraCluster")["Tags"]:
        if tag["Key"] == "Owner":
            tag["Value"] = "dba-team"
    result = diff(dev, after)
    (cluster,) = result.resources
    assert cluster.replacement == "never" and not cluster.data_loss
    assert [(c.path, c.before, c.after) for c in cluster.changes] == [
        ("Properties.Tags[Owner]", "platform-data", "dba-team")
    ]


def test_a_non_stateful_replacement_is_not_data_loss(dev):
    after = copy.deepcopy(dev)
    props(after, "ServiceSecurityGroup")["GroupDescription"] = "Fargate tasks of the StreamFlix service"
    result = diff(dev, after)
    group = change(result, "ServiceSecurityGroup")
    assert group.replacement == "always" and not group.data_loss
    # the rules attached to the group follow it; the service is updated in place
    assert change(result, "ServiceToDatabaseIngress").replacement == "always"
    assert change(result, "Service").replacement == "never"
    assert result.data_loss == []


def test_removing_an_aurora_reader_is_not_data_loss_but_a_standalone_instance_is(dev):
    after = copy.deepcopy(dev)
    del after["Resources"]["AuroraReaderInstance1"]
    (reader,) = diff(dev, after).resources
    assert reader.action == "remove" and reader.stateful is False
    standalone = copy.deepcopy(dev)
    del props(standalone, "AuroraReaderInstance1")["DBClusterIdentifier"]
    assert diff(standalone, after).data_loss[0].logical_id == "AuroraReaderInstance1"


def test_identical_templates_have_no_changes(dev):
    result = diff(dev, copy.deepcopy(dev))
    assert not result.changed and result.data_loss == []


# -- the tables stay honest -----------------------------------------------------------


def test_every_sf1006_stateful_type_is_a_data_loss_type():
    assert set(STATEFUL_TYPES) <= set(DATA_LOSS_TYPES)


def test_conditional_table_names_real_properties():
    for resource_type, prop in CONDITIONAL_REPLACEMENTS:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema
        assert prop in schema["properties"], (resource_type, prop)


def test_schema_rules_come_from_the_registry():
    cluster = type_rules(REGION, "AWS::RDS::DBCluster")
    assert ("DBSubnetGroupName",) in cluster.create_only and ("Engine",) in cluster.conditional
    assert cluster.name_property == ("DBClusterIdentifier",)
    assert not type_rules(REGION, "AWS::Nope::Thing").known


# -- the command ----------------------------------------------------------------------


def test_cli_refuses_data_loss_unless_allowed(tmp_path, ha):
    """Previous build had the cluster under another logical ID: deploying now deletes that one."""
    previous = write_previous(tmp_path / "prev", rename_resource(ha["dev"], "AuroraCluster", "LegacyAuroraCluster"))
    refused = cli("diff", "--against", str(previous), "--env", "dev")
    assert refused.exit_code == 1
    assert "- LegacyAuroraCluster (AWS::RDS::DBCluster) DATA LOSS RISK" in refused.output
    assert "refusing (exit 1)" in refused.output
    allowed = cli("diff", "--against", str(previous), "--env", "dev", "--allow-replacement")
    assert allowed.exit_code == 0
    assert "DATA LOSS RISK" in allowed.output and "allowed by --allow-replacement" in allowed.output


def test_cli_replacement_without_data_loss_exits_0(tmp_path, ha):
    before = json.loads(json.dumps(ha["dev"]))
    props(before, "ServiceSecurityGroup")["GroupDescription"] = "an older description"
    result = cli("diff", "--against", str(write_previous(tmp_path, before)), "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "~ ServiceSecurityGroup (AWS::EC2::SecurityGroup) REPLACEMENT" in result.output
    assert "no data-loss risk" in result.output


def test_cli_shows_changed_values_in_the_templates_notation(tmp_path, ha):
    """Values are written as the YAML template has them (``streamflix.cfn.text_of``), cut at 70 characters."""
    before = json.loads(json.dumps(ha["dev"]))
    older = "an older description, " + "long " * 20
    props(before, "ServiceSecurityGroup")["GroupDescription"] = older
    props(before, "CacheReplicationGroup")["ReplicationGroupId"] = {"Fn::Sub": "streamflix-${EnvironmentSuffix}-valkey"}
    result = cli("diff", "--against", str(write_previous(tmp_path, before)), "--env", "dev", "--allow-replacement")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert f"Properties.GroupDescription: {older[:67]}... -> ECS service tasks" in lines
    assert ("Properties.ReplicationGroupId: !Sub 'streamflix-${EnvironmentSuffix}-valkey' -> "
            "!Sub 'streamflix-${EnvironmentSuffix}-cache'") in lines


def test_cli_unchanged_build(tmp_path, rendered):
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "ha-database.yaml").write_text(rendered["prod"]["ha-database"].text)
    # group-level selection works too: build.py --env prod diff --against DIR
    result = cli("--env", "prod", "diff", "--against", str(tmp_path))
    assert result.exit_code == 0
    assert "no changes" in result.output


def test_cli_json_is_deterministic_and_complete(tmp_path, ha):
    before = json.loads(json.dumps(ha["dev"]))
    del before["Resources"]["AuroraReaderInstance1"]
    props(before, "AuroraCluster")["Engine"] = "postgres"
    previous = write_previous(tmp_path, before)
    first = cli("diff", "--against", str(previous), "--json", "--stack", "ha-database")
    second = cli("diff", "--against", str(previous), "--json", "--stack", "ha-database")
    assert first.exit_code == 1 and first.output == second.output
    report = json.loads(first.output)
    assert report["data_loss"] == [
        {"stack": "ha-database", "logical_id": "AuroraCluster", "type": "AWS::RDS::DBCluster", "action": "modify"}
    ]
    (stack,) = report["stacks"]
    assert stack["summary"]["added"] == 1 and stack["summary"]["data_loss"] == 1
    cluster = next(r for r in stack["resources"] if r["logical_id"] == "AuroraCluster")
    assert cluster["changes"][0] == {"path": "Properties.Engine", "before": "postgres", "after": "aurora-postgresql", "via": []}


def test_a_stack_the_config_no_longer_renders_is_all_removed(tmp_path, ha):
    previous = write_previous(tmp_path, ha["dev"])
    other = json.loads(json.dumps(ha["dev"]))
    other["Metadata"]["StreamFlix"]["Blueprint"] = "retired-stack"
    write_previous(tmp_path, other, name="retired-stack.yaml")
    (tmp_path / "dev" / "notes.json").write_text('{"not": "a template"}\n')
    result = cli("diff", "--against", str(previous), "--json")
    assert result.exit_code == 1
    stacks = {s["stack"]: s for s in json.loads(result.output)["stacks"]}
    # the DR stacks are new against this previous build; the retired one is all removed
    assert set(stacks) == {"ha-database", "retired-stack", "dr-primary", "dr-recovery"}
    assert stacks["dr-primary"]["before_file"] is None
    assert stacks["retired-stack"]["after_file"] is None
    assert stacks["retired-stack"]["summary"]["removed"] == len(ha["dev"]["Resources"])
    # --stack limits the comparison to the named stacks
    assert cli("diff", "--against", str(previous), "--stack", "ha-database").exit_code == 0


def test_cli_against_a_folder_without_the_environment_exits_2(tmp_path):
    result = cli("diff", "--against", str(tmp_path), "--env", "staging")
    assert result.exit_code == 2
    assert "no folder staging/" in result.output


def test_cli_refuses_a_previous_build_it_cannot_read(tmp_path):
    (tmp_path / "dev").mkdir()
    empty = cli("diff", "--against", str(tmp_path))
    assert empty.exit_code == 2 and "holds no CloudFormation templates" in empty.output
    (tmp_path / "dev" / "ha-database.yaml").write_text("Resources: [unclosed\n")
    broken = cli("diff", "--against", str(tmp_path))
    assert broken.exit_code == 2 and "ha-database.yaml: cannot compare against it" in broken.output
    assert "Traceback" not in broken.output


# -- nested and array-item create-only paths ------------------------------------------


@pytest.fixture()
def dr_primary(dr):
    return json.loads(json.dumps(dr["dev"]["dr-primary"]))


def dr_diff(before, after):
    return diff_templates(rerender(before), rerender(after), region="eu-west-2", stack="dr-primary")


def test_a_nested_create_only_change_replaces_and_names_the_deepest_path(dr_primary):
    """EFS access point: only RootDirectory/CreationInfo/OwnerUid changed, so that is the reason given."""
    after = copy.deepcopy(dr_primary)
    props(after, "FileSystemAccessPoint")["RootDirectory"]["CreationInfo"]["OwnerUid"] = "1001"
    access_point = change(dr_diff(dr_primary, after), "FileSystemAccessPoint")
    assert access_point.replacement == "always"
    assert access_point.reasons == ("RootDirectory/CreationInfo/OwnerUid changes and is create-only",)
    assert [c.path for c in access_point.changes] == ["Properties.RootDirectory.CreationInfo.OwnerUid"]


def test_setting_a_nested_create_only_property_of_a_vpc_endpoint_replaces_it(dr_primary):
    (endpoint,) = [lid for lid, r in dr_primary["Resources"].items()
                   if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"].get("VpcEndpointType") == "Interface"][:1]
    after = copy.deepcopy(dr_primary)
    props(after, endpoint)["DnsOptions"] = {"PrivateDnsPreference": "VERIFIED_DOMAINS_ONLY"}
    changed = change(dr_diff(dr_primary, after), endpoint)
    assert changed.replacement == "always"
    assert changed.reasons == ("DnsOptions/PrivateDnsPreference changes and is create-only",)


def _one(resource_type, properties):
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"R": {"Type": resource_type, "Properties": properties}}}


def test_an_array_item_create_only_change_replaces():
    """``/properties/ReplicationInfoList/*/TargetCompressionType`` of AWS::MSK::Replicator."""
    item = {"SourceKafkaClusterArn": "arn:a", "TargetKafkaClusterArn": "arn:b", "TargetCompressionType": "NONE"}
    before = _one("AWS::MSK::Replicator", {"ReplicationInfoList": [item]})
    after = _one("AWS::MSK::Replicator", {"ReplicationInfoList": [{**item, "TargetCompressionType": "GZIP"}]})
    (replicator,) = diff_templates(before, after, region=REGION, stack="s").resources
    assert replicator.replacement == "always"
    assert replicator.reasons == ("ReplicationInfoList[*]/TargetCompressionType changes and is create-only",)


def test_an_added_array_item_changes_only_the_create_only_paths_it_sets():
    """A new item without ConsumerGroupReplication does not change ConsumerGroupOffsetSyncMode."""
    item = {"SourceKafkaClusterArn": "arn:a", "TargetKafkaClusterArn": "arn:b", "TargetCompressionType": "NONE"}
    before = _one("AWS::MSK::Replicator", {"ReplicationInfoList": [item]})
    after = _one("AWS::MSK::Replicator", {"ReplicationInfoList": [item, {**item, "SourceKafkaClusterArn": "arn:c"}]})
    (replicator,) = diff_templates(before, after, region=REGION, stack="s").resources
    assert "ReplicationInfoList[*]/SourceKafkaClusterArn changes and is create-only" in replicator.reasons
    assert not [reason for reason in replicator.reasons if "ConsumerGroup" in reason or "TopicReplication" in reason]


def test_an_item_that_leaves_the_create_only_path_unset_is_an_in_place_update():
    """``/properties/DbNodes/*/DbServerId`` of AWS::ODB::CloudVmCluster: a node without it is not a replacement."""
    before = _one("AWS::ODB::CloudVmCluster", {"DisplayName": "vm", "DbNodes": [{"DbServerId": "s1"}]})
    after = _one("AWS::ODB::CloudVmCluster", {"DisplayName": "vm", "DbNodes": [{"DbServerId": "s1"}, {}]})
    (cluster,) = diff_templates(before, after, region=REGION, stack="s").resources
    assert not [reason for reason in cluster.reasons if "DbServerId" in reason]


def test_putting_the_replica_source_behind_the_failover_switch_is_not_a_replacement(dr):
    after = json.loads(json.dumps(dr["prod"]["dr-recovery"]))
    before = copy.deepcopy(after)
    replica = before["Resources"]["PostgresReplicaInstance"]["Properties"]
    # the previous release: a literal source, which no stack update could ever remove
    replica["SourceDBInstanceIdentifier"] = {"Ref": "PrimaryDatabaseInstanceArn"}
    replica["SourceRegion"] = "eu-west-2"
    stack_diff = diff_templates(rerender(before), rerender(after), region="us-east-1", stack="dr-recovery")
    modified = change(stack_diff, "PostgresReplicaInstance")
    assert modified.replacement == "never" and not modified.data_loss
    # ...whereas pointing it at another source still replaces it
    other = copy.deepcopy(after)
    other["Resources"]["PostgresReplicaInstance"]["Properties"]["SourceDBInstanceIdentifier"]["Fn::If"][1] = "arn:other"
    replaced = change(diff_templates(rerender(after), rerender(other), region="us-east-1", stack="dr-recovery"),
                      "PostgresReplicaInstance")
    assert replaced.replacement == "always" and replaced.data_loss
