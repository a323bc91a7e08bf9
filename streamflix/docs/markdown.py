"""Small, deterministic Markdown and shell builders for the generated documents."""

from __future__ import annotations

import re
import shlex
from typing import Any, Iterable, Sequence

_BARE = re.compile(r"^[A-Za-z0-9_./:=,@%+\-]+$")
#: A shell variable reference we emit on purpose (``$STACK``, ``${FILLED}``).
_SHELL_VARIABLE = re.compile(r"\$(\{[A-Z_][A-Z0-9_]*\}|[A-Z_][A-Z0-9_]*)")


def cell(value: Any) -> str:
    """One table cell: pipes escaped, newlines flattened."""
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def code(text: str, language: str = "bash") -> str:
    return f"```{language}\n{text.rstrip()}\n```"


def quote(word: str) -> str:
    """Quote a shell word; our own ``$VARIABLES`` stay expandable inside double quotes."""
    if _BARE.match(word):
        return word
    literal_dollar = "$" in _SHELL_VARIABLE.sub("", word)
    if not literal_dollar and not re.search(r'["\\`!]', word):
        return f'"{word}"'
    return shlex.quote(word)


Option = tuple[str, Any]
CONTINUATION = " \\\n    "


def command(*words: str, options: Sequence[Option] = (), one_line: bool = False) -> str:
    """A shell command; options go one per line (``\\`` continued) unless short.

    An option's value may be None (a flag), a string, or a list of strings
    (several values after one flag, as ``--capabilities`` and ``--tags`` take).
    """
    head = " ".join(quote(w) if i else w for i, w in enumerate(words))
    parts = []
    for flag, value in options:
        if value is None:
            parts.append(flag)
        elif isinstance(value, (list, tuple)):
            parts.append(" ".join([flag, *(quote(str(v)) for v in value)]))
        else:
            parts.append(f"{flag} {quote(str(value))}")
    flat = " ".join([head, *parts])
    if one_line or len(flat) <= 100:
        return flat
    return CONTINUATION.join([head, *parts])


def aws(service: str, operation: str, *, region: str, options: Sequence[Option] = (), one_line: bool = False) -> str:
    """An AWS CLI command that always names its region (documents never rely on a default)."""
    return command("aws", service, operation, options=[("--region", region), *options], one_line=one_line)


def assign(variable: str, value_command: str) -> str:
    """``VARIABLE=$(command)`` on one line."""
    flat = value_command.replace(CONTINUATION, " ")
    return f"{variable}=$({flat})"


def anchor(title: str) -> str:
    """GitHub-style heading anchor."""
    slug = re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")
    return "#" + slug


def aws_wait(service: str, waiter: str, *, region: str, options: Sequence[Option] = ()) -> str:
    """``aws SERVICE wait WAITER`` (the CLI's polling command), naming its region."""
    return command("aws", service, "wait", waiter, options=[("--region", region), *options])
