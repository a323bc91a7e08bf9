"""Compliance reports: derived from the rendered template, mapped to frameworks, deterministic."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from streamflix import parse_config, render_environment
from streamflix.compliance import CONTROLS, FRAMEWORKS, compliance_report, to_markdown
from streamflix.pipeline import render_artifacts

REASON = "Decommissioning drill signed off by the DPO, ticket SEC-1234"


@pytest.fixture(scope="module")
def artifacts(configs, rendered):
    return {env: render_artifacts(configs[env], list(stacks.values())) for env, stacks in rendered.items()}


def report_of(artifacts, env):
    return json.loads(artifacts[env]["compliance/ha-database.json"])


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_gets_markdown_and_json(artifacts, rendered, env):
    report = report_of(artifacts, env)
    text = rendered[env]["ha-database"].text
    assert report["template_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert (report["environment"], report["tier"], report["region"]) == (env, env, "eu-central-1")
    assert [c["id"] for c in report["controls"]] == [c.id for c in CONTROLS]
    assert artifacts[env]["compliance/ha-database.md"] == to_markdown(report)


def test_output_is_deterministic(configs, rendered, artifacts):
    again = render_artifacts(configs["prod"], render_environment(configs["prod"]))
    assert again == artifacts["prod"]


def test_controls_are_mapped_to_every_framework(artifacts):
    controls = {c["id"]: c for c in report_of(artifacts, "prod")["controls"]}
    assert set(controls["encryption-at-rest"]["references"]) == set(FRAMEWORKS)
    assert controls["encryption-at-rest"]["references"]["HIPAA"] == ["164.312(a)(2)(iv)"]
    assert controls["encryption-in-transit"]["references"]["HIPAA"][0] == "164.312(e)(1)"
    assert "164.308(a)(7)(ii)(A)" in controls["backups-and-retention"]["references"]["HIPAA"]
    assert controls["network-isolation"]["references"]["SOC 2"] == ["CC6.6"]
    assert controls["data-residency"]["references"]["GDPR"] == ["Art. 44", "Art. 45", "Art. 46"]


def test_prod_meets_every_control_with_evidence(artifacts):
    for control in report_of(artifacts, "prod")["controls"]:
        assert control["status"] == "met", control
        assert control["resources"], control["id"]
    evidence = {
        (c["id"], r["resource"]): r["evidence"] for c in report_of(artifacts, "prod")["controls"] for r in c["resources"]
    }
    assert evidence[("encryption-in-transit", "AuroraCluster")] == "parameter group AuroraClusterParameterGroup: rds.force_ssl = 1"
    assert evidence[("multi-az", "AuroraCluster")] == "3 instances over 3 availability zones"
    assert evidence[("backups-and-retention", "AuroraCluster")].startswith("automated backups 14 days")
    # template values in the rendered template's notation (streamflix.cfn.text_of)
    assert evidence[("encryption-at-rest", "AuroraCluster")] == (
        "StorageEncrypted: true; KmsKeyId: !Ref DataKey; MasterUserSecret.KmsKeyId: !Ref DataKey"
    )
    assert evidence[("logging-and-retention", "FlowLog")] == "ALL traffic of !Ref Vpc to !Ref FlowLogGroup"
    assert evidence[("logging-and-retention", "AuroraCluster")] == "log exports: postgresql"
    # names read out of a !Sub ARN or service name are the names, not notation
    assert evidence[("least-privilege", "DatabaseMonitoringRole")].endswith("managed: AmazonRDSEnhancedMonitoringRole")
    assert evidence[("network-isolation", "VPC endpoints")] == (
        "AWS APIs reached privately: api, dkr, kinesis-streams, kms, logs, monitoring, s3, secretsmanager, sts"
    )


def test_dev_shows_where_it_is_weaker_than_prod(artifacts):
    controls = {c["id"]: c for c in report_of(artifacts, "dev")["controls"]}
    assert controls["backups-and-retention"]["status"] == "gaps"
    weak = [r["resource"] for r in controls["backups-and-retention"]["resources"] if not r["meets"]]
    assert weak == ["AuroraCluster"]
    assert "| AuroraCluster | AWS::RDS::DBCluster | automated backups 1 days" in to_markdown(report_of(artifacts, "dev"))


def test_report_reads_the_template_not_the_config(rendered):
    text = rendered["prod"]["ha-database"].text.replace("StorageEncrypted: true", "StorageEncrypted: false", 1)
    controls = {c["id"]: c for c in compliance_report(text, "ha-database.yaml")["controls"]}
    cluster = next(r for r in controls["encryption-at-rest"]["resources"] if r["resource"] == "AuroraCluster")
    assert controls["encryption-at-rest"]["status"] == "gaps"
    assert not cluster["meets"] and "StorageEncrypted: false" in cluster["evidence"]


def test_security_overrides_head_the_report(configs):
    data = configs["prod"].model_dump(mode="json")
    data["ha_database"]["database"]["deletion_protection"] = False
    data["security_overrides"].append({"rule": "deletion-protection", "reason": REASON})
    config = parse_config(yaml.safe_dump(data), source="override.yaml")
    artifacts = render_artifacts(config, render_environment(config))
    first_lines = artifacts["compliance/ha-database.md"].splitlines()[:4]
    assert first_lines[2].startswith("- Security overrides: ")
    assert f"**deletion-protection** ({REASON})" in first_lines[2]
    assert "plaintext-listener" not in first_lines[2]  # prod serves HTTPS: no plain-HTTP exception
    assert {"rule": "deletion-protection", "reason": REASON} in json.loads(
        artifacts["compliance/ha-database.json"]
    )["security_overrides"]


def test_a_stack_outside_the_eu_is_a_residency_gap(configs):
    data = configs["staging"].model_dump(mode="json")
    data["ha_database"].update(region="us-east-2", data_residency="unrestricted")
    config = parse_config(yaml.safe_dump(data), source="us.yaml")
    (stack,) = render_environment(config, ["ha-database"])
    residency = next(c for c in compliance_report(stack.text, stack.filename)["controls"] if c["id"] == "data-residency")
    assert residency["status"] == "gaps"
    assert "deployed to us-east-2 (outside the EU)" in residency["resources"][0]["evidence"]
    assert "Art. 46 safeguards" in residency["resources"][0]["evidence"]
