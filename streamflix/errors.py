"""Errors that reach users as one clear message, never as a traceback."""

from __future__ import annotations


class StreamflixError(Exception):
    """Base class: anything the CLI reports and maps to an exit code."""

    exit_code = 1


class ConfigError(StreamflixError):
    """The config cannot be used: names the file, field path, bad value and what is allowed."""

    exit_code = 2


class RuleViolation(ValueError):
    """Raised inside model validators; carries the sub-path of the offending field.

    Pydantic wraps it in a ValidationError at the model's location; the loader
    joins that location with ``path`` so the message names the exact field.
    """

    def __init__(self, path: str, value: object, problem: str, allowed: str | None = None):
        self.path = path
        self.value = value
        self.problem = problem
        self.allowed = allowed
        text = f"{problem}"
        if allowed:
            text += f"; allowed: {allowed}"
        super().__init__(text)
