"""The cfn-lint runner and the verdict cache: real findings, and a cache that never lies."""

from __future__ import annotations

from streamflix.checks import cache as cache_module
from streamflix.checks import is_cached, validate
from streamflix.checks import lint as lint_module
from streamflix.checks.lint import run_cfn_lint
import streamflix.checks as checks_module


def test_a_deprecated_version_is_reported_at_its_cluster(rendered):
    text = rendered["dev"]["ha-database"].text.replace("EngineVersion: '16.15'", "EngineVersion: '15.4'")
    findings = run_cfn_lint(text, region="eu-central-1", filename="x.yaml")
    assert [(f.rule, f.severity) for f in findings] == [("W3690", "warning")]
    lines = text.splitlines()
    # cfn-lint points at the Properties block of the cluster that pins the version
    line = findings[0].line
    assert lines[line - 1].strip() == "Properties:"
    owner = next(row for row in reversed(lines[:line]) if row.startswith("  ") and not row.startswith("   "))
    assert owner == "  AuroraCluster:"
    assert str(findings[0]).startswith(f"x.yaml:{line} W3690 ")


def test_verdicts_are_cached_by_content_region_and_lint_flag(rendered, monkeypatch):
    text = rendered["staging"]["ha-database"].text + "\n"
    assert not is_cached(text, "eu-central-1", True)
    assert validate(text, region="eu-central-1", filename="a.yaml") == []
    assert is_cached(text, "eu-central-1", True)
    assert not is_cached(text, "eu-west-1", True)
    assert not is_cached(text, "eu-central-1", False)

    def must_not_run(*args, **kwargs):
        raise AssertionError("a cached template was checked again")

    monkeypatch.setattr(checks_module, "run_cfn_lint", must_not_run)
    monkeypatch.setattr(checks_module, "run_rules", must_not_run)
    assert validate(text, region="eu-central-1", filename="b.yaml") == []


def test_cached_findings_come_back_with_the_callers_file_name(rendered):
    text = rendered["dev"]["ha-database"].text.replace("EngineVersion: '16.15'", "EngineVersion: '15.4'")
    first = validate(text, region="eu-central-1", filename="one.yaml")
    second = validate(text, region="eu-central-1", filename="two.yaml")
    assert {f.rule for f in first} == {"W3690", "SF1004"}
    assert [(f.rule, f.line, f.message) for f in first] == [(f.rule, f.line, f.message) for f in second]
    assert {f.file for f in second} == {"two.yaml"}


def test_a_corrupt_cache_entry_is_ignored(rendered):
    text = rendered["dev"]["ha-database"].text + "\n\n"
    validate(text, region="eu-central-1", filename="a.yaml")
    cache_module._path(text, "eu-central-1", True).write_text("{not json")
    assert not is_cached(text, "eu-central-1", True)
    assert validate(text, region="eu-central-1", filename="a.yaml") == []


def test_rules_are_loaded_once_per_process():
    assert lint_module._rules() is lint_module._rules()
