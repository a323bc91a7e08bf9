"""Config file -> validated EnvironmentConfig, or one clear ConfigError."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streamflix.config.models import EnvironmentConfig
from streamflix.errors import ConfigError, RuleViolation

PRESETS = ("dev", "staging", "prod")
DEFAULT_PRESET = "dev"


def preset_path(name: str) -> Path:
    """Path of a shipped preset; refuses unknown names with the list of presets."""
    if name not in PRESETS:
        raise ConfigError(f"--env {name!r} is not a shipped preset; allowed: {', '.join(PRESETS)} (or --config FILE)")
    return Path(str(resources.files("streamflix.config").joinpath("presets", f"{name}.yaml")))


def load_config(path: str | Path | None = None, *, env: str | None = None) -> EnvironmentConfig:
    """Load and validate one environment's config.

    Give ``path`` for a user's file or ``env`` for a shipped preset (``dev``
    when neither is given). Raises ConfigError naming the file, the field
    path, the bad value and what is allowed.
    """
    if path is not None and env is not None:
        raise ConfigError("give either a config file or a preset name, not both")
    source = Path(path) if path is not None else preset_path(env or DEFAULT_PRESET)
    try:
        text = source.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config ({exc.strerror or exc})") from None
    return parse_config(text, source=str(source))


def parse_config(text: str, *, source: str = "<config>") -> EnvironmentConfig:
    """Validate YAML text as an EnvironmentConfig (``source`` names it in errors)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of fields, got {type(data).__name__}")
    try:
        return EnvironmentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: file, dotted field path, bad value, what is allowed."""
    lines = [f"{source}: {exc.error_count()} problem(s) in the config"]
    for error in exc.errors(include_url=False):
        lines.append("  " + _describe(error))
    return "\n".join(lines)


def _describe(error: dict[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, RuleViolation):
        # The violation's path is relative to the model that raised it.
        full_path = ".".join(part for part in (path, cause.path) if part)
        text = f"{full_path or '<root>'} = {cause.value!r}: {cause.problem}"
        if cause.allowed:
            text += f"; allowed: {cause.allowed}"
        return text
    value = error.get("input")
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown field (value {value!r}); check the spelling against `python build.py schema`"
    if error["type"] == "missing":
        return f"{path}: required field is missing"
    if error["type"] == "string_type" and isinstance(value, (int, float)):
        message += " (quote it in YAML, e.g. '16.15')"
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"{path or '<root>'} = {value!r}: {message}"
