"""A blueprint package from outside this repo adds a stack with its own config section.

The plugin below is a real package (its own pyproject.toml and an entry point in
the ``streamflix.blueprints`` group), installed with pip into a temporary
folder; ``python build.py`` then runs in a fresh process with that folder on its
path, exactly as it would for a team that pip-installs the plugin beside this
project. Nothing in this repo names the plugin.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from streamflix.registry import Blueprint, register

REPO = Path(__file__).resolve().parents[1]

PLUGIN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "sfqueue"
version = "0.1.0"

[project.entry-points."streamflix.blueprints"]
work-queue = "sfqueue:BLUEPRINT"

[tool.setuptools]
packages = ["sfqueue"]
"""

PLUGIN_MODULE = '''\
"""An encrypted SQS work queue: a stack with its own config section."""

from pydantic import Field
from troposphere import GetAtt, Sub
from troposphere.sqs import Queue

from streamflix.config.models import StackConfig
from streamflix.constructs.keys import add_data_key
from streamflix.registry import Blueprint, register
from streamflix.template import create_template


class WorkQueueConfig(StackConfig):
    """The work-queue stack: one KMS-encrypted SQS queue."""

    region: str = Field("eu-west-1", description="Region the stack deploys to.")
    visibility_timeout_seconds: int = Field(60, description="How long a received message stays hidden.")


def build(env, section):
    t = create_template(env, blueprint="work-queue", region=section.region,
                        description="Work queue (plugin stack)", name_keys=[])
    key = add_data_key(t, alias=f"{env.project}-${{EnvironmentSuffix}}-queue", purpose="work queue")
    queue = t.add_resource(Queue(
        "WorkQueue",
        QueueName=Sub(f"{env.project}-${{EnvironmentSuffix}}-work"),
        KmsMasterKeyId=key.arn,
        VisibilityTimeout=section.visibility_timeout_seconds,
    ))
    t.add_output("WorkQueueArn", GetAtt(queue, "Arn"), "ARN of the work queue")
    t.add_output("EnvironmentSuffix", t.suffix.ref(), "Environment suffix used for this deployment")
    return t


BLUEPRINT = register(Blueprint(
    name="work-queue",
    config_field="work_queue",
    description="An encrypted SQS work queue (a plugin package)",
    build=build,
    config_model=WorkQueueConfig,
))
'''

