"""`build.py --check`: out/<env>/ must be exactly what the config renders now; nothing is written."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from streamflix import load_config, manifest, pipeline
from streamflix.checks import Finding
from streamflix.cli import main
from streamflix.drift import compare_tree
from streamflix.render import write_tree_atomically


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def dev_build(preset_build):
    """The run's one real `build.py --env dev --no-lint` (conftest); tests get private copies of its out/."""
    return preset_build("dev")[0] / "dev"


@pytest.fixture
def built(dev_build):
    """``built(tmp_path)``: ``tmp_path/dev`` holding a byte-exact copy of a fresh dev build."""

    def copy(tmp_path):
        shutil.copytree(dev_build, tmp_path / "dev")
        return tmp_path / "dev"

    return copy


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_check_passes_on_a_fresh_build(built, tmp_path):
    env_dir = built(tmp_path)
    before = snapshot(env_dir)
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert snapshot(env_dir) == before


def test_check_catches_a_hand_edit(built, tmp_path):
    env_dir = built(tmp_path)
    template = env_dir / "ha-database.yaml"
    template.write_text(template.read_text().replace("BackupRetentionPeriod: 1", "BackupRetentionPeriod: 2"))
    edited = template.read_bytes()
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check")
    assert result.exit_code == 1
    assert f"changed  {template}" in result.output
    assert "manifest.json" not in result.output  # the manifest on disk still matches the render
    assert template.read_bytes() == edited  # --check never writes


def test_check_catches_extra_and_missing_files(built, tmp_path):
    env_dir = built(tmp_path)
    (env_dir / "notes").mkdir()
    (env_dir / "notes" / "stray.txt").write_text("left over\n")
    (env_dir / manifest.MANIFEST_FILE).unlink()
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check")
    assert result.exit_code == 1
    assert f"extra    {env_dir / 'notes' / 'stray.txt'}" in result.output
    assert f"missing  {env_dir / 'manifest.json'}" in result.output
    assert not (env_dir / manifest.MANIFEST_FILE).exists()


def test_check_of_a_missing_folder_reports_everything_missing_and_creates_nothing(tmp_path):
    result = run("--env", "staging", "--out", str(tmp_path / "out"), "--no-lint", "--check")
    assert result.exit_code == 1
    assert "missing" in result.output and "ha-database.yaml" in result.output
    assert not (tmp_path / "out").exists()


def test_check_names_what_differs_in_the_manifest(built, tmp_path, monkeypatch):
    built(tmp_path)
    monkeypatch.setattr(manifest, "tool_versions", lambda: {"cfn-lint": "9.9.9"})
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check")
    # A dependency release that changed no artifact is reported, not failed.
    assert result.exit_code == 0
    assert "manifest.json  (differs in: tools)" in result.output
    assert "only the manifest's tool versions differ" in result.output
    assert "ha-database.yaml" not in result.output  # no template changed


def test_check_fails_when_the_manifest_differs_beyond_tools(built, tmp_path, monkeypatch):
    built(tmp_path)
    monkeypatch.setattr(manifest, "tool_versions", lambda: {"cfn-lint": "9.9.9"})
    (tmp_path / "dev" / "ha-database.yaml").write_text("AWSTemplateFormatVersion: '2010-09-09'\n")
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check")
    assert result.exit_code == 1
    assert "ha-database.yaml" in result.output


def test_check_fails_when_the_build_would_be_rejected(built, tmp_path, monkeypatch):
    built(tmp_path)

    def one_finding(text, *, region, filename, lint=True):
        return [Finding(filename, 3, "E9999", "error", "injected finding")]

    monkeypatch.setattr(pipeline, "validate", one_finding)
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check")
    assert result.exit_code == 1
    assert "E9999 injected finding" in result.output
    assert not (tmp_path / ".rejected").exists()


