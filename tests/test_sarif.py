"""`build.py --sarif FILE`: one SARIF 2.1.0 log of every finding and suppression, valid against the published schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from streamflix import load_template, render
from streamflix.checks import validate
from streamflix.checks.scan import ScannedTemplate, scan_templates
from streamflix.checks.sarif import build_sarif, sarif_log, tool_of
from streamflix.checks.suppressions import suppressions_in
from streamflix.cli import main

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text("utf-8"))


def assert_valid_sarif(log: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert errors == [], "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def located(result: dict) -> tuple[str, int, int]:
    location = result["locations"][0]["physicalLocation"]
    return location["artifactLocation"]["uri"], location["region"]["startLine"], location["region"]["startColumn"]


@pytest.fixture(scope="module")
def broken(rendered):
    """The real dev DR primary with three real problems: an unencrypted database (checkov CKV_AWS_16 and SF),
    an invalid property value (cfn-lint) and an output that is no longer exported (SF1002)."""
    stack = rendered["dev"]["dr-primary"]
    template = load_template(stack.text)
    del template["Resources"]["PostgresPrimaryInstance"]["Properties"]["StorageEncrypted"]
    template["Resources"]["PostgresPrimaryInstance"]["Properties"]["BackupRetentionPeriod"] = 99
    del template["Outputs"]["VpcId"]["Export"]
    text = render(template)
    filename = "out/dev/dr-primary.yaml"
    findings = validate(text, region=stack.region, filename=filename, use_cache=False)
    findings += scan_templates([ScannedTemplate(filename, text)]).findings
    return text, filename, findings, suppressions_in(load_template(text), filename)


def test_every_finding_and_suppression_is_a_located_result_of_its_tool(broken):
    text, filename, findings, suppressions = broken
    assert {tool_of(f.rule) for f in findings} == {"cfn-lint", "streamflix", "checkov"}
    log = sarif_log(findings, suppressions, {"dr-primary.yaml": text}, tools=["cfn-lint", "streamflix", "checkov"],
                    environment="dev")
    assert_valid_sarif(log)
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert list(runs) == ["cfn-lint", "streamflix", "checkov"]
    lines = text.splitlines()
    for finding in findings:
        run = runs[tool_of(finding.rule)]
        matches = [r for r in run["results"] if r["ruleId"] == finding.rule and r["message"]["text"] == finding.message
                   and "suppressions" not in r]
        assert matches, finding
        uri, line, column = located(matches[0])
        assert (uri, line) == (filename, finding.line)
        assert column == (finding.column or len(lines[line - 1]) - len(lines[line - 1].lstrip()) + 1)
        assert run["tool"]["driver"]["rules"][matches[0]["ruleIndex"]]["id"] == finding.rule
    # cfn-lint and our rules know the column; checkov points at the resource's first character
    assert all(f.column >= 1 for f in findings if tool_of(f.rule) != "checkov")
    suppressed = [r for run in log["runs"] for r in run["results"] if "suppressions" in r]
    assert len(suppressed) == len(suppressions) > 0
    for result, suppression in zip(sorted(suppressed, key=lambda r: (r["ruleId"], located(r))), sorted(
            suppressions, key=lambda s: (s.check, s.resource))):
        assert result["suppressions"] == [{"kind": "inSource", "justification": suppression.reason}]
        _, line, column = located(result)
        assert lines[line - 1].strip() == f"{suppression.resource}:" and column == 3


def test_the_streamflix_run_describes_its_rules(broken):
    text, _, findings, _ = broken
    log = sarif_log([f for f in findings if tool_of(f.rule) == "streamflix"], [], {"dr-primary.yaml": text},
                    tools=["streamflix"], environment="dev")
    (run,) = log["runs"]
    assert run["results"] and all(rule["shortDescription"]["text"] for rule in run["tool"]["driver"]["rules"])
    assert run["automationDetails"] == {"id": "streamflix/dev/streamflix/"}


def test_a_finding_of_a_tool_that_did_not_run_is_an_error(broken):
    text, _, findings, _ = broken
    with pytest.raises(ValueError, match="checkov did not run"):
        sarif_log(findings, [], {"dr-primary.yaml": text}, tools=["cfn-lint", "streamflix"], environment="dev")


def test_cli_writes_one_valid_log_for_a_clean_build_and_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for name in ("a.sarif", "b.sarif"):
        result = runner.invoke(main, ["--env", "dev", "--out", "out", "--sarif", name], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    first, second = (tmp_path / "a.sarif").read_bytes(), (tmp_path / "b.sarif").read_bytes()
    assert first == second and str(tmp_path).encode() not in first
    log = json.loads(first)
    assert_valid_sarif(log)
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert set(runs) == {"cfn-lint", "streamflix", "checkov"}
    assert runs["cfn-lint"]["results"] == [] and runs["streamflix"]["results"] == []
    # a clean build still reports its suppressions, each with its reason, at a file the build wrote
    suppressed = runs["checkov"]["results"]
    assert suppressed and all(r["suppressions"][0]["justification"] for r in suppressed)
    for result in suppressed:
        uri, line, _ = located(result)
        assert (tmp_path / uri).is_file() and line > 1


def test_cli_without_lint_or_scan_has_no_run_for_them(tmp_path):
    path = tmp_path / "check.sarif"
    result = CliRunner().invoke(main, ["--env", "dev", "--check", "--no-lint", "--no-scan", "--sarif", str(path)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    log = json.loads(path.read_text())
    assert_valid_sarif(log)
    assert [run["tool"]["driver"]["name"] for run in log["runs"]] == ["streamflix"]


def test_build_sarif_reads_the_reports_findings(tmp_path, configs):
    from streamflix import pipeline

    report = pipeline.build(configs["dev"], out_dir=tmp_path, stacks=["ha-database"], lint=False, skip_gates=("security_scan",))
    log = build_sarif(report, lint=False, scan=False)
    assert_valid_sarif(log)
    assert [run["tool"]["driver"]["name"] for run in log["runs"]] == ["streamflix"]
