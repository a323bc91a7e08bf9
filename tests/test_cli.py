"""`python build.py`: exit codes, atomic writes, byte-identical rebuilds."""

from __future__ import annotations

import errno
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamflix import load_template, pipeline
from streamflix.checks import Finding
from streamflix.cli import main
from streamflix.errors import WriteError
from streamflix.render import write_tree_atomically

render_module = importlib.import_module("streamflix.render")  # the package exports a function of that name
ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_build_py_default_builds_dev(tmp_path, rendered, findings_of, preset_build):
    """The quick start, end to end in its own process (cfn-lint and checkov on). The run's shared
    verdicts of the dev templates are computed first, so this process reads them from the verdict
    cache (as a second build on a user's machine does) instead of linting and scanning them again."""
    for stack in rendered["dev"].values():
        assert findings_of(stack) == []
    preset_build("dev")  # its checkov verdicts
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--out", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "ha-database" in result.stderr and "eu-central-1" in result.stderr
    template = load_template((tmp_path / "dev" / "ha-database.yaml").read_text())
    assert template["Metadata"]["StreamFlix"]["Environment"] == "dev"


def test_same_config_gives_byte_identical_files(tmp_path, preset_build):
    assert run("--env", "staging", "--out", str(tmp_path / "b"), "--no-lint").exit_code == 0
    first = (preset_build("staging")[0] / "staging" / "ha-database.yaml").read_bytes()  # the run's earlier build
    assert first == (tmp_path / "b" / "staging" / "ha-database.yaml").read_bytes()


def test_bad_config_exits_2_and_writes_nothing(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("name: bad\ntier: dev\nenvironment_suffix: bad\nha_database:\n  database:\n    engine_version: '15.4'\n")
    out = tmp_path / "out"
    result = run("--config", str(config), "--out", str(out))
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "ha_database.database.engine_version = '15.4'" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_unknown_stack_exits_2(tmp_path):
    result = run("--stack", "nope", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "allowed: dr-primary, dr-recovery, ha-database" in result.output


def test_env_and_config_together_is_a_usage_error(tmp_path):
    result = run("--env", "dev", "--config", str(tmp_path / "x.yaml"))
    assert result.exit_code == 2


def test_json_format(tmp_path):
    assert run("--format", "json", "--out", str(tmp_path), "--no-lint").exit_code == 0
    data = json.loads((tmp_path / "dev" / "ha-database.json").read_text())
    assert next(iter(data)) == "AWSTemplateFormatVersion"


def test_findings_exit_1_and_keep_previous_files(tmp_path, monkeypatch):
    assert run("--out", str(tmp_path), "--no-lint").exit_code == 0
    good = (tmp_path / "dev" / "ha-database.yaml").read_bytes()

    def one_finding(text, *, region, filename, lint=True):
        return [Finding(filename, 7, "E9999", "error", "injected finding")]

    monkeypatch.setattr(pipeline, "validate", one_finding)
    result = run("--out", str(tmp_path), "--no-lint")
    assert result.exit_code == 1
    assert ".rejected/dev/ha-database.yaml:7 E9999 injected finding" in result.output
    assert (tmp_path / "dev" / "ha-database.yaml").read_bytes() == good
    assert (tmp_path / ".rejected" / "dev" / "ha-database.yaml").exists()


def test_schema_is_json_schema():
    result = run("schema")
    schema = json.loads(result.output)
    assert schema["additionalProperties"] is False
    assert "ha_database" in schema["properties"]


def test_catalog_show():
    result = run("catalog", "show", "--engine", "aurora-postgresql", "--region", "eu-central-1")
    assert "16.15" in result.output.split()
    assert "15.4" not in result.output.split()


def test_atomic_write_leaves_target_whole_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "env"
    write_tree_atomically(target, {"a.yaml": "old a\n", "b.yaml": "old b\n"})

    def failing_exchange(a, b):
        raise OSError(errno.ENOSPC, "No space left on device", str(b))

    monkeypatch.setattr(render_module, "_exchange", failing_exchange)
    with pytest.raises(WriteError, match="No space left on device"):
        write_tree_atomically(target, {"a.yaml": "new a\n"})
    assert (target / "a.yaml").read_text() == "old a\n"
    assert (target / "b.yaml").read_text() == "old b\n"
    assert [p.name for p in tmp_path.iterdir()] == ["env"]


def test_atomic_write_keeps_files_it_does_not_replace(tmp_path):
    target = tmp_path / "env"
    write_tree_atomically(target, {"a.yaml": "a\n", "b.yaml": "b\n"})
    write_tree_atomically(target, {"a.yaml": "a2\n"})
    assert (target / "a.yaml").read_text() == "a2\n"
    assert (target / "b.yaml").read_text() == "b\n"


def test_the_summary_says_how_each_regions_engine_versions_are_known(tmp_path, monkeypatch):
    """The shipped catalogue is one global list until `catalog refresh` runs with credentials."""
    from streamflix import cli

    monkeypatch.setattr(cli.console, "width", 200)  # one table row per line
    result = run("--out", str(tmp_path), "--no-lint", "--no-scan")
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("│ ")]
    assert [row.split("│")[1].strip() for row in rows] == ["dr-primary", "dr-recovery", "ha-database"]
    assert all(row.split("│")[-2].strip() == "global list" for row in rows), rows
