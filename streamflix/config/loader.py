"""Config file -> validated EnvironmentConfig, or one clear ConfigError.

The file is read defensively, because a config is input from people and tools:
at most ``MAX_CONFIG_BYTES`` from a regular file (a FIFO or ``/dev/zero`` is
refused before it is opened, so nothing hangs or fills memory), strict UTF-8,
duplicate keys refused (YAML would silently keep the later one), and alias
expansion bounded (``MAX_YAML_NODES``: a 2 KB "billion laughs" file must not
take minutes and gigabytes). Every problem names the file and the YAML line
of the offending field; values are echoed shortened (``shorten``).
"""

from __future__ import annotations

import difflib
import os
import stat
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from streamflix.config.models import EnvironmentConfig
from streamflix.errors import ConfigError, RuleViolation

PRESETS = ("dev", "staging", "prod")
DEFAULT_PRESET = "dev"
#: The shipped presets are about 2 KB; a config 100 times that is a mistake, not a config.
MAX_CONFIG_BYTES = 256 * 1024
#: Nodes visited while building the config from YAML, counting every alias expansion.
MAX_YAML_NODES = 20_000
#: Nesting deeper than any config model.
MAX_YAML_DEPTH = 32
#: Characters of a value echoed in an error message.
ECHO_LIMIT = 80

Path_ = tuple[str | int, ...]


def shorten(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length noted."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


def preset_path(name: str) -> Path:
    """Path of a shipped preset; refuses unknown names with the list of presets."""
    if name not in PRESETS:
        raise ConfigError(f"--env {name!r} is not a shipped preset; allowed: {', '.join(PRESETS)} (or --config FILE)")
    return Path(str(resources.files("streamflix.config").joinpath("presets", f"{name}.yaml")))


def load_config(path: str | Path | None = None, *, env: str | None = None) -> EnvironmentConfig:
    """Load and validate one environment's config.

    Give ``path`` for a user's file or ``env`` for a shipped preset (``dev``
    when neither is given). Raises ConfigError naming the file, the field
    path and its YAML line, the bad value and what is allowed.
    """
    if path is not None and env is not None:
        raise ConfigError("give either a config file or a preset name, not both")
    source = Path(path) if path is not None else preset_path(env or DEFAULT_PRESET)
    return parse_config(read_config_text(source), source=str(source))


def read_config_text(source: Path) -> str:
    """The file's text: a regular file, at most MAX_CONFIG_BYTES, UTF-8."""
    try:
        info = os.stat(source)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe or device?)"
            raise ConfigError(f"{source}: cannot read config: {kind}")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{source}: {info.st_size:,} bytes; a config may be at most {MAX_CONFIG_BYTES:,} bytes")
        with open(source, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: more than {MAX_CONFIG_BYTES:,} bytes; a config may be at most that")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}:{line}: not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); save the file as UTF-8"
        ) from None


def parse_config(text: str, *, source: str = "<config>") -> EnvironmentConfig:
    """Validate YAML text as an EnvironmentConfig (``source`` names it in errors)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: {len(text):,} characters; a config may be at most {MAX_CONFIG_BYTES:,} bytes")
    data, lines = _load_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of fields, got {type(data).__name__}")
    try:
        return EnvironmentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, lines)) from None


class _Builder:
    """Python data from a composed YAML node graph, with limits and a line per field path."""

    def __init__(self, source: str):
        self.source = source
        self.constructor = yaml.SafeLoader("")
        self.visited = 0
        self.lines: dict[Path_, int] = {}

    def refuse(self, node: yaml.Node, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {problem}")

    def build(self, node: yaml.Node, path: Path_ = ()) -> Any:
        self.visited += 1
        if self.visited > MAX_YAML_NODES:
            raise self.refuse(node, f"the YAML expands to more than {MAX_YAML_NODES:,} values "
                                    "(aliases repeated inside aliases?); a config is far smaller")
        if len(path) > MAX_YAML_DEPTH:
            raise self.refuse(node, f"nested more than {MAX_YAML_DEPTH} levels deep (a recursive alias?)")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node)
            if key in seen:
                where = ".".join(str(p) for p in path + (key,))
                raise self.refuse(key_node, f"{where}: duplicate key (first at line {seen[key]}); "
                                            "YAML would silently keep the later value, so remove one")
            seen[key] = key_node.start_mark.line + 1
        self.constructor.flatten_mapping(node)  # "<<: *defaults" merges, explicit keys win
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, path + (key,))
        return result

    def _key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.refuse(node, "a key must be a plain value, not a list or mapping")
        key = self.constructor.construct_object(node)
        return key


def _load_yaml(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    builder = _Builder(source)
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when built with it
        data = None if root is None else builder.build(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a config") from None
    return data, builder.lines


def format_validation_error(exc: ValidationError, source: str, lines: dict[Path_, int] | None = None) -> str:
    """One line per problem: file:line, dotted field path, shortened value, what is allowed."""
    out = [f"{source}: {exc.error_count()} problem(s) in the config"]
    for error in exc.errors(include_url=False):
        path = _error_path(error)
        line = _line_of(path, lines or {})
        out.append(f"  {'line ' + str(line) + ': ' if line else ''}{_describe(error)}")
    return "\n".join(out)


def _error_path(error: dict[str, Any]) -> Path_:
    path: Path_ = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, RuleViolation) and cause.path:
        path += tuple(int(p) if p.isdigit() else p for p in cause.path.split("."))
    return path


def _line_of(path: Path_, lines: dict[Path_, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _describe(error: dict[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, RuleViolation):
        # The violation's path is relative to the model that raised it.
        full_path = ".".join(part for part in (path, cause.path) if part)
        text = f"{full_path or '<root>'} = {shorten(cause.value)}: {_short_text(cause.problem, 300)}"
        if cause.allowed:
            text += f"; allowed: {_short_text(cause.allowed, 600)}"
        return text
    value = error.get("input")
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        known = _fields_at(error["loc"][:-1])
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "check the spelling against `python build.py schema`"
        return f"{path}: unknown field (value {shorten(value)}); {hint}"
    if error["type"] == "missing":
        return f"{path}: required field is missing"
    if error["type"] == "string_type" and isinstance(value, (int, float)):
        message += " (quote it in YAML, e.g. '16.15')"
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"{path or '<root>'} = {shorten(value)}: {_short_text(message, 600)}"


def _short_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model at ``loc`` inside EnvironmentConfig (for did-you-mean)."""
    model: Any = EnvironmentConfig
    for part in loc:
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``X | None``, ``list[X]``, ``dict[str, X]``, or the annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple, dict, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
    return annotation
