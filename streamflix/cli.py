"""``python build.py``: a thin click layer over streamflix.pipeline.

One error boundary (``_boundary``) wraps every command: each expected failure
(bad input, I/O, a held lock, Ctrl-C, SIGTERM) ends in one message and an exit
code from ``streamflix.errors.EXIT_CODES``, never a traceback. Nothing the
user typed is read as rich markup: the console has markup off.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streamflix import pipeline
from streamflix.artifacts import SECURITY_SCAN_GATE
from streamflix.catalog import load_catalog
from streamflix.config import PRESETS, load_config
from streamflix.config.models import EnvironmentConfig
from streamflix.errors import EXIT_CODES, ConfigError, Interrupted, StreamflixError
from streamflix.registry import discover

def _make_console() -> Console:
    """The stderr console. A terminal sets its width; a pipe or CI log has none, and rich's
    80-column default would cut the summary table's stack names and wrap long paths."""
    console = Console(stderr=True, highlight=False, markup=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=True, highlight=False, markup=False, width=200)
    return console


console = _make_console()

_EXIT_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code:<3}  {meaning}" for code, meaning in EXIT_CODES.items())


def _fail(message: str, exit_code: int) -> None:
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    sys.exit(exit_code)


@contextlib.contextmanager
def _signals_as_exceptions():
    """SIGTERM and SIGHUP raise Interrupted (like Ctrl-C's KeyboardInterrupt), so every
    ``finally`` runs: staging folders go, lint workers are terminated, locks released."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupted(signum, frame):
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, raise_interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _boundary(command):
    """Map every expected failure of ``command`` to one message and its exit code."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            with _signals_as_exceptions():
                return command(*args, **kwargs)
        except StreamflixError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            name = signal.Signals(signum).name
            _fail(f"interrupted ({name}); nothing was half-written: out/ keeps its previous files", 128 + signum)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}", 3)
        except MemoryError:
            _fail("out of memory (is the config file far larger than a config should be?)", 2)

    return guarded


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=_EXIT_HELP)
@click.option("--env", "env", type=click.Choice(PRESETS), help="Shipped preset to build (default: dev).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Your own config file.")
@click.option("--stack", "stacks", multiple=True,
              help="Build only this stack (repeatable); one of: " + ", ".join(sorted(discover())) + ".")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=pipeline.DEFAULT_OUT,
              show_default=True, help="Folder for rendered artifacts; each environment gets a sub-folder.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--no-lint", is_flag=True, help="Skip cfn-lint (our own rules still run).")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 if OUT/<env>/ differs from what the config renders now, or on findings.")
@click.option("--scan/--no-scan", default=True, show_default=True,
              help="Run the checkov security scan gate (about a second per environment; CI always runs it).")
@click.option("--sarif", "sarif_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every finding and suppression as one SARIF 2.1.0 log (for code scanning).")
@click.pass_context
@_boundary
def main(ctx: click.Context, env, config_file, stacks, out_dir, fmt, no_lint, check_only, scan, sarif_file) -> None:
    """Render StreamFlix CloudFormation stacks from a config, lint them, write them to OUT/<env>/."""
    if ctx.invoked_subcommand is not None:
        return
    config = _load_selected_config(env, config_file)
    skip_gates = () if scan else (SECURITY_SCAN_GATE,)
    if check_only:
        checked = pipeline.check(
            config, out_dir=out_dir, stacks=stacks, fmt=fmt, lint=not no_lint, skip_gates=skip_gates
        )
    else:
        started = time.perf_counter()
        with _progress(f"building {config.name}: render, our rules, cfn-lint, checkov") as say:
            report = pipeline.build(
                config, out_dir=out_dir, stacks=stacks, fmt=fmt, lint=not no_lint, skip_gates=skip_gates,
                on_lock_wait=lambda path: say(f"waiting for another build of {out_dir / config.name} (lock {path}) ..."),
            )
        report.notes.append(f"total {time.perf_counter() - started:.1f} s")
    if sarif_file is not None:
        _write_sarif(sarif_file, checked.build if check_only else report, lint=not no_lint, scan=scan)
    if check_only:
        _print_check(checked, lint=not no_lint)
        sys.exit(0 if checked.ok else 1)
    _print_report(report, lint=not no_lint, scan=scan)
    sys.exit(0 if report.ok else 1)


@contextlib.contextmanager
def _progress(description: str):
    """A spinner with the elapsed time while the build runs, on a terminal only (CI logs
    and pipes get the summary alone). Yields a function that prints above the spinner."""
    if not console.is_terminal:
        yield lambda text: console.print(text, soft_wrap=True)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        progress.add_task(description, total=None)
        yield lambda text: progress.console.print(text, soft_wrap=True)


