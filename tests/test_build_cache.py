"""The whole-build cache: an unchanged rebuild only verifies out/<env>/; any changed input misses."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from streamflix import parse_config, pipeline
from streamflix.artifacts import SECURITY_SCAN_GATE
from streamflix.checks import cache
from streamflix.config import load_config

HIT = "unchanged since an identical build"
CONFIG = """\
name: cached
tier: dev
environment_suffix: cch
ha_database:
  database:
    backup_retention_days: 3
"""


@pytest.fixture(autouse=True)
def build_cache_on(monkeypatch):
    monkeypatch.setenv(cache.BUILD_CACHE_ENV, "1")


def quick_build(config, out: Path) -> pipeline.BuildReport:
    """A real build without cfn-lint and checkov (their verdicts have their own cache)."""
    return pipeline.build(config, out_dir=out, lint=False, skip_gates=(SECURITY_SCAN_GATE,))


def hit(report: pipeline.BuildReport) -> bool:
    return any(note.startswith(HIT) for note in report.notes)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dev_config():
    return load_config(env="dev")


def test_an_unchanged_rebuild_verifies_the_folder_and_skips_the_work(dev_config, tmp_path, monkeypatch):
    first = quick_build(dev_config, tmp_path)
    assert first.ok and first.written and not hit(first)
    written = tree(tmp_path / "dev")

    def must_not_render(*args, **kwargs):
        raise AssertionError("a cache hit rendered")

    monkeypatch.setattr(pipeline, "assemble", must_not_render)
    second = quick_build(dev_config, tmp_path)
    assert hit(second) and second.ok and second.written
    assert all(stack.cached for stack in second.stacks)
    assert [s.stack.text for s in second.stacks] == [s.stack.text for s in first.stacks]
    assert second.suppressions == first.suppressions and second.lifecycle == first.lifecycle
    assert tree(tmp_path / "dev") == written


def test_a_config_change_misses(tmp_path):
    config = parse_config(CONFIG, source="cached.yaml")
    assert not hit(quick_build(config, tmp_path))
    before = (tmp_path / "cached" / "ha-database.yaml").read_bytes()
    assert hit(quick_build(config, tmp_path))
    changed = parse_config(CONFIG.replace("backup_retention_days: 3", "backup_retention_days: 5"), source="cached.yaml")
    report = quick_build(changed, tmp_path)
    assert not hit(report) and report.written
    assert (tmp_path / "cached" / "ha-database.yaml").read_bytes() != before


@pytest.mark.parametrize("edit", ["changed", "deleted", "extra"])
def test_a_hand_edit_of_out_misses_and_the_build_restores_the_folder(dev_config, tmp_path, edit):
    assert not hit(quick_build(dev_config, tmp_path))
    folder = tmp_path / "dev"
    written = tree(folder)
    template = folder / "ha-database.yaml"
    if edit == "changed":
        template.write_text(template.read_text() + "# edited by hand\n")
    elif edit == "deleted":
        template.unlink()
    else:
        (folder / "notes.txt").write_text("mine\n")
    report = quick_build(dev_config, tmp_path)
    assert not hit(report) and report.written
    assert tree(folder) == written


def test_an_edited_manifest_misses(dev_config, tmp_path):
    """Files edited to match an edited manifest are still not what the build wrote."""
    assert not hit(quick_build(dev_config, tmp_path))
    manifest = tmp_path / "dev" / "manifest.json"
    written = manifest.read_bytes()
    manifest.write_bytes(written.replace(b'"manifest_format": 1', b'"manifest_format": 1 '))
    assert not hit(quick_build(dev_config, tmp_path))
    assert manifest.read_bytes() == written


def test_a_change_to_our_code_misses(dev_config, tmp_path, monkeypatch):
    """Any file of the streamflix package is in the key (here: a floor raised in a copy of the package)."""
    key = pipeline._build_cache_key(dev_config, tmp_path, "yaml", False, (SECURITY_SCAN_GATE,))
    copy = tmp_path / "pkg" / "streamflix"
    shutil.copytree(cache.package_root(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "package_root", lambda: copy)
    cache._fingerprint.cache_clear()
    try:
        assert pipeline._build_cache_key(dev_config, tmp_path, "yaml", False, (SECURITY_SCAN_GATE,)) == key
        floors = copy / "floors.py"
        floors.write_text(floors.read_text() + "\nPROD_MIN_BACKUP_RETENTION_DAYS = 35\n")
        cache._fingerprint.cache_clear()
        assert pipeline._build_cache_key(dev_config, tmp_path, "yaml", False, (SECURITY_SCAN_GATE,)) != key
    finally:
        cache._fingerprint.cache_clear()


def test_a_change_to_a_blueprint_misses(dev_config, tmp_path, monkeypatch):
    """The blueprints live outside streamflix (entry points): their source is in the key too."""
    package = sys.modules["blueprints"]
    copy = tmp_path / "blueprints"
    shutil.copytree(Path(next(iter(package.__path__))), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(package, "__path__", [str(copy)])
    key = pipeline._build_cache_key(dev_config, tmp_path, "yaml", False, (SECURITY_SCAN_GATE,))
    assert pipeline._build_cache_key(dev_config, tmp_path, "yaml", False, (SECURITY_SCAN_GATE,)) == key
    source = copy / "ha_database.py"
    source.write_text(source.read_text() + "\n# a comment is a change\n")
    assert pipeline._build_cache_key(dev_config, tmp_path, "yaml", False, (SECURITY_SCAN_GATE,)) != key


@pytest.mark.parametrize("change", ["format", "lint", "scan", "folder", "tools"])
def test_every_flag_and_tool_version_is_in_the_key(dev_config, tmp_path, monkeypatch, change):
    args = {"fmt": "yaml", "lint": False, "skip_gates": (SECURITY_SCAN_GATE,), "out": tmp_path}
    key = pipeline._build_cache_key(dev_config, args["out"], args["fmt"], args["lint"], args["skip_gates"])
    if change == "format":
        args["fmt"] = "json"
    elif change == "lint":
        args["lint"] = True
    elif change == "scan":
        args["skip_gates"] = ()
    elif change == "folder":
        args["out"] = tmp_path / "other"
    else:
        from streamflix import manifest

        real = manifest.tool_versions()
        monkeypatch.setattr(manifest, "tool_versions", lambda: {**real, "cfn-lint": "0.0.1"})
    assert pipeline._build_cache_key(dev_config, args["out"], args["fmt"], args["lint"], args["skip_gates"]) != key


def test_off_switch_and_stack_builds_never_reuse(dev_config, tmp_path, monkeypatch):
    assert not hit(quick_build(dev_config, tmp_path))
    monkeypatch.setenv(cache.BUILD_CACHE_ENV, "0")
    assert not hit(quick_build(dev_config, tmp_path))
    monkeypatch.setenv(cache.BUILD_CACHE_ENV, "1")
    report = pipeline.build(dev_config, out_dir=tmp_path, stacks=["ha-database"], lint=False,
                            skip_gates=(SECURITY_SCAN_GATE,))
    assert report.written and not hit(report)


def test_a_rejected_build_is_not_remembered(tmp_path, monkeypatch):
    from streamflix.checks import Finding

    config = parse_config(CONFIG, source="cached.yaml")
    monkeypatch.setattr(pipeline, "validate",
                        lambda text, *, region, filename, lint=True: [Finding(filename, 1, "E9999", "error", "x")])
    assert not quick_build(config, tmp_path).ok
    key = pipeline._build_cache_key(config, tmp_path, "yaml", False, (SECURITY_SCAN_GATE,))
    assert cache.load_build(key) is None
