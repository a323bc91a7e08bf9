"""out/<env>/manifest.json: every artifact hashed, the config and tools recorded, nothing machine-specific."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata
from pathlib import Path

from click.testing import CliRunner

from streamflix import artifacts, parse_config
from streamflix.catalog import load_catalog
from streamflix.cli import main
from streamflix.manifest import MANIFEST_FILE, canonical_config_json, config_hash, produce_manifest
from streamflix.pipeline import render_artifacts

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
#: Dates that are part of formats, not of the build: CloudFormation's and IAM's version strings.
FORMAT_DATES = {"2010-09-09", "2012-10-17"}
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\b\d{2}:\d{2}:\d{2}\b")


def build(out, *args):
    result = CliRunner().invoke(main, ["--out", str(out), "--no-lint", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_manifest_lists_every_other_file_with_its_hash(preset_build):
    env_dir = preset_build("prod")[0] / "prod"  # the run's real `build.py --env prod --no-lint`
    manifest = json.loads((env_dir / MANIFEST_FILE).read_text())
    on_disk = {path: data for path, data in tree(env_dir).items() if path != MANIFEST_FILE}
    listed = {entry["path"]: entry for entry in manifest["artifacts"]}
    assert set(listed) == set(on_disk)
    for path, data in on_disk.items():
        assert listed[path]["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert listed[path]["bytes"] == len(data)
    assert manifest["stacks"] == [
        {"file": "dr-primary.yaml", "name": "dr-primary", "region": "eu-west-2"},
        {"file": "dr-recovery.yaml", "name": "dr-recovery", "region": "us-east-1"},
        {"file": "ha-database.yaml", "name": "ha-database", "region": "eu-central-1"},
    ]
    assert manifest["environment"] == "prod"


def test_manifest_records_config_tools_and_catalogue(configs, rendered):
    config = configs["staging"]
    manifest = json.loads(produce_manifest(config, list(rendered["staging"].values()), {"a.yaml": "x\n"})[MANIFEST_FILE])
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert manifest["config_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert manifest["catalog_snapshot"] == load_catalog().snapshot_date
    assert manifest["tools"]["cfn-lint"] == metadata.version("cfn-lint")
    assert manifest["tools"]["streamflix"] == metadata.version("streamflix-blueprints")
    assert {"troposphere", "awacs", "pydantic"} <= set(manifest["tools"])
    assert ("checkov" in manifest["tools"]) == _installed("checkov")


def _installed(dist):
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_config_hash_follows_values_not_spelling():
    text = "name: xy\ntier: dev\nenvironment_suffix: xy\nha_database: {}\n"
    same = "# a comment\nenvironment_suffix: xy\ntier: dev\nname: xy\nha_database:\n  region: eu-central-1\n"
    other = "name: xy\ntier: dev\nenvironment_suffix: yz\nha_database: {}\n"
    assert config_hash(parse_config(text)) == config_hash(parse_config(same))
    assert config_hash(parse_config(text)) != config_hash(parse_config(other))
    assert canonical_config_json(parse_config(text)).startswith('{"')


def test_manifest_is_the_last_producer(configs, rendered):
    assert artifacts.PRODUCERS[-1] is produce_manifest
    files = render_artifacts(configs["dev"], list(rendered["dev"].values()))
    assert list(files)[-1] == MANIFEST_FILE
    listed = [entry["path"] for entry in json.loads(files[MANIFEST_FILE])["artifacts"]]
    assert listed == sorted(path for path in files if path != MANIFEST_FILE)


def test_two_builds_are_byte_identical(tmp_path, preset_build):
    first = tree(preset_build("dev")[0] / "dev")  # an earlier real build of the same config, elsewhere
    second = tree(build(tmp_path / "b", "--env", "dev") / "dev")
    assert MANIFEST_FILE in first
    assert first == second


def leaks(text, forbidden_paths):
    """What in ``text`` would make two machines' builds differ: paths, times, dates other than data."""
    found = [path for path in forbidden_paths if path in text]
    found += ISO_TIME.findall(text)
    found += sorted(set(ISO_DATE.findall(text)) - FORMAT_DATES - {load_catalog().snapshot_date})
    return found


def test_leak_detector_catches_timestamps_and_paths(tmp_path):
    assert leaks(f"built: 2031-01-02T03:04:05Z\nfrom: {tmp_path}/mine.yaml\n", [str(tmp_path)]) == [
        str(tmp_path), "2031-01-02T03:04"]
    assert leaks("built on 2031-01-02 at 03:04:05\n", []) == ["03:04:05", "2031-01-02"]
    assert leaks("AWSTemplateFormatVersion: '2010-09-09'\n", [str(tmp_path)]) == []


def test_no_absolute_paths_or_timestamps_in_out(tmp_path):
    config = tmp_path / "configs" / "mine.yaml"
    config.parent.mkdir()
    config.write_text("name: mine\ntier: dev\nenvironment_suffix: mine\nha_database: {}\n")
    env_dir = build(tmp_path / "out", "--config", str(config)) / "mine"
    files = tree(env_dir)
    assert {"ha-database.yaml", MANIFEST_FILE} <= set(files)
    for path, data in files.items():
        assert leaks(data.decode("utf-8"), [str(tmp_path), str(Path.cwd()), "/tmp/"]) == [], path