def _write_sarif(path: Path, report: pipeline.BuildReport, *, lint: bool, scan: bool) -> None:
    from streamflix.checks.sarif import build_sarif, write_sarif
    from streamflix.errors import WriteError

    try:
        write_sarif(path, build_sarif(report, lint=lint, scan=scan))
    except OSError as exc:
        raise WriteError(f"--sarif {path}: cannot write ({exc.strerror or exc})") from None


def _load_selected_config(env: str | None, config_file: Path | None) -> EnvironmentConfig:
    if env and config_file:
        raise click.UsageError("give --env or --config, not both")
    return load_config(config_file, env=None if config_file else env)


def _print_check(checked: pipeline.CheckReport, *, lint: bool) -> None:
    for finding in checked.build.findings:
        click.echo(str(finding))
    target = checked.build.out_dir
    for line in checked.drift.lines(target):
        click.echo(line)
    if not lint:
        console.print("cfn-lint skipped (--no-lint); our rules ran.")
    if checked.drift.tools_only:
        console.print(f"{target}: every artifact is up to date; only the manifest's tool versions differ "
                      "(rebuild to record them)")
    elif checked.drift.clean:
        console.print(f"{target}: up to date with the config")
    else:
        count = len(checked.drift.missing) + len(checked.drift.changed) + len(checked.drift.extra)
        console.print(f"{target}: {count} file(s) differ from what the config renders; "
                      f"run the same command without --check to rebuild, then commit")
    if checked.build.findings:
        console.print(f"{len(checked.build.findings)} finding(s): a build would be rejected")


def _print_report(report: pipeline.BuildReport, *, lint: bool, scan: bool = True) -> None:
    for finding in report.findings:
        click.echo(str(finding))
    table = Table(title=f"{report.environment}: {'written to ' + str(report.out_dir) if report.written else 'NOT written'}")
    catalog = load_catalog()
    for column in ("stack", "region", "resources", "bytes", "findings", "seconds", "engine versions"):
        table.add_column(column, justify="right" if column in ("resources", "bytes", "findings", "seconds") else "left")
    for stack_report in report.stacks:
        stack = stack_report.stack
        table.add_row(stack.blueprint, stack.region, str(stack.resource_count), str(len(stack.text.encode())),
                      str(len(stack_report.findings)),
                      "cached" if stack_report.cached else f"{stack_report.seconds:.2f}",
                      catalog.version_source(stack.region))
    console.print(table)
    for gate, seconds in report.gate_seconds.items():
        console.print(f"gate {gate}: {seconds:.2f} s")
    for floor, reason in report.security_overrides:
        console.print(f"security override {floor}: {reason}")
    console.print(f"suppressions: {len(report.suppressions)}" + ("" if report.suppressions else " (none)"))
    for suppression in report.suppressions:
        console.print(f"  {suppression}", soft_wrap=True)
    for line in report.lifecycle:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True)
    if not lint:
        console.print("cfn-lint skipped (--no-lint); our rules ran.")
    if not scan:
        console.print("checkov security scan skipped (--no-scan); CI runs it.")
    if not report.ok:
        console.print(f"{len(report.findings)} finding(s): previous files left whole; rejected renders are beside "
                      f"them under {report.out_dir.parent / pipeline.REJECTED_DIR}")


@main.command("diff")
@click.option("--against", "against", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A previous build's out/ folder (holds one sub-folder per environment).")
@click.option("--env", "env", type=click.Choice(PRESETS), help="Shipped preset to compare (default: dev).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Your own config file.")
@click.option("--stack", "stacks", multiple=True, help="Compare only this stack (repeatable).")
@click.option("--allow-replacement", is_flag=True, help="Exit 0 even when stateful resources would be lost.")
@click.option("--json", "as_json", is_flag=True, help="Print deterministic JSON instead of text.")
@click.pass_context
@_boundary
def diff_command(ctx: click.Context, against, env, config_file, stacks, allow_replacement, as_json) -> None:
    """Compare what the config renders now with a previous build, offline.

    Lists added, removed and modified resources per stack with the changed
    property paths and whether CloudFormation will replace each one. Exit 1 when
    a stateful resource (database, cache, file system, stream, key, secret,
    bucket, log group) would be removed or replaced, unless --allow-replacement.
    """
    from streamflix.diff import describe, diff_environment

    group = ctx.parent.params if ctx.parent else {}
    env = env or (None if config_file else group.get("env"))
    config_file = config_file or (None if env else group.get("config_file"))
    stacks = stacks or group.get("stacks") or ()
    config = _load_selected_config(env, config_file)
    result = diff_environment(config, against, stacks=stacks)
    if as_json:
        click.echo(result.to_json(), nl=False)
    else:
        out = Console(highlight=False, soft_wrap=True)
        for line in describe(result, allow_replacement=allow_replacement):
            out.print(line)
    sys.exit(result.exit_code(allow_replacement=allow_replacement))


@main.command()
@_boundary
def schema() -> None:
    """Print the config's JSON Schema (for editor completion and checking)."""
    from streamflix.registry import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2, sort_keys=True))


