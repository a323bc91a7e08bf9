"""cfn-lint, run in this process on rendered text, for the template's own region."""

from __future__ import annotations

from cfnlint.api import lint
from cfnlint.config import ManualArgs

from streamflix.checks.findings import Finding

_SEVERITY = {"E": "error", "W": "warning", "I": "informational"}


def run_cfn_lint(text: str, *, region: str, filename: str) -> list[Finding]:
    """Errors and warnings (cfn-lint's default set), with line numbers into ``text``."""
    matches = lint(text, config=ManualArgs(regions=[region]))
    findings = [
        Finding(
            file=filename,
            line=match.linenumber,
            rule=match.rule.id,
            severity=_SEVERITY.get(match.rule.id[0], "error"),
            message=match.message,
        )
        for match in matches
    ]
    return sorted(findings)
