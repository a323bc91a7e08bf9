"""config -> blueprint -> troposphere Template -> rendered text -> validation -> out/.

Each step is a plain function a user's code or CI can call on its own; the CLI
is a thin layer over ``build``.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Collection, Iterator, Sequence

from streamflix.artifacts import ENVIRONMENT_GATES, PRODUCERS, SECURITY_SCAN_GATE
from streamflix.checks import Finding, is_cached, validate
from streamflix.checks.cache import BUILD_CACHE_ENV
from streamflix.checks.rules.quotas import s3_deploy_note
from streamflix.checks.scan import all_cached, require_scanner
from streamflix.checks.suppressions import Suppression, suppressions_in
from streamflix.config.models import EnvironmentConfig, alarm_gaps, engine_upgrades
from streamflix.config.naming import stack_name
from streamflix.drift import TreeDrift, compare_tree
from streamflix.errors import ConfigError
from streamflix.lifecycle import simulate, stack_views, summary_line
from streamflix.registry import Blueprint, blueprints_for, discover
from streamflix.render import (
    EXTENSIONS, Format, RenderedStack, render, shared_template, target_lock, write_tree_atomically,
)
from streamflix.template import StackTemplate

DEFAULT_OUT = Path("out")
REJECTED_DIR = ".rejected"


@dataclass
class StackReport:
    stack: RenderedStack
    findings: list[Finding]
    seconds: float
    #: the verdict came from the cache (``checks.cache``): nothing was linted
    cached: bool = False


@dataclass
class BuildReport:
    environment: str
    out_dir: Path
    stacks: list[StackReport] = field(default_factory=list)
    gate_findings: list[Finding] = field(default_factory=list)
    #: seconds each environment gate took, by gate name (skipped gates are absent)
    gate_seconds: dict[str, float] = field(default_factory=dict)
    #: every cfn-lint ignore and checkov skip the templates carry, with its reason
    suppressions: list[Suppression] = field(default_factory=list)
    #: security floors lowered by the config's security_overrides: (floor, reason)
    security_overrides: list[tuple[str, str]] = field(default_factory=list)
    #: things to know before deploying (e.g. a body too large to pass inline); never failures
    notes: list[str] = field(default_factory=list)
    #: ``--stack`` builds: the other stacks already in the folder, rendered (not linted)
    #: so the manifest and shared documents still describe the whole folder
    kept: list[RenderedStack] = field(default_factory=list)
    #: one line per stack: the lifecycle verdicts (streamflix.lifecycle) counted by phase and outcome
    lifecycle: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def findings(self) -> list[Finding]:
        return [f for report in self.stacks for f in report.findings] + self.gate_findings

    @property
    def ok(self) -> bool:
        return not self.findings


def select_blueprints(config: EnvironmentConfig, names: Sequence[str] | None = None) -> list[Blueprint]:
    """The environment's blueprints, or the named ones (refused with the valid names)."""
    available = blueprints_for(config)
    if not names:
        if not available:
            raise ConfigError(f"{config.name}: the config defines no stack sections; add one of: "
                              + ", ".join(bp.config_field for bp in discover().values()))
        return available
    by_name = {bp.name: bp for bp in available}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ConfigError(
            f"--stack {', '.join(unknown)}: not a stack of {config.name}; allowed: {', '.join(by_name) or '(none)'}"
        )
    return [by_name[name] for name in dict.fromkeys(names)]


def build_template(config: EnvironmentConfig, blueprint: str | Blueprint) -> StackTemplate:
    """Build one stack's template (a troposphere Template inside ``.template``)."""
    bp = discover()[blueprint] if isinstance(blueprint, str) else blueprint
    section = bp.section(config)
    if section is None:
        raise ConfigError(f"{config.name} has no {bp.config_field} section, so it has no {bp.name} stack")
    return bp.build(config, section)


def render_stack(config: EnvironmentConfig, blueprint: str | Blueprint, fmt: Format = "yaml") -> RenderedStack:
    bp = discover()[blueprint] if isinstance(blueprint, str) else blueprint
    stack_template = build_template(config, bp)
    body = stack_template.to_dict()
    return RenderedStack(
        blueprint=bp.name,
        region=bp.region(config),
        filename=f"{bp.name}{EXTENSIONS[fmt]}",
        text=render(body, fmt),
        resource_count=len(body["Resources"]),
    )