@main.group()
def catalog() -> None:
    """Inspect or rebuild the engine-version catalogue."""


@catalog.command("show")
@click.option("--engine", type=click.Choice(["aurora-postgresql", "postgres", "redis", "valkey"]), required=True)
@click.option("--region", required=True)
@_boundary
def catalog_show(engine: str, region: str) -> None:
    """List the versions that can create new clusters of ENGINE in REGION."""
    from streamflix.catalog import load_catalog

    data = load_catalog()
    versions = data.versions(engine, region)
    if not versions:
        raise click.BadParameter(f"no data for {engine} in {region}; regions: {', '.join(data.regions)}")
    click.echo(f"# {engine} in {region}, catalogue of {data.snapshot_date}")
    click.echo("\n".join(versions))


@catalog.command("seed")
@click.option("--date", "snapshot_date", required=True, help="Snapshot date to record, YYYY-MM-DD.")
@_boundary
def catalog_seed(snapshot_date: str) -> None:
    """Rebuild the catalogue from the installed cfn-lint's data (offline)."""
    from streamflix.catalog.engines import CATALOG_FILE
    from streamflix.catalog.seed import catalog_from_cfn_lint

    target = Path(__file__).parent / "catalog" / CATALOG_FILE
    target.write_text(catalog_from_cfn_lint(snapshot_date).to_json(), "utf-8")
    click.echo(f"wrote {target}")


@catalog.command("refresh")
@click.option("--region", "regions", multiple=True, help="Region to query (repeatable; default: every commercial region).")
@click.option("--date", "snapshot_date", required=True, help="Snapshot date to record, YYYY-MM-DD.")
@_boundary
def catalog_refresh(regions: tuple[str, ...], snapshot_date: str) -> None:
    """Rebuild engine versions per region from the AWS APIs (needs AWS credentials)."""
    import boto3

    from streamflix.catalog import load_catalog
    from streamflix.catalog.engines import CATALOG_FILE
    from streamflix.catalog.refresh import commercial_regions, refresh_catalog

    base = load_catalog()
    result = refresh_catalog(boto3.session.Session(), regions or commercial_regions(base), snapshot_date, base)
    target = Path(__file__).parent / "catalog" / CATALOG_FILE
    target.write_text(result.catalog.to_json(), "utf-8")
    for region, problem in sorted(result.skipped.items()):
        click.echo(f"kept previous data for {region}: {problem}", err=True)
    click.echo(f"wrote {target} ({len(result.refreshed)} regions refreshed)")


