"""Numbers the README states about the committed out/ (issue 12 item 12), checked against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamflix.checks.suppressions import suppressions_in
from streamflix.render import load_template

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_suppression_count_and_template_sizes_are_as_the_readme_says(env):
    assert "5 to 11 per environment today, all checkov" in README and "at 80-130 KB" in README
    templates = sorted((ROOT / "out" / env).glob("*.yaml"))
    assert templates
    found = [s for path in templates for s in suppressions_in(load_template(path.read_text("utf-8")), str(path))]
    assert 5 <= len(found) <= 11, "update the README's suppression count"
    assert {s.tool for s in found} == {"checkov"}
    for path in templates:
        assert 80_000 <= path.stat().st_size <= 130_000, f"{path}: update the README's 80-130 KB claim"