def render_environment(
    config: EnvironmentConfig, stacks: Sequence[str] | None = None, fmt: Format = "yaml"
) -> list[RenderedStack]:
    """Render every selected stack in memory; nothing touches the disk."""
    return [render_stack(config, bp, fmt) for bp in select_blueprints(config, stacks)]


def render_artifacts(config: EnvironmentConfig, rendered: Sequence[RenderedStack]) -> dict[str, str]:
    """Every file of ``out/<env>/``: the templates, then each producer's files, in order."""
    files = {stack.filename: stack.text for stack in rendered}
    for produce in PRODUCERS:
        for relative, content in produce(config, rendered, dict(files)).items():
            if relative in files:
                raise ValueError(f"two artifacts claim {relative}")
            files[relative] = content
    return files


def check_stacks(rendered: Sequence[RenderedStack], *, label_dir: Path, lint: bool = True) -> list[StackReport]:
    """Our rules (always) and cfn-lint (unless ``lint`` is False) on each rendered template.

    Templates without a cached verdict are checked in parallel, one process
    per core (cfn-lint is CPU-bound and holds the GIL).
    """
    jobs = [(stack.text, stack.region, str(label_dir / stack.filename), lint) for stack in rendered]
    cold = [job for job in jobs if not is_cached(job[0], job[1], lint)]
    workers = min(len(cold), os.cpu_count() or 1)
    if workers > 1:
        for job in cold:
            shared_template(job[0])  # parse once here; forked workers inherit it, later readers reuse it
        if lint:
            from streamflix.checks.lint import preload

            preload()  # import cfn-lint and load its rules once, before forking, not once per worker
        # multiprocessing.Pool, not ProcessPoolExecutor: leaving the block (an error,
        # Ctrl-C, SIGTERM) terminates the workers instead of waiting for their lint.
        with multiprocessing.get_context("fork").Pool(workers, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            outcomes = pool.map(_check_one, jobs, chunksize=1)
    else:
        outcomes = [_check_one(job) for job in jobs]
    return [
        StackReport(stack, findings, seconds, cached=job not in cold)
        for stack, job, (findings, seconds) in zip(rendered, jobs, outcomes)
    ]


def _die_with_parent(parent: int) -> None:
    """Worker initializer: on Linux the kernel SIGKILLs the worker when the build dies,
    even by SIGKILL (``prctl(PR_SET_PDEATHSIG)``); elsewhere Pool's exit terminates it.

    A forked worker inherits the CLI's handlers that turn SIGTERM into an exception;
    the parent owns interruption, so a worker dies quietly when the pool is terminated
    (SIGTERM) and leaves Ctrl-C (SIGINT, sent to the whole process group) to the parent.
    """
    import ctypes
    import signal

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _check_one(job: tuple[str, str, str, bool]) -> tuple[list[Finding], float]:
    text, region, filename, lint = job
    started = time.perf_counter()
    findings = validate(text, region=region, filename=filename, lint=lint)
    return findings, time.perf_counter() - started


@contextmanager
def _scan_beside_lint(
    config: EnvironmentConfig, rendered: Sequence[RenderedStack], target: Path, skip_gates: Collection[str]
) -> Iterator[dict[str, Future]]:
    """Start the checkov gate in its own process while cfn-lint runs, when it has work and a core to use.

    checkov (~5 s CPU cold) and cfn-lint (~5 s CPU a template) share nothing, so
    running them one after the other left a core idle. Yields {gate name: future of
    (start time, findings)}; empty when the gate is skipped, fully cached, or on one core.
    """
    gate = next((g for g in ENVIRONMENT_GATES if g.__name__ == SECURITY_SCAN_GATE), None)
    if gate is None or gate.__name__ in skip_gates or (os.cpu_count() or 1) < 2 or all_cached(rendered):
        yield {}
        return
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                             initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        yield {gate.__name__: pool.submit(_timed_gate, gate, config, rendered, target)}


def _timed_gate(gate, config, rendered, target):  # type: ignore[no-untyped-def]
    return time.perf_counter(), gate(config, rendered, target)


def assemble(
    config: EnvironmentConfig,
    *,
    out_dir: str | Path = DEFAULT_OUT,
    stacks: Sequence[str] | None = None,
    fmt: Format = "yaml",
    lint: bool = True,
    skip_gates: Collection[str] = (),
) -> tuple[BuildReport, dict[str, str]]:
    """Everything a build decides, in memory: the checked report and every file of ``out_dir/<env>/``."""
    target = Path(out_dir) / config.name
    known = {gate.__name__ for gate in ENVIRONMENT_GATES}
    unknown = sorted(set(skip_gates) - known)
    if unknown:
        raise ConfigError(f"cannot skip unknown gate(s) {', '.join(unknown)}; gates: {', '.join(sorted(known))}")
    if SECURITY_SCAN_GATE not in skip_gates:
        require_scanner()  # before any work: a build that cannot scan must not pass (or cost a lint)
    selected = select_blueprints(config, stacks)
    blueprints = _stacks_in_folder(config, selected, target, fmt) if stacks else selected
    everything = [render_stack(config, bp, fmt) for bp in blueprints]
    names = {bp.name for bp in selected}
    rendered = [stack for stack in everything if stack.blueprint in names]
    report = BuildReport(environment=config.name, out_dir=target)
    report.kept = [stack for stack in everything if stack.blueprint not in names]
    # gates, suppressions and documents describe the whole folder; only the selection is linted
    with _scan_beside_lint(config, everything, target, skip_gates) as scanning:
        report.stacks = check_stacks(rendered, label_dir=target, lint=lint)
        rendered = everything
        for gate in ENVIRONMENT_GATES:
            if gate.__name__ in skip_gates:
                continue
            started = time.perf_counter()
            if gate.__name__ in scanning:
                started, findings = scanning[gate.__name__].result()
            else:
                findings = gate(config, rendered, target)
            report.gate_findings += findings
            report.gate_seconds[gate.__name__] = time.perf_counter() - started
    report.suppressions = sorted(
        s for stack in rendered for s in suppressions_in(shared_template(stack.text), str(target / stack.filename))
    )
    report.security_overrides = [(o.rule, o.reason) for o in config.security_overrides]
    verdicts = simulate(stack_views(rendered))
    report.lifecycle = [summary_line(stack.blueprint, verdicts) for stack in rendered]
    report.notes = [
        note
        for stack in rendered
        if (note := s3_deploy_note(
            str(target / stack.filename), len(stack.text.encode("utf-8")),
            stack_name(config.project, config.environment_suffix, stack.blueprint), stack.region,
            # a macro (the Secrets Manager transform) needs CAPABILITY_AUTO_EXPAND as well
            "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" if "\nTransform:" in stack.text or '"Transform":' in stack.text
            else "CAPABILITY_IAM",
        ))
    ]
    report.notes += _unpriced_regions_note(rendered)
    report.notes += [f"{config.name}: {gap}" for gap in alarm_gaps(config)]
    report.notes += [f"{config.name}: {upgrade}" for upgrade in engine_upgrades(config)]
    return report, render_artifacts(config, rendered)


def _unpriced_regions_note(rendered: Sequence[RenderedStack]) -> list[str]:
    """Say in the summary when a cost estimate cannot be complete (no prices for a region)."""
    from streamflix.catalog.prices import load_prices

    priced = set(load_prices().regions)
    unpriced = sorted({stack.region for stack in rendered} - priced)
    if not unpriced:
        return []
    return [f"no prices recorded for {', '.join(unpriced)}: the cost estimates of stacks there are incomplete "
            f"(priced regions: {', '.join(sorted(priced))}; `build.py prices refresh --region` adds one)"]


def _stacks_in_folder(
    config: EnvironmentConfig, selected: Sequence[Blueprint], target: Path, fmt: Format
) -> list[Blueprint]:
    """The ``--stack`` selection plus every other stack of the environment whose
    template is already in ``target``, in the environment's order.

    A ``--stack`` build must leave a folder whose manifest and shared documents
    (wiring, runbooks) describe every template in it, exactly as a whole build
    of those stacks would; so the stacks already there are rendered too (and
    carried over only if unchanged, see ``build``).
    """
    names = {bp.name for bp in selected}
    chosen = []
    for bp in select_blueprints(config):
        if bp.name in names:
            chosen.append(bp)
            continue
        if (target / f"{bp.name}{EXTENSIONS[fmt]}").is_file():
            chosen.append(bp)
            continue
        other = [f"{bp.name}{ext}" for name, ext in EXTENSIONS.items() if name != fmt and (target / f"{bp.name}{ext}").is_file()]
        if other:
            raise ConfigError(
                f"--stack with --format {fmt}: {target} holds {other[0]} in another format; "
                "build the whole environment (without --stack) to change the format"
            )
    return chosen


def _refuse_stale_kept(report: BuildReport) -> None:
    """A ``--stack`` build keeps the other stacks' templates; they must be what the
    config renders now, or the folder would mix two configs under one manifest."""
    stale = [
        str(report.out_dir / stack.filename)
        for stack in report.kept
        if (report.out_dir / stack.filename).read_bytes() != stack.text.encode("utf-8")
    ]
    if stale:
        raise ConfigError(
            f"--stack: {', '.join(stale)} is not what the config renders now (the config or a tool changed since it "
            "was built); build the whole environment (without --stack) so out/ stays consistent"
        )


def build(
    config: EnvironmentConfig,
    *,
    out_dir: str | Path = DEFAULT_OUT,
    stacks: Sequence[str] | None = None,
    fmt: Format = "yaml",
    lint: bool = True,
    skip_gates: Collection[str] = (),
    on_lock_wait: Callable[[Path], None] | None = None,
) -> BuildReport:
    """Render, validate and, only when every check passes, write ``out_dir/<env>/`` atomically.

    A build of the whole environment (no ``stacks``) leaves exactly its files in
    ``out_dir/<env>/``: stale files (a removed stack, the other format) go. A
    ``stacks`` build lints and rewrites those stacks and keeps the other stacks
    already in the folder, which must be what the config renders now (else
    ConfigError); the manifest and shared documents describe them all, so the
    folder is byte-identical to a whole build of the same set of stacks.
    With findings, the previous files stay whole and the rejected renders go to
    ``out_dir/.rejected/<env>/`` so the reported line numbers can be read.
    ``skip_gates`` names environment gates not to run (``--no-scan``).
    Two builds of one ``out_dir/<env>/`` serialise on its lock (``on_lock_wait``
    is told when this one has to wait); see ``render.write_tree_atomically``
    for why no kill can leave the folder missing or mixed.
    """
    out_dir = Path(out_dir)
    select_blueprints(config, stacks)  # an unknown --stack is bad input: refuse it before touching out/
    # The lock is taken before rendering: a second build waits instead of doing the
    # work twice, and a folder that cannot be written is reported at once, not after lint.
    with target_lock(out_dir / config.name, on_wait=on_lock_wait):
        key = None if stacks else _build_cache_key(config, out_dir, fmt, lint, skip_gates)
        if key is not None:
            reused = _reuse_build(key, out_dir / config.name)
            if reused is not None:
                return reused
        report = _build_locked(config, out_dir, stacks, fmt, lint, skip_gates)
        if key is not None and report.written and report.ok:
            _remember_build(key, report)
        return report


def _build_cache_key(config, out_dir, fmt, lint, skip_gates) -> str | None:  # type: ignore[no-untyped-def]
    """The whole-build cache key of a whole-environment build (``checks.cache.build_key``), or None when off."""
    from importlib import metadata

    from streamflix.checks import cache
    from streamflix.manifest import canonical_config_json, tool_versions
    from streamflix.registry import ENTRY_POINT_GROUP

    if not cache.build_cache_enabled():
        return None
    modules = {
        part.__module__
        for bp in discover().values()
        for part in (bp.build, bp.region_of, bp.config_model)
        if part is not None and getattr(part, "__module__", None)
    }
    plugins = sorted(
        f"{ep.dist.name}=={ep.dist.version}" for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.dist
    )
    target = Path(out_dir) / config.name
    parts = {
        "config": canonical_config_json(config),
        "environment": config.name,
        "target": str(target),
        "target_real": os.path.realpath(target),
        "format": fmt,
        "lint": lint,
        "skip_gates": sorted(skip_gates),
        "tools": tool_versions(),
        "plugins": plugins,
    }
    roots = cache.module_roots(m for m in modules if m.split(".", 1)[0] != "streamflix")
    return cache.build_key(parts, roots)


def _remember_build(key: str, report: BuildReport) -> None:
    import hashlib
    import io

    from streamflix.checks.cache import store_build
    from streamflix.manifest import MANIFEST_FILE

    try:
        manifest = (report.out_dir / MANIFEST_FILE).read_bytes()
    except OSError:
        return
    buffer = io.BytesIO()
    _PlainPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((hashlib.sha256(manifest).hexdigest(), report))
    store_build(key, buffer.getvalue())


class _PlainPickler(pickle.Pickler):
    """Stores cfn-lint's parse nodes (str/dict/list subclasses with marks, built per
    process) as the plain values they are; everything else pickles as usual."""

    def reducer_override(self, obj):  # type: ignore[no-untyped-def]
        kind = type(obj)
        if kind.__module__.startswith("cfnlint"):
            for plain in (str, int, float, dict, list):
                if isinstance(obj, plain):
                    return plain, (plain(obj),)
        return NotImplemented


def _reuse_build(key: str, target: Path) -> BuildReport | None:
    """The stored report of an identical earlier build, if ``target`` still holds exactly what it wrote.

    Every file is read and hashed against the manifest the build wrote (whose own
    hash is stored with the report); a missing, changed or extra file is a miss,
    and the build then runs in full and rewrites the folder.
    """
    import hashlib
    import json
    import pickle

    from streamflix.checks.cache import load_build
    from streamflix.drift import files_on_disk
    from streamflix.manifest import MANIFEST_FILE

    data = load_build(key)
    if data is None:
        return None
    try:
        manifest_sha, report = pickle.loads(data)
    except Exception:  # noqa: BLE001 - an unreadable entry is a miss, never an error
        return None
    if not isinstance(report, BuildReport) or not report.ok or not report.written:
        return None
    on_disk = files_on_disk(target)
    manifest = on_disk.get(MANIFEST_FILE)
    if manifest is None or hashlib.sha256(manifest).hexdigest() != manifest_sha:
        return None
    try:
        listed = {entry["path"]: entry["sha256"] for entry in json.loads(manifest)["artifacts"]}
    except (ValueError, KeyError, TypeError):
        return None
    if set(on_disk) != set(listed) | {MANIFEST_FILE}:
        return None
    if any(hashlib.sha256(on_disk[path]).hexdigest() != digest for path, digest in listed.items()):
        return None
    for stack_report in report.stacks:
        stack_report.cached = True
    report.gate_seconds = {}
    report.notes.append(
        f"unchanged since an identical build: {target} verified against its manifest ({len(on_disk)} files); "
        f"render, checks and documents skipped (build cache; {BUILD_CACHE_ENV}=0 turns it off)"
    )
    return report


def _build_locked(config, out_dir, stacks, fmt, lint, skip_gates) -> BuildReport:
    report, files = assemble(config, out_dir=out_dir, stacks=stacks, fmt=fmt, lint=lint, skip_gates=skip_gates)
    target = report.out_dir
    _refuse_stale_kept(report)
    if report.ok:
        write_tree_atomically(target, files, prune=True)
        report.written = True
    else:
        rejected = out_dir / REJECTED_DIR / config.name
        write_tree_atomically(rejected, files, prune=True)
        for stack_report in report.stacks:
            path = str(rejected / stack_report.stack.filename)
            stack_report.findings = [replace(f, file=path) for f in stack_report.findings]
        report.gate_findings = [replace(f, file=f.file.replace(str(target), str(rejected), 1)) for f in report.gate_findings]
    return report


@dataclass
class CheckReport:
    """``build.py --check``: the build's findings plus how ``out_dir/<env>/`` differs from the render."""

    build: BuildReport
    drift: TreeDrift

    @property
    def ok(self) -> bool:
        return self.build.ok and self.drift.clean


def check(
    config: EnvironmentConfig,
    *,
    out_dir: str | Path = DEFAULT_OUT,
    stacks: Sequence[str] | None = None,
    fmt: Format = "yaml",
    lint: bool = True,
    skip_gates: Collection[str] = (),
) -> CheckReport:
    """Would ``build`` with these arguments change ``out_dir/<env>/``, or fail? Writes nothing.

    Files the render does not produce count as drift (a build would remove
    them). With ``stacks``, the other stacks already in the folder are part of
    the render, as in ``build``.
    """
    report, files = assemble(config, out_dir=out_dir, stacks=stacks, fmt=fmt, lint=lint, skip_gates=skip_gates)
    return CheckReport(report, compare_tree(report.out_dir, files))
