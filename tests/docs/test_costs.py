"""Monthly cost estimates: quantities from the template, prices only from the table, unknowns listed."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from decimal import Decimal

import pytest
from probe import probe_stack

from streamflix.catalog.prices import load_prices
from streamflix.docs.costs import estimate_stack
from streamflix.docs.stack import EnvironmentFacts
from streamflix.render import load_template

ENVS = ["dev", "staging", "prod"]
HOURS = 730


def cost_json(artifacts, env, blueprint="ha-database"):
    return json.loads(artifacts[env][f"costs/{blueprint}.json"])


@pytest.mark.parametrize("env", ENVS)
def test_total_is_the_sum_of_its_lines(env, artifacts):
    costs = cost_json(artifacts, env)
    priced = [Decimal(str(line["monthly_usd"])) for line in costs["lines"] if line["monthly_usd"] is not None]
    assert Decimal(str(costs["total_monthly_usd"])) == sum(priced)
    assert costs["complete"] is True and costs["unknown"] == []


@pytest.mark.parametrize("env", ENVS)
def test_every_line_traces_to_one_price_entry(env, artifacts):
    table = load_prices()
    for line in cost_json(artifacts, env)["lines"]:
        entry = table.lookup(line["region"], line["sku"])
        assert entry is not None, line
        assert line["price_reference"] == entry.reference == f"{line['region']}/{line['sku']}"
        assert line["unit_price_usd"] == entry.usd and line["unit"] == entry.unit
        assert (line["price_source"], line["price_date"]) == (entry.source, entry.date)
        expected = (Decimal(str(line["quantity"])) * Decimal(str(entry.usd))).quantize(Decimal("0.01"))
        assert Decimal(str(line["monthly_usd"])) == expected


def quantity(costs, sku):
    return sum(Decimal(str(line["quantity"])) for line in costs["lines"] if line["sku"] == sku)


@pytest.mark.parametrize("env", ENVS)
def test_quantities_are_read_from_the_template(env, artifacts, ha):
    costs, template = cost_json(artifacts, env), ha[env]
    resources = template["Resources"].values()
    by_type = lambda t: [r for r in resources if r["Type"] == t]  # noqa: E731
    assert quantity(costs, "ec2/nat-gateway/hour") == len(by_type("AWS::EC2::NatGateway")) * HOURS
    interface = [r for r in by_type("AWS::EC2::VPCEndpoint") if r["Properties"].get("VpcEndpointType") == "Interface"]
    assert (
        quantity(costs, "vpc/interface-endpoint/hour")
        == sum(len(r["Properties"]["SubnetIds"]) for r in interface) * HOURS
    )
    instances = by_type("AWS::RDS::DBInstance")
    instance_class = instances[0]["Properties"]["DBInstanceClass"]
    assert quantity(costs, f"rds/aurora-postgresql/{instance_class}") == len(instances) * HOURS
    group = by_type("AWS::ElastiCache::ReplicationGroup")[0]["Properties"]
    assert (
        quantity(costs, f"elasticache/{group['Engine']}/{group['CacheNodeType']}") == group["NumCacheClusters"] * HOURS
    )
    service = by_type("AWS::ECS::Service")[0]["Properties"]
    task = by_type("AWS::ECS::TaskDefinition")[0]["Properties"]
    assert quantity(costs, "fargate/arm64/vcpu") == service["DesiredCount"] * Decimal(task["Cpu"]) / 1024 * HOURS
    assert quantity(costs, "fargate/arm64/memory") == service["DesiredCount"] * Decimal(task["Memory"]) / 1024 * HOURS
    assert quantity(costs, "cloudwatch/alarm") == len(by_type("AWS::CloudWatch::Alarm"))
    assert quantity(costs, "kms/key") == len(by_type("AWS::KMS::Key"))
    assert {line["region"] for line in costs["lines"]} == {template["Metadata"]["StreamFlix"]["Region"]}


def test_prod_costs_more_than_dev(artifacts):
    assert (
        cost_json(artifacts, "prod")["total_monthly_usd"]
        > cost_json(artifacts, "staging")["total_monthly_usd"]
        > cost_json(artifacts, "dev")["total_monthly_usd"]
    )


def test_a_missing_price_is_reported_not_guessed(env_facts):
    stack = env_facts["prod"]["ha-database"]
    full = load_prices()
    without_nat = replace(full, entries=tuple(e for e in full.entries if e.sku != "ec2/nat-gateway/hour"))
    complete, partial = estimate_stack(stack, full), estimate_stack(stack, without_nat)
    assert complete.complete and not partial.complete
    missing = [line for line in partial.unknown]
    assert [line.sku for line in missing] == ["ec2/nat-gateway/hour"]
    assert (
        missing[0].monthly_usd is None and "no price for eu-central-1/ec2/nat-gateway/hour" in missing[0].unknown_reason
    )
    nat = next(line for line in complete.lines if line.sku == "ec2/nat-gateway/hour")
    assert partial.total_usd == complete.total_usd - nat.monthly_usd
    document = json.loads(partial.to_json())
    assert document["complete"] is False
    assert document["unknown"][0]["price_reference"] == "eu-central-1/ec2/nat-gateway/hour"


def test_a_region_without_prices_is_all_unknown(configs):
    text = textwrap.dedent("""
        AWSTemplateFormatVersion: '2010-09-09'
        Resources:
          Key: {Type: AWS::KMS::Key, Properties: {KeyPolicy: {Version: '2012-10-17', Statement: []}}}
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              BillingMode: PAY_PER_REQUEST
              AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
              KeySchema: [{AttributeName: id, KeyType: HASH}]
    """)
    stack = EnvironmentFacts.build(configs["dev"], [probe_stack("probe", "ap-southeast-2", text)])["probe"]
    estimate = estimate_stack(stack)
    assert estimate.total_usd == 0 and not estimate.complete
    reasons = {line.sku: line.unknown_reason for line in estimate.unknown}
    assert reasons["kms/key"] == "no price for ap-southeast-2/kms/key in the price table"
    assert "AWS::DynamoDB::Table is not in the price model" in reasons["unknown"]


@pytest.mark.parametrize("env", ENVS)
def test_dr_pair_costs_read_replica_storage_from_its_source_and_bill_transfer_where_it_leaves(env, artifacts, configs, dr):
    database = configs[env].dr.database
    az = "multi-az" if database.multi_az else "single-az"
    replica = dr[env]["dr-recovery"]["Resources"]["PostgresReplicaInstance"]["Properties"]
    assert "AllocatedStorage" not in replica and "Engine" not in replica  # a replica inherits both
    recovery = cost_json(artifacts, env, "dr-recovery")
    primary = cost_json(artifacts, env, "dr-primary")
    assert recovery["complete"] and primary["complete"]
    lines = {line["sku"]: line for line in recovery["lines"]}
    # The replica states no engine or storage: both come from the wired source instance.
    assert lines[f"rds/postgres/{database.instance_class}/{az}"]["quantity"] == HOURS
    assert lines[f"rds/gp3/{az}"]["quantity"] == database.allocated_storage_gib
    assert "inherited from PostgresPrimaryInstance in dr-primary" in lines[f"rds/gp3/{az}"]["basis"]
    assert lines["data-transfer/inter-region"]["region"] == configs[env].dr.primary_region
    primary_lines = {(line["sku"], line["region"]): line for line in primary["lines"]}
    assert primary_lines[(f"rds/postgres/{database.instance_class}/{az}", "eu-west-2")]["quantity"] == HOURS
    assert primary_lines[(f"rds/gp3/{az}", "eu-west-2")]["quantity"] == database.allocated_storage_gib
    # The EFS replication destination is dr-recovery's own file system (issue 10): billed there, with its
    # lifecycle policy, and not a second time by the primary, which pays the replication traffic.
    assert ("efs/standard", "us-east-1") not in primary_lines
    assert primary_lines[("efs/infrequent-access", "eu-west-2")]["quantity"] == 80
    assert primary_lines[("data-transfer/inter-region", "eu-west-2")]["quantity"] > 0
    assert lines["efs/standard"]["region"] == "us-east-1" and lines["efs/infrequent-access"]["quantity"] == 80


def test_the_shipped_price_table_is_honest_about_its_source():
    table = load_prices()
    assert set(table.regions) >= {"eu-central-1", "eu-west-2", "us-east-1"}
    for entry in table.entries:
        assert entry.usd > 0 and entry.date and entry.source
        assert "not fetched from the Price List API" in entry.source or "Price List API" in entry.source
    # Every SKU our presets use is priced in the HA region.
    for sku in (
        "rds/aurora-postgresql/db.t4g.medium",
        "rds/aurora-postgresql/db.r6g.large",
        "elasticache/valkey/cache.t4g.small",
        "elasticache/valkey/cache.t4g.medium",
        "elasticache/valkey/cache.r7g.large",
        "rds/postgres/db.t3.medium/multi-az",
        "elasticache/redis/cache.t3.micro",
    ):
        for region in ("eu-central-1", "eu-west-2", "us-east-1"):
            assert table.lookup(region, sku) is not None, (region, sku)


def test_costs_json_lists_assumptions_and_sources(artifacts):
    costs = cost_json(artifacts, "prod")
    assert {a["name"] for a in costs["assumptions"]} >= {"nat_processed_gb_per_gateway", "aurora_storage_gb"}
    assert costs["price_sources"] and all(s["date"] for s in costs["price_sources"])
    assert costs["stack_name"] == "streamflix-prod-ha-database"
    assert load_template(artifacts["prod"]["ha-database.yaml"])  # the estimate sits beside its template


def _caches(groups: dict[str, str], parameters: str = "") -> str:
    """A template of replication groups of one node type, {logical id: NumCacheClusters as YAML}."""
    resources = "".join(
        f"  {name}:\n    Type: AWS::ElastiCache::ReplicationGroup\n    Properties:\n"
        f"      ReplicationGroupDescription: probe\n      Engine: valkey\n"
        f"      CacheNodeType: cache.t4g.small\n      NumCacheClusters: {nodes}\n"
        for name, nodes in groups.items()
    )
    return f"AWSTemplateFormatVersion: '2010-09-09'\n{parameters}Resources:\n{resources}"


def _cache_line(configs, text: str, *, unknown: bool = False):
    stack = EnvironmentFacts.build(configs["dev"], [probe_stack("probe", "eu-central-1", text)])["probe"]
    estimate = estimate_stack(stack)
    (line,) = [line for line in (estimate.unknown if unknown else estimate.lines) if line.sku.startswith("elasticache/")]
    return estimate, line


def test_merged_lines_of_differently_sized_resources_state_each_basis(configs):
    """Two caches of one node type with 2 and 3 nodes merge into one line of 5 × 730 hours:
    the basis states both, not "2 × (3 nodes × 730 h)", which would not add up."""
    _, line = _cache_line(configs, _caches({"Small": "2", "Large": "3"}))
    assert line.resources == ["Small", "Large"] and line.quantity == 5 * 730
    assert line.basis == "2 nodes × 730 h + 3 nodes × 730 h"
    _, line = _cache_line(configs, _caches({"First": "2", "Second": "2"}))
    assert line.basis == "2 × (2 nodes × 730 h)"


def test_a_node_count_known_only_at_deploy_time_is_unknown_not_free(configs):
    """A replication group whose node count is a parameter without a default is not priced at $0
    (nor does it stop the build): its line is unknown and the estimate incomplete."""
    text = _caches({"Cache": "!Ref CacheNodes"}, parameters="Parameters:\n  CacheNodes: {Type: Number}\n")
    estimate, line = _cache_line(configs, text, unknown=True)
    assert line.monthly_usd is None and not estimate.complete
    assert line.unknown_reason == "node count not stated in the template (a deploy-time value)"
    assert line.basis == "? nodes × 730 h"


def test_only_gateway_endpoints_count_as_free(configs):
    """A Gateway endpoint (also by CloudFormation's default type) is free; a Gateway Load Balancer
    endpoint bills hourly and is not in the price model, so it is listed unknown, never as free."""
    text = (
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n"
        "  S3Endpoint: {Type: AWS::EC2::VPCEndpoint, Properties: {VpcId: vpc-1, ServiceName: com.amazonaws.eu-central-1.s3}}\n"
        "  Inspection:\n    Type: AWS::EC2::VPCEndpoint\n    Properties:\n      VpcId: vpc-1\n"
        "      VpcEndpointType: GatewayLoadBalancer\n      ServiceName: com.amazonaws.vpce.eu-central-1.vpce-svc-1\n"
    )
    stack = EnvironmentFacts.build(configs["dev"], [probe_stack("probe", "eu-central-1", text)])["probe"]
    estimate = estimate_stack(stack)
    assert estimate.not_billed == {"AWS::EC2::VPCEndpoint (Gateway)": 1}
    (line,) = estimate.unknown
    assert line.resources == ["Inspection"] and not estimate.complete
    assert line.unknown_reason == "GatewayLoadBalancer VPC endpoints are not in the price model"
