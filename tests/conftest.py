"""Shared fixtures: every preset rendered once per session, read back with the CFN-aware loader."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
from contextlib import contextmanager
from pathlib import Path

import pytest

# CLI output is not wrapped at 80 columns, so tmp paths (longer under xdist, whose
# workers also start with COLUMNS=80) stay on one line. Set before the CLI's rich
# console is created, which reads it once.
os.environ["COLUMNS"] = "250"

from streamflix import load_config, load_template, parse_config, render_environment, validate  # noqa: E402
from streamflix.config import PRESETS  # noqa: E402


def _session_root(tmp_path_factory) -> Path:
    """A folder this test run owns: shared by all pytest-xdist workers, fresh for every run."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def isolated_lint_cache(tmp_path_factory):
    """Tests never read or write the user's lint cache.

    Under pytest-xdist the workers share one cache for the run, so a template one
    worker has linted or scanned is not linted again by the other (cache writes are
    atomic renames; ``_once`` below keeps two workers from computing the same thing
    at the same time).
    """
    folder = _session_root(tmp_path_factory) / "lint-cache"
    folder.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMFLIX_CACHE_DIR", str(folder))
        # The whole-build cache is off: many tests monkeypatch the pipeline in-process
        # (which no cache key can see) and build the same folder again. The tests of
        # the cache itself (tests/test_build_cache.py) turn it back on.
        patch.setenv("STREAMFLIX_BUILD_CACHE", "0")
        yield


@contextmanager
def _once(tmp_path_factory, key: str):
    """Hold a run-wide lock named ``key`` (a no-op cost without xdist): one worker computes, others wait."""
    locks = _session_root(tmp_path_factory) / "locks"
    locks.mkdir(exist_ok=True)
    with open(locks / hashlib.sha256(key.encode()).hexdigest()[:32], "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def configs():
    return {env: load_config(env=env) for env in PRESETS}


@pytest.fixture(scope="session")
def rendered(configs):
    """{env: {blueprint: RenderedStack}} for every shipped preset."""
    return {env: {stack.blueprint: stack for stack in render_environment(config)} for env, config in configs.items()}


@pytest.fixture(scope="session")
def ha(rendered):
    """{env: parsed HA database template} (intrinsics in long form)."""
    return {env: load_template(stacks["ha-database"].text) for env, stacks in rendered.items()}


@pytest.fixture(scope="session")
def dr(rendered):
    """{env: {"dr-primary": template, "dr-recovery": template}} parsed with the CFN-aware loader."""
    return {
        env: {name: load_template(stacks[name].text) for name in ("dr-primary", "dr-recovery")}
        for env, stacks in rendered.items()
    }


#: A DR variant the presets do not ship: HTTPS on both ALBs and Route 53 failover.
#: (The presets have no real hosted zone or certificates to name.)
DR_VARIANT_YAML = """\
name: drvariant
tier: staging
environment_suffix: drv
dr:
  dns:
    hosted_zone_id: Z0123456789ABCDEFGHIJ
    record_name: app.streamflix.example
    health_check_interval_seconds: 10
    health_check_failure_threshold: 3
  load_balancer:
    primary_certificate_arn: arn:aws:acm:eu-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555
    recovery_certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000
  standby:
    mode: hot_standby
"""


@pytest.fixture(scope="session")
def dr_variant_config():
    """The HTTPS + DNS failover variant's parsed config."""
    return parse_config(DR_VARIANT_YAML, source="variant.yaml")


@pytest.fixture(scope="session")
def dr_variant_stacks(dr_variant_config):
    """{blueprint: RenderedStack} of the HTTPS + DNS failover variant."""
    return {stack.blueprint: stack for stack in render_environment(dr_variant_config)}


@pytest.fixture(scope="session")
def dr_variant(dr_variant_stacks):
    return {name: load_template(stack.text) for name, stack in dr_variant_stacks.items()}


@pytest.fixture(scope="session")
def findings_of(tmp_path_factory):
    """``findings_of(stack)``: every finding (our rules + cfn-lint in the stack's own region), computed once per run."""
    cache: dict[tuple[str, str], list] = {}

    def run(stack):
        key = (stack.region, stack.text)
        if key not in cache:
            with _once(tmp_path_factory, f"validate\0{stack.region}\0{stack.text}"):
                cache[key] = validate(stack.text, region=stack.region, filename=stack.filename)
        return cache[key]

    return run


@pytest.fixture(scope="session")
def security_scan(rendered, tmp_path_factory):
    """One checkov run over every template of every preset (labels: '<env>/<file>'), shared by xdist workers."""
    from streamflix.checks.scan import ScannedTemplate, scan_templates

    templates = [
        ScannedTemplate(f"{env}/{stack.filename}", stack.text) for env, stacks in rendered.items() for stack in stacks.values()
    ]
    key = hashlib.sha256("\0".join(f"{t.label}\0{t.text}" for t in templates).encode()).hexdigest()
    stored = _session_root(tmp_path_factory) / f"checkov-{key[:32]}.pickle"
    with _once(tmp_path_factory, f"checkov\0{key}"):
        if stored.exists():
            return pickle.loads(stored.read_bytes())
        result = scan_templates(templates)
        stored.write_bytes(pickle.dumps(result))
        return result


@pytest.fixture(scope="session")
def artifacts(configs, rendered):
    """{env: {relative path: text}}: every file the build writes for each preset (templates + producers)."""
    from streamflix.pipeline import render_artifacts

    return {env: render_artifacts(configs[env], list(stacks.values())) for env, stacks in rendered.items()}


@pytest.fixture(scope="session")
def env_facts(configs, rendered):
    """{env: EnvironmentFacts}: the rendered stacks as the operator documents read them."""
    from streamflix.docs.stack import EnvironmentFacts

    return {env: EnvironmentFacts.build(configs[env], list(stacks.values())) for env, stacks in rendered.items()}


@pytest.fixture(scope="session")
def preset_build(tmp_path_factory):
    """``preset_build(env)``: one real ``build.py --env ENV --no-lint`` (checkov on) per run, shared by
    every module and xdist worker. Returns (out folder, CLI output). Read it only; copy it to change it."""
    root = _session_root(tmp_path_factory) / "preset-builds"
    seen: dict[str, tuple[Path, str]] = {}

    def get(env: str) -> tuple[Path, str]:
        if env not in seen:
            out, log = root / env, root / f"{env}.output"
            with _once(tmp_path_factory, f"preset-build\0{env}"):
                if not log.exists():  # written after the build: its presence means the folder is whole
                    from click.testing import CliRunner

                    from streamflix.cli import main

                    result = CliRunner().invoke(main, ["--env", env, "--out", str(out), "--no-lint"],
                                                catch_exceptions=False)
                    assert result.exit_code == 0, result.output
                    log.write_text(result.output)
            seen[env] = (out, log.read_text())
        return seen[env]

    return get