@main.command()
@click.option("--env", "env", type=click.Choice(PRESETS), help="Shipped preset the stack was built from.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Your own config file.")
@click.option("--stack", "stack", required=True, help="Blueprint of the deployed stack, e.g. ha-database.")
@click.option("--stack-name", help="Deployed stack name (default: <project>-<suffix>-<stack>).")
@click.option("--file", "outputs_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("cfn-outputs") / "flat-outputs.json", show_default=True)
@_boundary
def outputs(env, config_file, stack, stack_name, outputs_file) -> None:
    """Write a deployed stack's outputs as a flat JSON object (for the integration tests)."""
    import boto3

    from streamflix.config.naming import stack_name as default_stack_name
    from streamflix.outputs import fetch_outputs, write_flat_outputs

    config = load_config(config_file, env=None if config_file else env)
    blueprint = pipeline.select_blueprints(config, [stack])[0]
    region = blueprint.region(config)
    name = stack_name or default_stack_name(config.project, config.environment_suffix, blueprint.name)
    values = fetch_outputs(boto3.client("cloudformation", region_name=region), name)
    path = write_flat_outputs(values, outputs_file)
    click.echo(f"wrote {len(values)} outputs of {name} ({region}) to {path}")


@main.command("wiring")
@click.option("--env", "env", type=click.Choice(PRESETS), help="Shipped preset (default: dev).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Your own config file.")
@click.option("--stack", "stack", required=True, help="The stack about to be deployed, e.g. dr-recovery.")
@click.option("--stack-name", "stack_names", multiple=True, metavar="BLUEPRINT=NAME",
              help="Deployed name of a source stack (repeatable); default <project>-<suffix>-<blueprint>.")
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the parameters file here instead of printing it.")
@_boundary
def wiring(env, config_file, stack: str, stack_names: tuple[str, ...], output: Path | None) -> None:
    """Resolve STACK's cross-region parameters from the deployed source stacks (needs AWS credentials).

    Prints the `aws cloudformation create-stack --parameters file://...` JSON.
    """
    from streamflix import wiring as wiring_module

    if env and config_file:
        raise click.UsageError("give --env or --config, not both")
    config = load_config(config_file, env=None if config_file else env)
    names = {}
    for pair in stack_names:
        blueprint, separator, name = pair.partition("=")
        if not separator or not blueprint or not name:
            raise click.BadParameter(f"{pair!r}: expected BLUEPRINT=NAME", param_hint="--stack-name")
        names[blueprint] = name
    description = wiring_module.wiring_description(config, pipeline.render_environment(config))
    if description is None or stack not in description["stacks"]:
        wired = ", ".join(description["stacks"]) if description else "(none)"
        raise ConfigError(f"--stack {stack}: not a wired stack of {config.name}; allowed: {wired}")
    values = wiring_module.resolve_parameters(
        description, stack, session=wiring_module.new_session(), stack_names=names
    )
    text = json.dumps(wiring_module.cloudformation_parameters(values), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, "utf-8")
        console.print(f"wrote {len(values)} parameter(s) for {stack} to {output}")


@main.group()
def prices() -> None:
    """Inspect or rebuild the on-demand price table the cost estimates use."""


@prices.command("show")
@click.option("--region", "regions", multiple=True, help="Only this region (repeatable).")
@_boundary
def prices_show(regions: tuple[str, ...]) -> None:
    """List the price table: region, SKU key, USD per unit, source date."""
    from streamflix.catalog.prices import load_prices

    table = load_prices()
    unknown = sorted(set(regions) - set(table.regions))
    if unknown:
        raise ConfigError(f"--region {', '.join(unknown)}: no prices recorded; regions in the table: "
                          f"{', '.join(table.regions)}")
    for entry in sorted(table.entries, key=lambda e: (e.region, e.sku)):
        if not regions or entry.region in regions:
            click.echo(f"{entry.region}\t{entry.sku}\t{entry.usd:g} USD/{entry.unit}\t{entry.date}")


def _pricing_client():
    """The Price List API client (served from us-east-1 for every region)."""
    import boto3

    from streamflix.catalog.prices import PRICING_ENDPOINT_REGION

    return boto3.client("pricing", region_name=PRICING_ENDPOINT_REGION)


@prices.command("refresh")
@click.option("--date", "snapshot_date", required=True, help="Date to record on refreshed prices, YYYY-MM-DD.")
@click.option("--region", "regions", multiple=True, help="Only this region (repeatable; default: every region in the table).")
@click.option("--sku", "skus", multiple=True, help="Only this SKU key (repeatable), e.g. ec2/nat-gateway/hour.")
@click.option("--file", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the table (default: the package's streamflix/catalog/prices.json).")
@_boundary
def prices_refresh(snapshot_date: str, regions: tuple[str, ...], skus: tuple[str, ...], target: Path | None) -> None:
    """Rebuild prices from the AWS Price List API (pricing:GetProducts; needs AWS credentials)."""
    from streamflix.catalog.prices import load_prices, prices_path, refresh_prices

    base = load_prices()
    unknown_regions = sorted(set(regions) - set(base.regions))
    unknown_skus = sorted(set(skus) - set(base.skus))
    if unknown_regions or unknown_skus:
        raise click.BadParameter(
            "; ".join(
                [f"regions not in the table: {', '.join(unknown_regions)} (known: {', '.join(base.regions)})"] * bool(unknown_regions)
                + [f"SKU keys not in the table: {', '.join(unknown_skus)}"] * bool(unknown_skus)
            )
        )
    result = refresh_prices(_pricing_client(), base, snapshot_date, regions=regions or None, skus=skus or None)
    path = target or prices_path()
    path.write_text(result.table.to_json(), "utf-8")
    for reference, problem in sorted(result.skipped.items()):
        click.echo(f"kept the recorded price of {reference}: {problem}", err=True)
    click.echo(f"wrote {path} ({len(result.refreshed)} prices refreshed, {len(result.skipped)} kept)")
