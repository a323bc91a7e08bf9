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


# -- the cache key covers every input that can change a verdict ---------------


def _package_copy(tmp_path, monkeypatch):
    """A copy of the installed streamflix package that the cache fingerprints instead."""
    import shutil

    copy = tmp_path / "streamflix"
    shutil.copytree(cache_module.package_root(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache_module, "package_root", lambda: copy)
    cache_module._fingerprint.cache_clear()
    return copy


def _stale_after(edit, tmp_path, monkeypatch):
    """Store a clean verdict, apply ``edit`` to the package copy, report whether the verdict is gone."""
    copy = _package_copy(tmp_path, monkeypatch)
    text = "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n"
    cache_module.store_verdict(text, "eu-central-1", True, [])
    assert is_cached(text, "eu-central-1", True)
    edit(copy)
    cache_module._fingerprint.cache_clear()
    try:
        return not is_cached(text, "eu-central-1", True)
    finally:
        cache_module._fingerprint.cache_clear()


def test_raising_a_floor_invalidates_cached_verdicts(tmp_path, monkeypatch):
    def raise_floor(copy):
        floors = copy / "floors.py"
        source = floors.read_text()
        assert "PROD_MIN_BACKUP_RETENTION_DAYS = 7" in source
        floors.write_text(source.replace("PROD_MIN_BACKUP_RETENTION_DAYS = 7", "PROD_MIN_BACKUP_RETENTION_DAYS = 14"))

    assert _stale_after(raise_floor, tmp_path, monkeypatch)


def test_a_rule_module_outside_checks_rules_invalidates_cached_verdicts(tmp_path, monkeypatch):
    def add_module(copy):
        (copy / "lifecycle.py").write_text("RULES = ()\n")

    assert _stale_after(add_module, tmp_path, monkeypatch)


def test_package_data_invalidates_cached_verdicts(tmp_path, monkeypatch):
    def edit_prices(copy):
        prices = copy / "catalog" / "prices.json"
        prices.write_text(prices.read_text() + " ")

    assert _stale_after(edit_prices, tmp_path, monkeypatch)


def test_the_fingerprint_ignores_bytecode_and_covers_dependency_versions(tmp_path, monkeypatch):
    copy = _package_copy(tmp_path, monkeypatch)
    before = cache_module.fingerprint_files(copy)
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "floors.cpython-311.pyc").write_bytes(b"\x00")
    assert cache_module.fingerprint_files(copy) == before
    versions = cache_module.dependency_versions()
    assert any(v.startswith("cfn-lint==") for v in versions)
    assert any(v.startswith("policy_sentry==") or v.startswith("policy-sentry==") for v in versions)
    base = cache_module._fingerprint.__wrapped__()
    monkeypatch.setattr(cache_module, "dependency_versions", lambda: versions + ["cfn-lint==9.9.9"])
    assert cache_module._fingerprint.__wrapped__() != base


def test_a_whole_build_leaves_the_shared_parse_untouched(configs, rendered):
    """Every reader of ``shared_template`` treats it as read-only (one parse per template per build)."""
    from streamflix.pipeline import assemble
    from streamflix.render import load_template, shared_template

    report, _ = assemble(configs["prod"], out_dir="unused", lint=False, skip_gates=("security_scan",))
    assert report.ok, report.findings
    for stack in rendered["prod"].values():
        assert shared_template(stack.text) == load_template(stack.text)
        assert shared_template(stack.text) is shared_template(stack.text)


def test_import_streamflix_does_not_load_the_pipeline():
    import subprocess
    import sys

    probe = (
        "import sys, streamflix; "
        "print(sorted(m for m in ('streamflix.pipeline', 'streamflix.config.models', 'streamflix.docs', 'troposphere') "
        "if m in sys.modules)); "
        "from streamflix import build, load_config, validate, render; import streamflix.pipeline; "
        "print(callable(streamflix.render) and streamflix.render.__name__ == 'render')"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout
