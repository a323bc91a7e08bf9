"""The committed out/ is the single record of what the presets render.

`.ci/run` guards it with `build.py --env E --check` (which also runs every check).
This test makes the plain test command fail on a stale out/ as well, so a logical-ID
or property change cannot land without its rendered diff in review. After a
deliberate change: `for e in dev staging prod; do python build.py --env $e; done`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamflix.config import PRESETS
from streamflix.drift import compare_tree

OUT = Path(__file__).resolve().parents[1] / "out"


@pytest.mark.parametrize("env", PRESETS)
def test_committed_out_is_what_the_preset_renders(env, artifacts):
    drift = compare_tree(OUT / env, artifacts[env])
    assert drift.clean, "out/ is stale; review, then rebuild:\n" + "\n".join(drift.lines(OUT / env))


def test_a_changed_logical_id_fails_the_comparison(tmp_path, artifacts):
    copy = tmp_path / "prod"
    shutil.copytree(OUT / "prod", copy)
    template = copy / "ha-database.yaml"
    template.write_text(template.read_text().replace("  AuroraCluster:\n", "  AuroraDatabase:\n", 1))
    drift = compare_tree(copy, artifacts["prod"])
    assert not drift.clean and "ha-database.yaml" in drift.changed and not drift.missing and not drift.extra
