"""checkov's CloudFormation checks over rendered templates: in this process, offline, one run.

Why in process and over one folder: checkov's CLI costs ~12 s for the three
presets (interpreter start, every framework's registry, the banner), while its
CloudFormation runner in process costs ~1.5 s to import once and ~1 s per run
over all of an environment's templates written to one temporary folder.

Offline by construction: the CloudFormation runner never talks to the
Prisma/Bridgecrew platform (that is checkov.main's job, which we do not call),
and the environment below is forced before checkov is first imported, because
checkov reads it at import time:

- ``BC_SKIP_MAPPING=TRUE``: no download of the platform's guideline mapping;
- ``CKV_SKIP_PACKAGE_UPDATE_CHECK=true``: no "new version" query (it runs at import);
- ``BC_API_KEY`` is read only by checkov's CLI argument parser, which never runs
  here; the runner filter also turns off the image referencer (no image lookups).

tests/test_security_scan.py proves it: the scan runs with sockets refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from streamflix.checks.cache import load_verdict, store_verdict
from streamflix.checks.findings import Finding
from streamflix.checks.suppressions import Suppression
from streamflix.errors import StreamflixError

if TYPE_CHECKING:
    from streamflix.config.models import EnvironmentConfig
    from streamflix.render import RenderedStack

#: checkov reads these when first imported; they keep it off the network.
OFFLINE_ENVIRONMENT = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


#: How to get the scanner; said whenever it is missing.
INSTALL_HINT = "pip install 'streamflix-blueprints[scan]'"


class ScannerMissing(StreamflixError):
    """checkov is not installed, so the security scan cannot run: the build must not pass."""

    exit_code = 1


def scanner_available() -> bool:
    """Is checkov importable here? (Without importing it: that costs a second and a half.)"""
    from importlib.util import find_spec

    return find_spec("checkov") is not None


def require_scanner() -> None:
    """Refuse, with one message, a build that asked for the security scan without checkov installed."""
    if not scanner_available():
        raise ScannerMissing(
            "checkov is not installed, so the security scan did not run and this build cannot pass: "
            f"{INSTALL_HINT} (CI and .ci/run always do), or pass --no-scan to build without the scan "
            "(the summary then says it did not scan)"
        )


@dataclass(frozen=True)
class ScannedTemplate:
    """One rendered template to scan: ``label`` is the path findings are reported at."""

    label: str
    text: str


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    #: checks skipped through a resource's Metadata.checkov.skip, with checkov's record of the comment
    skipped: list[Suppression] = field(default_factory=list)
    passed: int = 0
    #: passed checks per template label, so a caller can see every template was scanned
    passed_by_file: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    checkov_version: str = ""


_PLY_PARSERS: dict[tuple[type, str, bool], Any] = {}


def _memoise_jsonpath_tables() -> None:
    """Build bc_jsonpath_ng's LALR tables once per process, not once per expression.

    checkov parses a jsonpath for each attribute it renders, and bc_jsonpath_ng
    rebuilds PLY's parser (LALR tables) on every parse (its own comment: "we
    regenerate the parse table every time"): ~80 ms each, 1-2 s of CPU per scan.
    The grammar is fixed per parser class and its ``p_*`` actions keep no state on
    the instance, so one built parser per (class, start symbol, debug) serves all.
    """
    import ply.yacc
    from bc_jsonpath_ng import parser as jsonpath_parser

    if getattr(jsonpath_parser.JsonPathParser.parse_token_stream, "_streamflix_memoised", False):
        return

    def parse_token_stream(self: Any, token_iterator: Any, start_symbol: str = "jsonpath") -> Any:
        key = (type(self), start_symbol, bool(self.debug))
        built = _PLY_PARSERS.get(key)
        if built is None:
            built = _PLY_PARSERS[key] = ply.yacc.yacc(
                module=self, debug=self.debug, write_tables=0, start=start_symbol, errorlog=jsonpath_parser.logger
            )
        return built.parse(lexer=jsonpath_parser.IteratorToTokenStream(token_iterator))

    parse_token_stream._streamflix_memoised = True  # type: ignore[attr-defined]
    jsonpath_parser.JsonPathParser.parse_token_stream = parse_token_stream


def _runner() -> tuple[Any, Any, str]:
    """checkov's CloudFormation runner class, RunnerFilter and version, imported offline."""
    os.environ.update(OFFLINE_ENVIRONMENT)
    from checkov.cloudformation.runner import Runner
    from checkov.runner_filter import RunnerFilter
    from checkov.version import version

    _memoise_jsonpath_tables()
    return Runner, RunnerFilter, version


