"""The runbook's first step after deploy creates the application database role (issue 11, finding 2)."""

from __future__ import annotations

import re

import pytest
from runbook_commands import invocations, section

from streamflix.docs.bootstrap import TITLE
from streamflix.render import load_template


@pytest.mark.parametrize("blueprint", ["ha-database", "dr-primary"])
def test_bootstrap_is_the_step_right_after_deploy(artifacts, blueprint):
    for env, files in artifacts.items():
        markdown = files[f"runbooks/{blueprint}.md"]
        titles = re.findall(r"^## \d+\. (.+)$", markdown, re.M)
        assert titles[titles.index("Deploy") + 1] == TITLE
        text = section(markdown, TITLE)
        calls = invocations(text)
        run = next(c for c in calls if (c.service, c.operation) == ("ecs", "run-task"))
        assert run.value("--launch-type") == "FARGATE"
        assert "assignPublicIp=DISABLED" in run.value("--network-configuration")
        assert any(c.waiter == "tasks-stopped" for c in calls)
        # every output the section reads exists in the rendered template
        template = load_template(files[f"{blueprint}.yaml"])
        for output in re.findall(r"OutputKey=='(\w+)'", text):
            assert output in template["Outputs"], output
        assert "streamflix_app ready" in text and "idempotent" in text


def test_recovery_runbook_never_bootstraps_the_replica(artifacts):
    markdown = artifacts["prod"]["runbooks/dr-recovery.md"]
    assert TITLE not in markdown