def test_check_lints_unless_told_not_to(built, tmp_path, monkeypatch):
    built(tmp_path)
    seen = []

    def record(text, *, region, filename, lint=True):
        seen.append(lint)
        return []

    monkeypatch.setattr(pipeline, "validate", record)
    # one worker: the checks run in this process, where the recorder can see them
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 1)
    assert run("--env", "dev", "--out", str(tmp_path), "--check").exit_code == 0
    stacks = len(seen)
    assert run("--env", "dev", "--out", str(tmp_path), "--check", "--no-lint").exit_code == 0
    assert stacks == 3 and seen == [True] * stacks + [False] * stacks


def test_stack_build_leaves_the_folder_as_a_whole_build_would(built, tmp_path):
    # issue 12 item 1: a --stack build rewrote manifest.json with its stack alone,
    # so the folder no longer passed a whole --check
    env_dir = built(tmp_path)
    whole = {p.relative_to(env_dir): p.read_bytes() for p in env_dir.rglob("*") if p.is_file()}
    (env_dir / "old-stack.yaml").write_text("stale\n")
    assert run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check", "--stack", "ha-database").exit_code == 1
    assert run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--stack", "ha-database").exit_code == 0
    assert {p.relative_to(env_dir): p.read_bytes() for p in env_dir.rglob("*") if p.is_file()} == whole
    assert run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check").exit_code == 0
    assert run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check", "--stack", "ha-database").exit_code == 0


def test_stack_build_refuses_to_keep_a_stale_template(built, tmp_path):
    env_dir = built(tmp_path)
    (env_dir / "dr-primary.yaml").write_text((env_dir / "dr-primary.yaml").read_text() + "# edited\n")
    before = (env_dir / "manifest.json").read_bytes()
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--stack", "ha-database")
    assert result.exit_code == 2 and "dr-primary.yaml is not what the config renders now" in result.output
    assert (env_dir / "manifest.json").read_bytes() == before


def test_stack_build_into_an_empty_folder_describes_that_stack_alone(tmp_path):
    assert run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--stack", "dr-primary").exit_code == 0
    manifest = json.loads((tmp_path / "dev" / "manifest.json").read_text())
    assert [stack["name"] for stack in manifest["stacks"]] == ["dr-primary"]
    assert run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check", "--stack", "dr-primary").exit_code == 0
    assert run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check").exit_code == 1


def test_format_switch_is_drift(built, tmp_path):
    built(tmp_path)
    result = run("--env", "dev", "--out", str(tmp_path), "--no-lint", "--check", "--format", "json")
    assert result.exit_code == 1
    assert "missing" in result.output and "ha-database.json" in result.output
    assert "extra" in result.output and "ha-database.yaml" in result.output


def test_compare_tree_is_byte_exact(tmp_path):
    write_tree_atomically(tmp_path / "t", {"a.yaml": "a\n", "m.json": json.dumps({"k": 1})})
    assert compare_tree(tmp_path / "t", {"a.yaml": "a\n", "m.json": json.dumps({"k": 1})}).clean
    drift = compare_tree(tmp_path / "t", {"a.yaml": "a \n", "m.json": json.dumps({"k": 1})})
    assert drift.changed == ("a.yaml",) and not drift.missing and not drift.extra
    crlf = tmp_path / "t" / "a.yaml"
    crlf.write_bytes(b"a\r\n")
    assert compare_tree(tmp_path / "t", {"a.yaml": "a\n", "m.json": json.dumps({"k": 1})}).changed == ("a.yaml",)


def test_library_check_matches_the_cli(built, tmp_path):
    config = load_config(env="dev")
    built(tmp_path)  # a real `build.py --env dev --no-lint`, the library's lint=False
    assert pipeline.check(config, out_dir=tmp_path, lint=False).ok
    (tmp_path / "dev" / "ha-database.yaml").write_text("edited\n")
    report = pipeline.check(config, out_dir=tmp_path, lint=False)
    assert not report.ok and report.drift.changed == ("ha-database.yaml",)
