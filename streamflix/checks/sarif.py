"""Every finding of a build as one SARIF 2.1.0 log, for code-scanning UIs (``build.py --sarif FILE``).

One run per tool that ran: ``cfn-lint``, ``streamflix`` (the SF rules and the
environment gates' own rules) and ``checkov``. A tool that did not run
(``--no-lint``, ``--no-scan``) has no run, so a code-scanning service does not
read its absence as "every alert fixed". Each result points at the rendered
template, by path relative to the working directory when it lies below it, at the
finding's line and column (checkov reports lines only: its column is the first
character of that line).

Suppressions are results too, carrying a SARIF ``suppressions`` entry
(``kind: inSource``, the one-line reason as ``justification``) and located at the
suppressed resource, so a reviewer sees every silenced check beside its reason.

The log is deterministic: no timestamps, no absolute paths for files under the
working directory, results in a stable order.
"""

from __future__ import annotations

import json
import os
import re
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from streamflix.checks.findings import Finding
from streamflix.checks.suppressions import Suppression

if TYPE_CHECKING:
    from streamflix.pipeline import BuildReport

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

#: tool -> (package whose version is reported, where its rules are documented; None: README "Security gates")
TOOLS: dict[str, tuple[str, str | None]] = {
    "cfn-lint": ("cfn-lint", "https://github.com/aws-cloudformation/cfn-lint/blob/main/docs/rules.md"),
    "streamflix": ("streamflix-blueprints", None),
    "checkov": ("checkov", "https://www.checkov.io/5.Policy%20Index/cloudformation.html"),
}
_LEVEL = {"error": "error", "warning": "warning", "informational": "note"}


def tool_of(rule: str) -> str:
    """Which tool reported a rule id: SF* is ours, CKV*/CHECKOV checkov's, the rest cfn-lint's."""
    if rule.startswith("SF"):
        return "streamflix"
    if rule.startswith(("CKV", "CHECKOV")):
        return "checkov"
    return "cfn-lint"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _uri(path: str) -> str:
    """Relative POSIX path for a file below the working directory, else a file:// URI."""
    candidate = Path(path)
    if not candidate.is_absolute():
        return candidate.as_posix()
    try:
        return candidate.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return candidate.as_uri()


def _first_character(lines: Sequence[str], line: int) -> int:
    if 1 <= line <= len(lines):
        text = lines[line - 1]
        return len(text) - len(text.lstrip()) + 1
    return 1


def _resource_line(lines: Sequence[str], logical_id: str) -> int:
    """Line of a resource's key under ``Resources`` (YAML or JSON renders), 1 when not found."""
    key = re.compile(rf'^\s*"?{re.escape(logical_id)}"?\s*:')
    in_resources = False
    for number, text in enumerate(lines, 1):
        if re.match(r'^\s*"?Resources"?\s*:', text):
            in_resources = True
        elif in_resources and key.match(text):
            return number
    return 1


def _rule_descriptions() -> dict[str, dict[str, Any]]:
    """Our rules' titles and descriptions, for the streamflix run's rule metadata."""
    from streamflix.checks.rules import ALL_RULES

    return {
        rule.id: {"shortDescription": {"text": rule.title}, "fullDescription": {"text": " ".join(rule.description.split())}}
        for rule in ALL_RULES
    }


def sarif_log(
    findings: Iterable[Finding],
    suppressions: Iterable[Suppression],
    texts: Mapping[str, str],
    *,
    tools: Sequence[str],
    environment: str,
) -> dict[str, Any]:
    """The SARIF log of one build: ``texts`` maps each template's file name to its rendered text.

    ``tools`` names the tools that ran (keys of :data:`TOOLS`); findings of any
    other tool are an error, not a silent drop.
    """
    lines = {name: text.splitlines() for name, text in texts.items()}
    results: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    for tool, result in _finding_results(findings, lines):
        if tool not in results:
            raise ValueError(f"a {tool} finding ({result['ruleId']}) in a build where {tool} did not run")
        results[tool].append(result)
    for tool, result in _suppression_results(suppressions, lines, ran=tools):
        results[tool].append(result)
    described = _rule_descriptions() if "streamflix" in results else {}
    runs = [
        _run(tool, results[tool], environment=environment, descriptions=described if tool == "streamflix" else {})
        for tool in tools
    ]
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": runs}


def _finding_results(
    findings: Iterable[Finding], lines: Mapping[str, Sequence[str]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each finding as (tool, result), in a stable order; a finding without a column points at its line's text."""
    for finding in sorted(findings):
        template_lines = lines.get(Path(finding.file).name, [])
        column = finding.column or _first_character(template_lines, finding.line)
        level = _LEVEL.get(finding.severity, "warning")
        yield tool_of(finding.rule), _result(finding.rule, level, finding.message, finding.file, finding.line, column)


def _suppression_results(
    suppressions: Iterable[Suppression], lines: Mapping[str, Sequence[str]], *, ran: Sequence[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each suppression of a tool that ran as (tool, result), located at the suppressed resource."""
    for suppression in sorted(suppressions):
        if suppression.tool not in ran:
            continue  # that tool did not run in this build: nothing was suppressed
        template_lines = lines.get(Path(suppression.file).name, [])
        line = _resource_line(template_lines, suppression.resource)
        level = "warning" if suppression.tool == "cfn-lint" and suppression.check.startswith("W") else "error"
        yield suppression.tool, _result(
            suppression.check, level,
            f"{suppression.tool} {suppression.check} suppressed on {suppression.resource}: "
            f"{suppression.reason or '(no reason)'}",
            suppression.file, line, _first_character(template_lines, line),
            {"kind": "inSource", "justification": suppression.reason or "(no reason given)"},
        )


def _result(
    rule: str, level: str, message: str, file: str, line: int, column: int, suppression: dict[str, str] | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule,
        "level": level,
        "message": {"text": message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(file), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
            },
        }],
    }
    if suppression is not None:
        result["suppressions"] = [suppression]
    return result


def _run(
    tool: str, results: list[dict[str, Any]], *, environment: str, descriptions: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """One tool's run: its driver with the rules its results name (indexed in sorted order), then the results."""
    package, information = TOOLS[tool]
    ordered = sorted({result["ruleId"] for result in results})
    index = {rule: position for position, rule in enumerate(ordered)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    driver: dict[str, Any] = {
        "name": tool,
        "version": _version(package),
        "rules": [{"id": rule, **descriptions.get(rule, {})} for rule in ordered],
    }
    if information:
        driver["informationUri"] = information
    return {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"streamflix/{environment}/{tool}/"},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }


def build_sarif(report: "BuildReport", *, lint: bool, scan: bool) -> dict[str, Any]:
    """The SARIF log of a build or check report."""
    tools = [tool for tool, ran in (("cfn-lint", lint), ("streamflix", True), ("checkov", scan)) if ran]
    texts = {stack_report.stack.filename: stack_report.stack.text for stack_report in report.stacks}
    return sarif_log(report.findings, report.suppressions, texts, tools=tools, environment=report.environment)


def write_sarif(path: str | Path, log: Mapping[str, Any]) -> None:
    """Write the log atomically (a CI step never reads half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(log, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    os.replace(temporary, target)
