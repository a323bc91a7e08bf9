#!/usr/bin/env python3
"""Issue 14's targets, each printed as a ratio to AWS CDK synthesizing an equivalent stack.

    python benchmarks/run.py [--env prod] [--runs 3] [--matrix 10] [--suite] [--install]

The yardstick is ``benchmarks/cdk/app.py``: AWS CDK v2 (Python) synthesizing a stack
equivalent to our prod HA database stack, with jsii's runtime type checks on
("validator on", ``python app.py``) and, for reference, off (``python -O app.py``).
The harness installs ``aws-cdk-lib`` and ``constructs`` into its own virtualenv
(``--cdk-venv``, default ``benchmarks/.cdk-venv``) on first use; node must be on PATH.

The no-op rebuild is the cold build's command run again: it hits the whole-build cache
(``pipeline.build``), which verifies ``out/<env>/`` against its manifest and skips the
work; the row below it runs it again with ``STREAMFLIX_BUILD_CACHE=0`` (verdict caches only).

Each round runs CDK synth, then each of our scenarios, in fresh processes (imports
included, as a user's ``python build.py`` pays them); a scenario's ratio is taken
against the CDK run of the same round (A/B pairing keeps the ratio meaningful while
the machine's speed drifts) and the MEDIAN over rounds is printed. CPU seconds
(user + system of the process and the children it waited for) hold better than wall
time on a shared machine; both are printed. Peak is the largest single process.

``--suite`` also times the whole test suite from a fresh clone of HEAD on both cores
(``pytest -n auto``); ``--install`` times ``pip install`` of what ``python build.py``
needs into a fresh virtualenv (core, and core + the ``scan`` extra). Both take minutes.
This prints figures; it asserts nothing, and no test is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDK_APP = ROOT / "benchmarks" / "cdk" / "app.py"

#: Runs a command and prints its own children's accounting: (wall, cpu, peak MiB).
MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024,
                  "rc": done.returncode, "out": done.stdout[-2000:], "err": done.stderr[-2000:]}))
"""

RENDER_ONLY = ["build.py", "--env", "{env}", "--out", "{out}", "--no-lint", "--no-scan"]
FULL_BUILD = ["build.py", "--env", "{env}", "--out", "{out}"]

MATRIX = """
import itertools, sys
from pathlib import Path
from streamflix import load_config, render_environment
from streamflix.config.models import EU_REGIONS
from streamflix.pipeline import check_stacks
rendered = []
for n, (preset, region) in enumerate(itertools.islice(itertools.cycle(
        itertools.product(["dev", "staging", "prod"], EU_REGIONS)), int(sys.argv[1]))):
    config = load_config(env=preset)
    ha = config.ha_database.model_copy(update={"region": region})
    variant = config.model_copy(update={"name": f"m{n}", "environment_suffix": f"m{n}", "ha_database": ha})
    rendered += render_environment(variant)
reports = check_stacks(rendered, label_dir=Path("matrix"))
assert all(not r.findings for r in reports), [f for r in reports for f in r.findings][:5]
print(len(rendered))
"""


def measure(argv: list[str], *, env: dict[str, str], cwd: Path = ROOT) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, *argv], cwd=cwd, env=env, capture_output=True, text=True)
    result = json.loads(done.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result['rc']}):\n{result['err']}{result['out']}")
    return result


