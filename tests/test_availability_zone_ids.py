"""Finding 5 (issue 10): subnets placed by AZ ID, not by position in the account's AZ list.

``network.availability_zone_ids`` renders each subnet's ``AvailabilityZoneId``; the model
refuses a malformed ID, the wrong count and another region's IDs; the presets stay
positional (switching a deployed stack replaces every subnet, which ``diff`` refuses).
"""

from __future__ import annotations

import json

import pytest

from streamflix import load_template, parse_config, render_environment
from streamflix.catalog.limits import az_id_prefix
from streamflix.config.loader import preset_path
from streamflix.diff import diff_templates
from streamflix.errors import ConfigError

HA_IDS = ["euc1-az1", "euc1-az2", "euc1-az3"]
PRIMARY_IDS = ["euw2-az1", "euw2-az2", "euw2-az3"]
RECOVERY_IDS = ["use1-az1", "use1-az2", "use1-az4"]  # not use1-az3: current instance classes are missing there


def _prod_with_ids(ha=HA_IDS, primary=PRIMARY_IDS, recovery=RECOVERY_IDS) -> str:
    """The prod preset, renamed, with AZ IDs under each network (its text edited, comments kept)."""
    text = preset_path("prod").read_text().replace("name: prod\n", "name: azids\n", 1)
    text = text.replace("environment_suffix: prod\n", "environment_suffix: azids\n", 1)
    for cidr, ids in (("10.40.0.0/16", ha), ("10.41.0.0/16", primary), ("10.42.0.0/16", recovery)):
        network = f"    vpc_cidr: {cidr}\n"
        assert text.count(network) == 1
        text = text.replace(network, f"{network}    availability_zone_ids: {json.dumps(ids)}\n")
    return text


def _refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="azids.yaml")
    return str(caught.value)


@pytest.fixture(scope="module")
def az_id_stacks():
    return {stack.blueprint: stack for stack in render_environment(parse_config(_prod_with_ids(), source="azids.yaml"))}


def test_region_prefixes():
    assert [az_id_prefix(r) for r in ("us-east-1", "eu-central-1", "eu-west-2", "ap-northeast-1", "us-gov-west-1")] == [
        "use1", "euc1", "euw2", "apne1", "usgw1"]
    assert az_id_prefix("not-a-region") is None


def test_malformed_az_id_is_refused():
    message = _refused(_prod_with_ids(ha=["euc1-az1", "eu-central-1b", "euc1-az3"]))
    assert "ha_database.network.availability_zone_ids" in message and "'eu-central-1b' is not an AZ ID" in message


def test_count_must_match_az_count():
    message = _refused(_prod_with_ids(primary=["euw2-az1", "euw2-az2"]))
    assert "dr.primary_network.availability_zone_ids" in message
    assert "names 2 AZ IDs for az_count 3" in message and "exactly 3 AZ IDs" in message


def test_duplicates_are_refused():
    message = _refused(_prod_with_ids(ha=["euc1-az1", "euc1-az1", "euc1-az2"]))
    assert "listed more than once: euc1-az1" in message


def test_ids_of_another_region_are_refused():
    # the recovery network lives in us-east-1, not eu-west-2
    message = _refused(_prod_with_ids(recovery=PRIMARY_IDS))
    assert "dr.recovery_network.availability_zone_ids" in message
    assert "euw2-az1, euw2-az2, euw2-az3 are not in us-east-1, whose AZ IDs start with use1-" in message
    assert "use1-az1, use1-az2, ..." in message


def test_subnets_render_az_ids_and_aurora_follows_them(az_id_stacks, findings_of):
    ha = load_template(az_id_stacks["ha-database"].text)
    subnets = {k: r["Properties"] for k, r in ha["Resources"].items() if r["Type"] == "AWS::EC2::Subnet"}
    assert len(subnets) == 9
    assert {k: p["AvailabilityZoneId"] for k, p in subnets.items() if k.startswith("Data")} == {
        "DataSubnetA": "euc1-az1", "DataSubnetB": "euc1-az2", "DataSubnetC": "euc1-az3"}
    assert not any("AvailabilityZone" in p for p in subnets.values())
    # an Aurora instance is placed by zone name: the one the slot's AZ ID maps to in this account
    writer = ha["Resources"]["AuroraWriterInstance"]["Properties"]
    assert writer["AvailabilityZone"] == {"Fn::GetAtt": ["DataSubnetA", "AvailabilityZone"]}
    recovery = load_template(az_id_stacks["dr-recovery"].text)
    assert sorted(r["Properties"]["AvailabilityZoneId"] for k, r in recovery["Resources"].items()
                  if k.startswith("AppSubnet") and r["Type"] == "AWS::EC2::Subnet") == RECOVERY_IDS
    for stack in az_id_stacks.values():
        assert findings_of(stack) == [], stack.blueprint


def test_presets_stay_positional(ha, dr):
    for template in (ha["prod"], dr["prod"]["dr-recovery"]):
        subnet = template["Resources"]["AppSubnetA"]["Properties"]
        assert subnet["AvailabilityZone"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
        assert "AvailabilityZoneId" not in subnet


def test_diff_refuses_switching_a_deployed_stack(az_id_stacks, ha):
    after = load_template(az_id_stacks["ha-database"].text)
    stack = diff_templates(ha["prod"], after, region="eu-central-1", stack="ha-database")
    subnet = next(r for r in stack.resources if r.logical_id == "AppSubnetA")
    assert subnet.replacement == "always"
    assert any("same CidrBlock" in refusal and "InvalidSubnet.Conflict" in refusal for refusal in subnet.refusals)
