"""The real rendered stacks pass every project rule (cfn-lint is run by other tests)."""

import pytest

import streamflix
from streamflix.checks import run_rules
from streamflix.render import load_template

ENVIRONMENTS = ["dev", "staging", "prod"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ha_database_passes_every_rule(env):
    config = streamflix.load_config(env=env)
    stack = streamflix.render_stack(config, "ha-database")
    template = load_template(stack.text)
    assert template["Resources"], "rendered template has no resources"
    findings = run_rules(template, region=stack.region, filename=stack.filename)
    assert findings == [], "\n".join(str(f) for f in findings)
