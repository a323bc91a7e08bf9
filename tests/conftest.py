"""Shared fixtures: every preset rendered once per session, read back with the CFN-aware loader."""

from __future__ import annotations

import pytest

from streamflix import load_config, load_template, parse_config, render_environment, validate
from streamflix.config import PRESETS


@pytest.fixture(scope="session", autouse=True)
def isolated_lint_cache(tmp_path_factory):
    """Tests never read or write the user's lint cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMFLIX_CACHE_DIR", str(tmp_path_factory.mktemp("lint-cache")))
        yield


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
def dr_variant_stacks():
    """{blueprint: RenderedStack} of the HTTPS + DNS failover variant."""
    return {stack.blueprint: stack for stack in render_environment(parse_config(DR_VARIANT_YAML, source="variant.yaml"))}


@pytest.fixture(scope="session")
def dr_variant(dr_variant_stacks):
    return {name: load_template(stack.text) for name, stack in dr_variant_stacks.items()}


@pytest.fixture(scope="session")
def findings_of():
    """``findings_of(stack)``: every finding (our rules + cfn-lint in the stack's own region), computed once."""
    cache: dict[tuple[str, str], list] = {}

    def run(stack):
        key = (stack.region, stack.text)
        if key not in cache:
            cache[key] = validate(stack.text, region=stack.region, filename=stack.filename)
        return cache[key]

    return run


@pytest.fixture(scope="session")
def security_scan(rendered):
    """One checkov run over every template of every preset (labels: '<env>/<file>')."""
    from streamflix.checks.scan import ScannedTemplate, scan_templates

    return scan_templates(
        [ScannedTemplate(f"{env}/{stack.filename}", stack.text) for env, stacks in rendered.items() for stack in stacks.values()]
    )


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
