"""config -> blueprint -> troposphere Template -> rendered text -> validation -> out/.

Each step is a plain function a user's code or CI can call on its own; the CLI
is a thin layer over ``build``.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection, Sequence

from streamflix.artifacts import ENVIRONMENT_GATES, PRODUCERS
from streamflix.checks import Finding, is_cached, validate
from streamflix.checks.rules.quotas import s3_deploy_note
from streamflix.checks.suppressions import Suppression, suppressions_in
from streamflix.config.models import EnvironmentConfig, alarm_gaps
from streamflix.config.naming import stack_name
from streamflix.drift import TreeDrift, compare_tree
from streamflix.errors import ConfigError
from streamflix.registry import Blueprint, blueprints_for, discover
from streamflix.render import EXTENSIONS, Format, RenderedStack, load_template, render, write_tree_atomically
from streamflix.template import StackTemplate

DEFAULT_OUT = Path("out")
REJECTED_DIR = ".rejected"


@dataclass
class StackReport:
    stack: RenderedStack
    findings: list[Finding]
    seconds: float


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
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            outcomes = list(pool.map(_check_one, jobs))
    else:
        outcomes = [_check_one(job) for job in jobs]
    return [StackReport(stack, findings, seconds) for stack, (findings, seconds) in zip(rendered, outcomes)]


def _check_one(job: tuple[str, str, str, bool]) -> tuple[list[Finding], float]:
    text, region, filename, lint = job
    started = time.perf_counter()
    findings = validate(text, region=region, filename=filename, lint=lint)
    return findings, time.perf_counter() - started


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
    rendered = render_environment(config, stacks, fmt)
    report = BuildReport(environment=config.name, out_dir=target)
    report.stacks = check_stacks(rendered, label_dir=target, lint=lint)
    for gate in ENVIRONMENT_GATES:
        if gate.__name__ in skip_gates:
            continue
        started = time.perf_counter()
        report.gate_findings += gate(config, rendered, target)
        report.gate_seconds[gate.__name__] = time.perf_counter() - started
    report.suppressions = sorted(
        s for stack in rendered for s in suppressions_in(load_template(stack.text), str(target / stack.filename))
    )
    report.security_overrides = [(o.rule, o.reason) for o in config.security_overrides]
    report.notes = [
        note
        for stack in rendered
        if (note := s3_deploy_note(
            str(target / stack.filename), len(stack.text.encode("utf-8")),
            stack_name(config.project, config.environment_suffix, stack.blueprint), stack.region,
        ))
    ]
    report.notes += [f"{config.name}: {gap}" for gap in alarm_gaps(config)]
    return report, render_artifacts(config, rendered)


def build(
    config: EnvironmentConfig,
    *,
    out_dir: str | Path = DEFAULT_OUT,
    stacks: Sequence[str] | None = None,
    fmt: Format = "yaml",
    lint: bool = True,
    skip_gates: Collection[str] = (),
) -> BuildReport:
    """Render, validate and, only when every check passes, write ``out_dir/<env>/`` atomically.

    A build of the whole environment (no ``stacks``) leaves exactly its files in
    ``out_dir/<env>/``: stale files (a removed stack, the other format) go. A
    ``stacks`` build replaces those stacks' files and keeps the rest.
    With findings, the previous files stay whole and the rejected renders go to
    ``out_dir/.rejected/<env>/`` so the reported line numbers can be read.
    ``skip_gates`` names environment gates not to run (``--no-scan``).
    """
    out_dir = Path(out_dir)
    report, files = assemble(config, out_dir=out_dir, stacks=stacks, fmt=fmt, lint=lint, skip_gates=skip_gates)
    target = report.out_dir
    if report.ok:
        write_tree_atomically(target, files, prune=not stacks)
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

    Files the render does not produce count as drift for a whole-environment
    check (a build would remove them) and are ignored for a ``stacks`` check
    (a partial build keeps them).
    """
    report, files = assemble(config, out_dir=out_dir, stacks=stacks, fmt=fmt, lint=lint, skip_gates=skip_gates)
    return CheckReport(report, compare_tree(report.out_dir, files, report_extra=not stacks))
