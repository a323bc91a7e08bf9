"""Shared fixtures: every preset rendered once per session, read back with the CFN-aware loader."""

from __future__ import annotations

import pytest

from streamflix import load_config, load_template, render_environment
from streamflix.config import PRESETS


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
def artifacts(configs, rendered):
    """{env: {relative path: text}}: every file the build writes for each preset (templates + producers)."""
    from streamflix.pipeline import render_artifacts

    return {env: render_artifacts(configs[env], list(stacks.values())) for env, stacks in rendered.items()}


@pytest.fixture(scope="session")
def env_facts(configs, rendered):
    """{env: EnvironmentFacts}: the rendered stacks as the operator documents read them."""
    from streamflix.docs.stack import EnvironmentFacts

    return {env: EnvironmentFacts.build(configs[env], list(stacks.values())) for env, stacks in rendered.items()}
