"""``diff`` knows updates CloudFormation refuses (issue 12 item 10): a major engine
upgrade without AllowMajorVersionUpgrade, and subnet groups moved under running clusters."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from streamflix.cli import main
from streamflix.diff import diff_templates


def _network(cidr: str, subnet: str, *, engine_version: str = "16.4", allow_major: bool = False) -> dict:
    cluster = {"Engine": "aurora-postgresql", "EngineVersion": engine_version, "DBSubnetGroupName": {"Ref": "DbSubnets"}}
    if allow_major:
        cluster["AllowMajorVersionUpgrade"] = True
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}},
            "PrivateSubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": subnet}},
            "DbSubnets": {"Type": "AWS::RDS::DBSubnetGroup",
                          "Properties": {"DBSubnetGroupDescription": "db", "SubnetIds": [{"Ref": "PrivateSubnetA"}]}},
            "Cluster": {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot",
                        "Properties": cluster},
        }
    }


def _diff(before, after):
    return diff_templates(before, after, region="eu-central-1", stack="ha-database")


def test_a_vpc_cidr_change_moving_the_subnet_group_under_a_cluster_is_refused():
    stack = _diff(_network("10.0.0.0/16", "10.0.1.0/24"), _network("10.9.0.0/16", "10.9.1.0/24"))
    group = next(r for r in stack.resources if r.logical_id == "DbSubnets")
    assert group.refusals and "Cluster" in group.refusals[0] and "PrivateSubnetA" in group.refusals[0]
    assert not next(r for r in stack.resources if r.logical_id == "Vpc").refusals


def test_a_major_upgrade_needs_allow_major_version_upgrade():
    refused = _diff(_network("10.0.0.0/16", "10.0.1.0/24", engine_version="15.8"), _network("10.0.0.0/16", "10.0.1.0/24"))
    cluster = next(r for r in refused.resources if r.logical_id == "Cluster")
    assert cluster.refusals and "from major version 15 to 16" in cluster.refusals[0]
    allowed = _diff(_network("10.0.0.0/16", "10.0.1.0/24", engine_version="15.8"),
                    _network("10.0.0.0/16", "10.0.1.0/24", allow_major=True))
    assert not next(r for r in allowed.resources if r.logical_id == "Cluster").refusals
    minor = _diff(_network("10.0.0.0/16", "10.0.1.0/24", engine_version="16.2"), _network("10.0.0.0/16", "10.0.1.0/24"))
    assert not any(r.refusals for r in minor.resources)


def test_diff_exits_1_for_a_vpc_move_of_the_shipped_preset(tmp_path):
    # issue 12 item 10: `diff` said safe (exit 0) for a VPC CIDR change under running clusters
    config = tmp_path / "prod.yaml"
    from streamflix.config.loader import preset_path

    config.write_text(preset_path("prod").read_text().replace("10.40.0.0/16", "10.41.0.0/16"))
    previous = tmp_path / "last-release"
    shutil.copytree(preset_path("prod").parents[3] / "out" / "prod", previous / "prod")
    result = CliRunner().invoke(main, ["diff", "--against", str(previous), "--config", str(config),
                                       "--stack", "ha-database", "--allow-replacement"])
    assert result.exit_code == 1, result.output
    assert "UPDATE REFUSED" in result.output and "refused: its subnets" in result.output
    assert "[bold" not in result.output


def _cluster(engine_version: str, auto_minor: bool | None) -> dict:
    props = {"Engine": "aurora-postgresql", "EngineVersion": engine_version}
    if auto_minor is not None:
        props["AutoMinorVersionUpgrade"] = auto_minor
    return {"Resources": {"Cluster": {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Snapshot",
                                      "UpdateReplacePolicy": "Snapshot", "Properties": props}}}


def test_an_engine_downgrade_is_refused():
    cluster = _diff(_cluster("16.15", False), _cluster("16.9", False)).resources[0]
    assert cluster.refusals and "goes down from 16.15 to 16.9" in cluster.refusals[0]
    upgrade = _diff(_cluster("16.9", False), _cluster("16.15", False)).resources[0]
    assert not upgrade.refusals and not upgrade.notes  # a deliberate minor upgrade, in place


def test_diff_says_what_auto_minor_upgrades_may_have_done():
    # finding 10: the template pinned 16.15 while RDS upgraded by itself (default on)
    switched_off = _diff(_cluster("16.15", None), _cluster("16.15", False)).resources[0]
    assert not switched_off.refusals and switched_off.replacement == "never"
    assert any("AutoMinorVersionUpgrade goes off while the template says 16.15" in n for n in switched_off.notes)
    bumped = _diff(_cluster("16.9", True), _cluster("16.15", False)).resources[0]
    assert any("may already be newer than 16.9" in n and "newer than 16.15" in n for n in bumped.notes)
