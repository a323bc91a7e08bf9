"""Golden copies of every shipped preset's artifacts, under ``tests/golden/<env>/``.

Every logical-ID or property change then shows up in review as a diff of a
checked-in file; ``tests/test_golden.py`` fails until the goldens are
regenerated on purpose::

    python -m streamflix.golden            # rewrite tests/golden/ from the presets
    python -m streamflix.golden --check    # exit 1 and list the files that differ

Goldens are rendered with cfn-lint off (the lint tests live elsewhere) and hold
every artifact of ``out/<env>/`` except ``manifest.json``: the manifest records
the installed tool versions, so it would turn a patch release of a dependency
into a golden failure without any template change.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Mapping, Sequence

import click

from streamflix.config import PRESETS, load_config
from streamflix.config.models import EnvironmentConfig
from streamflix.drift import TreeDrift, compare_tree
from streamflix.manifest import MANIFEST_FILE
from streamflix.pipeline import render_artifacts, render_environment
from streamflix.render import RenderedStack, write_tree_atomically

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "tests" / "golden"
#: Artifacts that describe the build machine rather than the config.
NOT_GOLDEN = frozenset({MANIFEST_FILE})


def golden_files(config: EnvironmentConfig, rendered: Sequence[RenderedStack] | None = None) -> dict[str, str]:
    """What ``tests/golden/<env>/`` must hold for ``config`` (``rendered``: reuse renders already made)."""
    stacks = list(rendered) if rendered is not None else render_environment(config)
    return {path: text for path, text in render_artifacts(config, stacks).items() if path not in NOT_GOLDEN}


def compare_goldens(root: Path, expected: Mapping[str, Mapping[str, str]]) -> dict[str, TreeDrift]:
    """Per environment, how ``root/<env>/`` differs from ``expected[env]`` (clean ones left out)."""
    drifts = {env: compare_tree(root / env, files) for env, files in expected.items()}
    return {env: drift for env, drift in drifts.items() if not drift.clean}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=GOLDEN_DIR, show_default=True)
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 when the goldens are out of date.")
def main(root: Path, check_only: bool) -> None:
    """Regenerate (or check) the golden artifacts of every shipped preset."""
    expected = {env: golden_files(load_config(env=env)) for env in PRESETS}
    if check_only:
        drifts = compare_goldens(root, expected)
        for env, drift in sorted(drifts.items()):
            for line in drift.lines(root / env):
                click.echo(line)
        sys.exit(1 if drifts else 0)
    for env, files in expected.items():
        write_tree_atomically(root / env, files, prune=True)
        click.echo(f"wrote {root / env} ({len(files)} file(s))")
    for stale in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in expected) if root.is_dir() else ():
        shutil.rmtree(stale)
        click.echo(f"removed {stale} (no such preset)")


if __name__ == "__main__":
    main()
