"""Golden artifacts: every logical-ID or property change shows up in review as a changed file.

Regenerate on purpose with `python -m streamflix.golden` and commit the result.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from streamflix.config import PRESETS
from streamflix.golden import GOLDEN_DIR, NOT_GOLDEN, compare_goldens, golden_files, main


@pytest.fixture(scope="module")
def expected(configs, rendered):
    """What tests/golden/ must hold, from the session's renders (cfn-lint off: lint tests live elsewhere)."""
    return {env: golden_files(configs[env], rendered[env].values()) for env in PRESETS}


def test_goldens_match_the_render(expected):
    drifts = compare_goldens(GOLDEN_DIR, expected)
    detail = "\n".join(line for env, drift in drifts.items() for line in drift.lines(GOLDEN_DIR / env))
    assert not drifts, f"golden artifacts are stale; review, then run `python -m streamflix.golden`:\n{detail}"


def test_goldens_hold_every_template_and_no_manifest(expected, rendered):
    for env in PRESETS:
        assert {stack.filename for stack in rendered[env].values()} <= set(expected[env])
        assert not NOT_GOLDEN & set(expected[env])


def test_a_changed_logical_id_fails_the_golden_comparison(tmp_path, expected):
    root = tmp_path / "golden"
    shutil.copytree(GOLDEN_DIR, root)
    template = root / "prod" / "ha-database.yaml"
    template.write_text(template.read_text().replace("  AuroraCluster:\n", "  AuroraDatabase:\n", 1))
    drifts = compare_goldens(root, expected)
    assert list(drifts) == ["prod"] and drifts["prod"].changed == ("ha-database.yaml",)


def test_regenerate_then_check(tmp_path, expected, monkeypatch):
    # The command's own logic (write, prune retired environments, check) on the session's
    # renders; that those renders are what golden_files gives is test_goldens_match_the_render.
    import streamflix.golden as golden

    monkeypatch.setattr(golden, "golden_files", lambda config, rendered=None: dict(expected[config.name]))
    root = tmp_path / "golden"
    (root / "retired-env").mkdir(parents=True)
    runner = CliRunner()
    assert runner.invoke(main, ["--root", str(root)], catch_exceptions=False).exit_code == 0
    assert sorted(p.name for p in root.iterdir()) == sorted(PRESETS)
    assert runner.invoke(main, ["--root", str(root), "--check"], catch_exceptions=False).exit_code == 0
    (root / "dev" / "stray.yaml").write_text("x: 1\n")
    result = runner.invoke(main, ["--root", str(root), "--check"], catch_exceptions=False)
    assert result.exit_code == 1 and "extra" in result.output and "stray.yaml" in result.output