CONFIG = """\
name: queues
tier: dev
environment_suffix: q1
work_queue:
  visibility_timeout_seconds: {timeout}
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """The plugin, pip-installed (its own build backend, its own entry point) into a folder of its own."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    (source / "sfqueue").mkdir(parents=True)
    (source / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (source / "sfqueue" / "__init__.py").write_text(PLUGIN_MODULE)
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True, capture_output=True, text=True,
    )
    assert (site / "sfqueue-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


def run_build(site: Path, workdir: Path, *args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    (workdir / "queues.yaml").write_text(CONFIG.format(timeout=timeout))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run(
        [sys.executable, str(REPO / "build.py"), *args],
        cwd=workdir, env=environment, capture_output=True, text=True, timeout=600,
    )


def test_a_plugin_stack_is_built_linted_documented_and_in_the_manifest(plugin_site, tmp_path):
    result = run_build(plugin_site, tmp_path, "--config", "queues.yaml", "--out", "out")
    assert result.returncode == 0, result.stdout + result.stderr
    folder = tmp_path / "out" / "queues"
    template = (folder / "work-queue.yaml").read_text()
    assert "AWS::SQS::Queue" in template and "VisibilityTimeout: 60" in template
    runbook = (folder / "runbooks" / "work-queue.md").read_text()
    assert runbook.startswith("# Runbook: work-queue, queues (eu-west-1)")
    assert "streamflix-q1-work-queue" in runbook
    assert (folder / "compliance" / "work-queue.md").is_file()
    assert (folder / "costs" / "work-queue.json").is_file()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stacks"] == [{"file": "work-queue.yaml", "name": "work-queue", "region": "eu-west-1"}]
    listed = {artifact["path"] for artifact in manifest["artifacts"]}
    assert {"work-queue.yaml", "runbooks/work-queue.md", "compliance/work-queue.md"} <= listed
    # the summary row of the plugin's stack: its region, 3 resources and zero findings
    (row,) = [line for line in result.stderr.splitlines() if "work-queue" in line and "eu-west-1" in line]
    assert re.search(r"work-queue\W+eu-west-1\W+3\W+\d+\W+0\W", row), row


def test_cfn_lint_judges_the_plugin_stack(plugin_site, tmp_path):
    """SQS allows at most 43,200 s; the plugin's own model does not check it, cfn-lint does."""
    result = run_build(plugin_site, tmp_path, "--config", "queues.yaml", "--out", "out", "--no-scan", timeout=50000)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "work-queue.yaml" in result.stdout + result.stderr
    assert "43200" in result.stdout + result.stderr
    assert not (tmp_path / "out" / "queues" / "work-queue.yaml").exists()


def test_the_plugin_section_is_validated_and_in_the_schema(plugin_site, tmp_path):
    (tmp_path / "bad.yaml").write_text(CONFIG.format(timeout="'soon'") + "work_queues: {}\n")
    environment = {**os.environ, "PYTHONPATH": str(plugin_site)}
    result = subprocess.run([sys.executable, str(REPO / "build.py"), "--config", "bad.yaml"],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "work_queue.visibility_timeout_seconds = 'soon'" in result.stderr
    assert "work_queues = {}: unknown field or stack section; allowed:" in result.stderr
    assert "tier, work_queue" in result.stderr
    schema = subprocess.run([sys.executable, str(REPO / "build.py"), "schema"],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300, check=True)
    properties = json.loads(schema.stdout)["properties"]
    assert properties["work_queue"]["anyOf"][0] == {"$ref": "#/$defs/WorkQueueConfig"}


# -- the registration contract, in process ------------------------------------------


def _noop_build(env, section):
    raise AssertionError("not built in these tests")


def test_a_section_outside_the_config_needs_a_model():
    with pytest.raises(ValueError, match="declare the section's model as config_model"):
        register(Blueprint(name="orphan", config_field="orphan_section", description="", build=_noop_build))


def test_a_plugin_cannot_take_a_built_in_section():
    from streamflix.config.models import StackConfig

    class Clash(StackConfig):
        """Clashes with the HA database section."""

    with pytest.raises(ValueError, match="built-in config field"):
        register(Blueprint(name="clash", config_field="ha_database", description="", build=_noop_build,
                           config_model=Clash))


def test_plugin_and_built_in_errors_come_in_one_message(monkeypatch):
    """A bad plugin section and a bad built-in field are reported together, each with its path and allowed values."""
    from pydantic import Field

    from streamflix import ConfigError, parse_config
    from streamflix.config import models

    class Sized(models.StackConfig):
        """A plugin section for this test."""

        region: str = Field("eu-west-1", description="Region the stack deploys to.")
        size: int = Field(3, description="How many.")

    monkeypatch.setattr(models, "_extension_sections", lambda: {"sized": Sized})
    text = ("name: x1\ntier: dev\nenvironment_suffix: ab\nsized:\n  size: 'x'\n"
            "ha_database:\n  database:\n    engine_version: '15.4'\n")
    with pytest.raises(ConfigError) as refused:
        parse_config(text, source="both.yaml")
    lines = str(refused.value).splitlines()
    assert lines[0] == "both.yaml: 2 problem(s) in the config"
    # each problem line names its YAML line first ("line 8: ..."), then the field
    assert any("ha_database.database.engine_version = '15.4'" in line and "allowed:" in line
               for line in lines)
    assert "  line 5: sized.size = 'x': Input should be a valid integer" in lines
    assert parse_config(text.replace("'x'", "5").replace("'15.4'", "'16.15'")).section("sized") == Sized(size=5)
    # an empty section is omitted, as a built-in one is
    omitted = parse_config("name: x1\ntier: dev\nenvironment_suffix: ab\nsized:\nha_database: {}\n")
    assert omitted.section("sized") is None and list(omitted.stacks) == ["ha_database"]


def test_the_core_names_no_blueprint_and_build_py_registers_the_bundled_ones_without_entry_points():
    """The registry finds stacks through entry points only; ``build.py`` (the composition root)
    imports the bundled package, so a source checkout that is not pip-installed still builds."""
    source = (REPO / "streamflix" / "registry.py").read_text("utf-8")
    assert "import_module" not in source and not re.search(r"^\s*(from|import) blueprints\b", source, re.M)
    probe = textwrap.dedent("""
        import importlib.metadata as metadata, runpy, sys
        found = metadata.entry_points
        metadata.entry_points = lambda **k: [] if k.get("group") == "streamflix.blueprints" else found(**k)
        runpy.run_path("build.py")  # imported, not run: no __main__
        from streamflix.registry import discover
        print(" ".join(discover()))
    """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["dr-primary", "dr-recovery", "ha-database"]
