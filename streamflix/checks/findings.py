"""The one shape every check reports in, cfn-lint's and ours alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "informational"]


@dataclass(frozen=True, order=True)
class Finding:
    """A problem at ``file:line``: ``rule`` is a cfn-lint id (E3012) or ours (SF1001)."""

    file: str
    line: int
    rule: str
    severity: Severity
    message: str
    #: 1-based column where the tool knows it (cfn-lint, our rules); 0 when it does not (checkov).
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.rule} {self.message}"