def cdk_python(venv: Path) -> Path:
    """The CDK virtualenv's interpreter, creating it (aws-cdk-lib, constructs) on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing aws-cdk-lib and constructs into {venv} (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "aws-cdk-lib", "constructs"], check=True)
    return python


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def suite_row(env: dict[str, str]) -> dict:
    """The whole suite from a fresh clone of HEAD, in a fresh virtualenv, on both cores (install not timed)."""
    work = Path(tempfile.mkdtemp(prefix="streamflix-bench-suite-"))
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work / "repo")], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    python = str(work / "venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-e", ".[test]"], cwd=work / "repo", check=True)
    clean = dict(env, STREAMFLIX_CACHE_DIR=str(work / "cache"))
    started = time.perf_counter()
    done = subprocess.run([python, "-m", "pytest", "-q", "-n", "auto", "-p", "no:cacheprovider"],
                          cwd=work / "repo", env=clean, capture_output=True, text=True)
    wall = time.perf_counter() - started
    shutil.rmtree(work, ignore_errors=True)
    return {"wall": wall, "ok": done.returncode == 0, "tail": done.stdout.strip().splitlines()[-1:]}


def install_rows(env: dict[str, str]) -> list[tuple[str, float]]:
    """Wall seconds of ``pip install`` into a fresh venv: core (what ``build.py --no-scan`` needs), core + scan."""
    rows = []
    for label, spec in (("core", "."), ("core + [scan]", ".[scan]")):
        work = Path(tempfile.mkdtemp(prefix="streamflix-bench-pip-"))
        subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
        started = time.perf_counter()
        subprocess.run([str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", spec],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        rows.append((label, time.perf_counter() - started))
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="prod")
    parser.add_argument("--runs", type=int, default=3, help="paired rounds; medians are printed")
    parser.add_argument("--matrix", type=int, default=10, help="environments in the matrix row")
    parser.add_argument("--cdk-venv", type=Path, default=ROOT / "benchmarks" / ".cdk-venv")
    parser.add_argument("--suite", action="store_true", help="also time the whole suite from a fresh clone")
    parser.add_argument("--install", action="store_true", help="also time pip install into a fresh venv")
    args = parser.parse_args()

    cdk = str(cdk_python(args.cdk_venv))
    base_env = dict(os.environ)
    rounds: dict[str, list[dict]] = {k: [] for k in ("cdk", "cdk_off", "cold", "render", "noop", "noop_uncached")}
    for _ in range(args.runs):
        cache = tempfile.mkdtemp(prefix="streamflix-bench-cache-")
        out = tempfile.mkdtemp(prefix="streamflix-bench-out-")
        cdk_out = tempfile.mkdtemp(prefix="streamflix-bench-cdk-")
        env = dict(base_env, STREAMFLIX_CACHE_DIR=cache)
        rounds["cdk"].append(measure([cdk, str(CDK_APP), cdk_out], env=base_env, cwd=Path(cdk_out)))
        rounds["cdk_off"].append(measure([cdk, "-O", str(CDK_APP), cdk_out], env=base_env, cwd=Path(cdk_out)))
        fill = {"env": args.env, "out": out}
        rounds["render"].append(measure([sys.executable, *(a.format(**fill) for a in RENDER_ONLY)],
                                        env=dict(env, STREAMFLIX_CACHE_DIR=tempfile.mkdtemp())))
        rounds["cold"].append(measure([sys.executable, *(a.format(**fill) for a in FULL_BUILD)], env=env))
        rounds["noop"].append(measure([sys.executable, *(a.format(**fill) for a in FULL_BUILD)], env=env))
        rounds["noop_uncached"].append(measure([sys.executable, *(a.format(**fill) for a in FULL_BUILD)],
                                               env=dict(env, STREAMFLIX_BUILD_CACHE="0")))
        for folder in (out, cdk_out):
            shutil.rmtree(folder, ignore_errors=True)

    def ratio(key: str, figure: str) -> float:
        return median([ours[figure] / yard[figure] for ours, yard in zip(rounds[key], rounds["cdk"])])

    def fig(key: str, figure: str) -> float:
        return median([r[figure] for r in rounds[key]])

    print(f"CDK synth of the equivalent HA stack, median of {args.runs}: validator on "
          f"{fig('cdk', 'cpu'):.2f} s CPU / {fig('cdk', 'wall'):.2f} s wall / {fig('cdk', 'peak'):.0f} MiB; "
          f"off (python -O) {fig('cdk_off', 'cpu'):.2f} s CPU / {fig('cdk_off', 'wall'):.2f} s wall")
    header = f"{'target row':46} {'cpu s':>7} {'wall s':>7} {'peak MiB':>8} {'x CDK cpu':>9} {'x CDK wall':>10}  target"
    print(header)
    rows = [
        ("cold full build (3 stacks, lint, scan, docs)", "cold", "<= 1.0x"),
        ("render only (--no-lint --no-scan)", "render", "<= 0.1x"),
        ("no-op rebuild (whole-build cache hit)", "noop", "<= 0.1x"),
        ("  for reference: no-op, STREAMFLIX_BUILD_CACHE=0", "noop_uncached", "(verdict caches only)"),
    ]
    for name, key, target in rows:
        print(f"{name:46} {fig(key, 'cpu'):7.2f} {fig(key, 'wall'):7.2f} {fig(key, 'peak'):8.0f} "
              f"{ratio(key, 'cpu'):9.2f} {ratio(key, 'wall'):10.2f}  {target}")
    print(f"{'peak memory (cold build / CDK synth)':46} {'':7} {'':7} {fig('cold', 'peak'):8.0f} "
          f"{ratio('cold', 'peak'):9.2f} {'':10}  <= 0.5x (ratio of peaks)")

    per_template = []
    for count in sorted({max(1, args.matrix // 3), args.matrix}):
        result = measure([sys.executable, "-c", MATRIX, str(count)],
                         env=dict(base_env, STREAMFLIX_CACHE_DIR=tempfile.mkdtemp(prefix="streamflix-bench-matrix-")))
        templates = int(result["out"].strip().splitlines()[-1])
        per_template.append((count, templates, result))
    for count, templates, result in per_template:
        print(f"{f'matrix: {count} environments, {templates} templates':46} {result['cpu']:7.2f} {result['wall']:7.2f} "
              f"{result['peak']:8.0f} {result['cpu'] / fig('cdk', 'cpu'):9.2f} {result['wall'] / fig('cdk', 'wall'):10.2f}"
              f"  linear, both cores busy: cpu/wall {result['cpu'] / result['wall']:.2f}, "
              f"{result['wall'] / templates:.2f} s wall per template")

    if args.suite:
        suite = suite_row(base_env)
        print(f"{'whole suite, fresh clone, -n auto':46} {'':7} {suite['wall']:7.1f} {'':8} {'':9} "
              f"{suite['wall'] / fig('cdk', 'wall'):10.2f}  <= 180 s wall ({'green' if suite['ok'] else 'RED'}: "
              f"{' '.join(suite['tail'])})")
    else:
        print(f"{'whole suite, fresh clone, -n auto':46} not measured: pass --suite (minutes)   <= 180 s wall")
    if args.install:
        for label, wall in install_rows(base_env):
            print(f"{'pip install ' + label + ', fresh venv':46} {'':7} {wall:7.1f} {'':8} {'':9} "
                  f"{wall / fig('cdk', 'wall'):10.2f}  <= 60 s wall")
    else:
        print(f"{'pip install for build.py, fresh venv':46} not measured: pass --install (minutes)  <= 60 s wall")
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} (a shared machine: compare ratios, not seconds)")


if __name__ == "__main__":
    main()
