"""cfn-lint, run in this process on rendered text, for the template's own region.

cfn-lint is imported lazily (about half a second) and its rules are loaded once
per process rather than once per template.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from streamflix.checks.findings import Finding

_SEVERITY = {"E": "error", "W": "warning", "I": "informational"}


@lru_cache(maxsize=1)
def _rules() -> Any:
    """cfn-lint's default rule set (errors and warnings), built once per process."""
    from cfnlint.core import get_rules

    return get_rules([], [], [])


def preload() -> None:
    """Import cfn-lint and build its rule set now (a parent does this before forking lint workers)."""
    import cfnlint.api  # noqa: F401
    import cfnlint.config  # noqa: F401

    _rules()


def run_cfn_lint(text: str, *, region: str, filename: str) -> list[Finding]:
    """Errors and warnings (cfn-lint's default set), with line numbers into ``text``."""
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    matches = lint(text, rules=_rules(), config=ManualArgs(regions=[region]))
    return sorted(
        Finding(filename, m.linenumber, m.rule.id, _SEVERITY[m.rule.id[0]], m.message, m.columnnumber)  # type: ignore[arg-type]
        for m in matches
        if m.rule.id[0] in ("E", "W")
    )
