"""The CI a team adopts unchanged: the GitHub Actions workflow passes actionlint, and the lock file matches pyproject."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from streamflix.render import load_template

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
LOCK = REPO / "requirements" / "ci.lock"


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("actionlint")
    assert binary, "actionlint is a test dependency (pip install -e '.[test]')"
    return subprocess.run([binary, "-no-color", *map(str, files)], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_workflow_passes_actionlint():
    assert WORKFLOWS == [REPO / ".github" / "workflows" / "ci.yml"]
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "ci.yml"
    broken.write_text(WORKFLOWS[0].read_text().replace("${{ matrix.env }}", "${{ matrix.enviroment }}", 1))
    result = actionlint(broken)
    assert result.returncode == 1 and "enviroment" in result.stdout


def workflow() -> dict:
    # Any YAML 1.1 loader reads the `on:` key as True; the jobs are what is checked here.
    return load_template(WORKFLOWS[0].read_text("utf-8"))


def commands(job: str) -> str:
    return "\n".join(step.get("run", "") for step in workflow()["jobs"][job]["steps"])


def test_the_workflow_runs_the_suite_checks_diffs_and_uploads():
    jobs = workflow()["jobs"]
    assert "bash .ci/run" in commands("test")
    build = commands("artifacts")
    assert "pip install -r requirements/ci.lock" in build
    assert re.search(r'python build\.py --env "\$ENVIRONMENT" --check --sarif "sarif/\$ENVIRONMENT\.sarif"', build)
    assert re.search(r'python build\.py diff --against last-release/out --env "\$ENVIRONMENT"', build)
    assert jobs["artifacts"]["strategy"]["matrix"]["env"] == ["dev", "staging", "prod"]
    uses = [step.get("uses", "") for step in jobs["artifacts"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    assert jobs["artifacts"]["permissions"]["security-events"] == "write"
    assert "gh release upload" in commands("release")


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text("utf-8").splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    extras = project["optional-dependencies"]
    texts = project["dependencies"] + extras["scan"] + extras["test"]
    # [test] pulls [scan] in by naming this project itself; the lock pins the others, not us
    return [r for r in map(Requirement, texts) if canonicalize_name(r.name) != canonicalize_name(project["name"])]


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_lock_pins_every_declared_requirement_within_its_range(requirement):
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement} is not in requirements/ci.lock: re-run pip-compile (README)"
    assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {requirement}"


def test_the_manifest_records_the_locked_versions():
    """The committed manifests name the tool versions the lock installs, so a CI rebuild is byte-identical."""
    pins = locked()
    for manifest in sorted((REPO / "out").glob("*/manifest.json")):
        tools = json.loads(manifest.read_text("utf-8"))["tools"]
        for tool, version in tools.items():
            if tool != "streamflix":
                assert pins[canonicalize_name(tool)] == version, f"{manifest}: {tool} {version}, lock {pins[tool]}"