SCAN_PREFIX = "streamflix-scan-"


def _sweep_abandoned_scan_folders() -> None:
    """Remove ``$TMPDIR/streamflix-scan-<pid>-*`` folders whose process is gone.

    The scan's TemporaryDirectory is removed on any exception, Ctrl-C or SIGTERM;
    only a SIGKILL can leave one, with template copies in it, so the next scan
    removes folders of processes that no longer exist.
    """
    root = Path(tempfile.gettempdir())
    for folder in root.glob(f"{SCAN_PREFIX}*-*"):
        pid = folder.name[len(SCAN_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def scan_templates(templates: Sequence[ScannedTemplate]) -> ScanResult:
    """Every checkov CloudFormation check (resource and graph checks) over ``templates``, in one run.

    A failed check becomes an error Finding at ``label:line`` (the resource's
    first line); a parse error is a finding too, so nothing goes unscanned.
    """
    started = time.perf_counter()
    Runner, RunnerFilter, version = _runner()
    result = ScanResult(checkov_version=version)
    if not templates:
        return result
    _sweep_abandoned_scan_folders()
    with tempfile.TemporaryDirectory(prefix=f"{SCAN_PREFIX}{os.getpid()}-") as folder:
        root = Path(folder)
        label_of: dict[str, str] = {}
        for index, template in enumerate(templates):
            # One sub-folder per template: two environments may render the same file name.
            path = root / str(index) / Path(template.label).name
            path.parent.mkdir()
            path.write_text(template.text, encoding="utf-8")
            label_of[f"/{path.relative_to(root)}"] = template.label
        runner_filter = RunnerFilter(framework=["cloudformation"], show_progress_bar=False, run_image_referencer=False)
        reports = Runner().run(root_folder=str(root), runner_filter=runner_filter)
        for report in reports if isinstance(reports, list) else [reports]:
            for error in report.parsing_errors:
                relative = "/" + os.path.relpath(error, root)
                result.findings.append(
                    Finding(label_of.get(relative, relative), 1, "CHECKOV", "error", "checkov could not parse the template")
                )
            for record in report.failed_checks:
                result.findings.append(
                    Finding(
                        file=label_of.get(record.file_path, record.file_path),
                        line=record.file_line_range[0] if record.file_line_range else 1,
                        rule=record.check_id,
                        severity="error",
                        message=f"{record.resource.split('.', 1)[-1]}: {record.check_name} (checkov)",
                    )
                )
            for record in report.skipped_checks:
                result.skipped.append(
                    Suppression(
                        file=label_of.get(record.file_path, record.file_path),
                        resource=record.resource.split(".", 1)[-1],
                        tool="checkov",
                        check=record.check_id,
                        reason=str(record.check_result.get("suppress_comment", "")),
                    )
                )
            result.passed += len(report.passed_checks)
            for record in report.passed_checks:
                label = label_of.get(record.file_path, record.file_path)
                result.passed_by_file[label] = result.passed_by_file.get(label, 0) + 1
    result.findings.sort()
    result.skipped.sort()
    result.seconds = time.perf_counter() - started
    return result


def all_cached(rendered: Sequence["RenderedStack"]) -> bool:
    """Does every template already have a cached checkov verdict (so the gate costs no scan)?"""
    return all(load_verdict(stack.text, stack.region, True, kind="checkov") is not None for stack in rendered)


def security_scan(config: "EnvironmentConfig", rendered: Sequence["RenderedStack"], target: Path) -> list[Finding]:
    """The environment gate: checkov over every template of the environment, in one run.

    checkov judges each file on its own, so a template's verdict is cached by its
    text and the checkov version (see ``checks.cache``); only templates without
    a cached verdict are scanned, together.
    """
    require_scanner()
    findings: list[Finding] = []
    uncached: list[tuple[str, "RenderedStack"]] = []
    for stack in rendered:
        label = str(target / stack.filename)
        cached = load_verdict(stack.text, stack.region, True, kind="checkov")
        if cached is None:
            uncached.append((label, stack))
        else:
            findings += [Finding(**dict(item, file=label)) for item in cached]
    if uncached:
        scanned = scan_templates([ScannedTemplate(label, stack.text) for label, stack in uncached]).findings
        for label, stack in uncached:
            own = [f for f in scanned if f.file == label]
            store_verdict(stack.text, stack.region, True, [asdict(replace(f, file="")) for f in own], kind="checkov")
            findings += own
    return sorted(findings)
