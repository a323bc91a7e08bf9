#!/usr/bin/env python3
"""Print wall time, CPU use and peak memory of the build's hot paths.

    python benchmarks/run.py [--env prod] [--matrix 30]

Each scenario runs in a fresh Python process, so the figures include imports,
as a user's `python build.py` pays them. Targets (issue 7, 2-core machine):
render <= 0.6 s, full build <= 6 s, no-op rebuild <= 1 s, peak <= 250 MiB, and
the matrix linear in templates with both cores busy. This prints figures; it
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RENDER = """
from streamflix import load_config, render_environment
render_environment(load_config(env={env!r}))
"""

BUILD = """
import sys
from streamflix.cli import main
sys.argv = ["build.py", "--env", {env!r}, "--out", {out!r}]
main()
"""

MATRIX = """
import itertools, os, time
from streamflix import load_config, render_environment
from streamflix.config.models import EU_REGIONS
from streamflix.pipeline import check_stacks
from pathlib import Path
base = load_config(env="dev")
rendered = []
for n, (preset, region) in enumerate(itertools.islice(itertools.cycle(
        itertools.product(["dev", "staging", "prod"], EU_REGIONS)), {count})):
    config = load_config(env=preset)
    ha = config.ha_database.model_copy(update={{"region": region}})
    variant = config.model_copy(update={{"name": f"m{{n}}", "environment_suffix": f"m{{n}}", "ha_database": ha}})
    rendered += render_environment(variant)
reports = check_stacks(rendered, label_dir=Path("matrix"))
assert all(not r.findings for r in reports), [f for r in reports for f in r.findings][:5]
print(len(rendered))
"""


def run(code: str, env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall seconds, cpu seconds, peak MiB, stdout) of one fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0,):
        raise SystemExit(f"scenario failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="prod")
    parser.add_argument("--matrix", type=int, default=30, help="environment x region builds in scenario (d)")
    args = parser.parse_args()

    cache = tempfile.mkdtemp(prefix="streamflix-bench-cache-")
    out = tempfile.mkdtemp(prefix="streamflix-bench-out-")
    env = dict(os.environ, STREAMFLIX_CACHE_DIR=cache)
    rows = []
    rows.append(("(a) render only", *run(RENDER.format(env=args.env), env)[:3], "<= 0.6 s"))
    rows.append(("(b) full build, cold lint cache", *run(BUILD.format(env=args.env, out=out), env)[:3], "<= 6 s"))
    rows.append(("(c) no-op rebuild (cache warm)", *run(BUILD.format(env=args.env, out=out), env)[:3], "<= 1 s"))
    matrix_cache = tempfile.mkdtemp(prefix="streamflix-bench-matrix-")
    per_template = []
    for count in sorted({max(1, args.matrix // 3), args.matrix}):
        wall, cpu, peak, printed = run(MATRIX.format(count=count), dict(env, STREAMFLIX_CACHE_DIR=tempfile.mkdtemp(dir=matrix_cache)))
        templates = int(printed.splitlines()[-1])
        per_template.append((templates, wall / templates))
        rows.append((f"(d) matrix: {count} builds, {templates} templates", wall, cpu, peak, "linear, 2 cores busy"))

    print(f"{'scenario':44} {'wall s':>8} {'cpu s':>8} {'cpu/wall':>8} {'peak MiB':>9}  target")
    for name, wall, cpu, peak, target in rows:
        print(f"{name:44} {wall:8.2f} {cpu:8.2f} {cpu / wall:8.2f} {peak:9.0f}  {target}")
    if len(per_template) == 2:
        (n1, t1), (n2, t2) = per_template
        print(f"matrix seconds per template: {t1:.2f} at {n1}, {t2:.2f} at {n2} (linear when these agree)")
    print(f"cores: {os.cpu_count()}; peak MiB is the largest single process (pool workers included)")


if __name__ == "__main__":
    main()
