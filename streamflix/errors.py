"""Errors that reach users as one clear message, never as a traceback."""

from __future__ import annotations


class StreamflixError(Exception):
    """Base class: anything the CLI reports and maps to an exit code."""

    exit_code = 1


class ConfigError(StreamflixError):
    """The config cannot be used: names the file, field path, bad value and what is allowed."""

    exit_code = 2


class WriteError(StreamflixError):
    """Files could not be written (permission, read-only or full file system, a file
    where a folder belongs). The previous ``out/<env>/`` is whole."""

    exit_code = 3

    @classmethod
    def from_os_error(cls, exc: OSError, target: object) -> "WriteError":
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(target) else ""
        return cls(f"could not write {target}{where}: {exc.strerror or exc}; its previous files are whole")


class LockTimeout(StreamflixError):
    """Another build of the same folder held its lock longer than we would wait."""

    exit_code = 4


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) turned into an exception, so cleanup runs as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: The CLI's exit codes (README "Building" and ``build.py --help`` list them).
EXIT_CODES: dict[int, str] = {
    0: "clean: every template rendered with zero findings (and was written, unless --check)",
    1: "findings (cfn-lint, checkov or our rules), or --check found drift; out/<env>/ keeps its previous files",
    2: "bad input (config, options): one message per problem; nothing is written",
    3: "could not write (permission, read-only or full disk, a file where a folder belongs); previous files whole",
    4: "another build of the same out/<env>/ held the lock too long",
    130: "interrupted (Ctrl-C / SIGINT); previous files whole",
    143: "terminated (SIGTERM); previous files whole",
}


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
