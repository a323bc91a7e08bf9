"""On-disk cache of check verdicts, so an unchanged template is never checked twice.

A verdict is keyed by the template text, its region, whether cfn-lint ran and a
fingerprint of everything else that can change a verdict: every file of the
``streamflix`` package (all source, not only ``checks/rules/``: a rule may read a
floor from ``floors.py``, a catalogue through ``catalog/``, or live in a new
module; and all package data), the installed version of every runtime dependency
(cfn-lint, policy_sentry, ...) and the Python version. Editing any of them
invalidates every cached verdict; that over-invalidates on a docs-only edit,
which costs one cold check, never a stale "clean".
The cache lives outside ``out/`` (``$STREAMFLIX_CACHE_DIR``, else
``$XDG_CACHE_HOME/streamflix``, else ``~/.cache/streamflix``) and is safe to delete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Iterable, Mapping

CACHE_FORMAT = 3


def cache_dir() -> Path:
    explicit = os.environ.get("STREAMFLIX_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamflix"


#: The distribution whose declared dependencies are fingerprinted.
DISTRIBUTION = "streamflix-blueprints"


def package_root() -> Path:
    """The folder of the installed ``streamflix`` package (source checkout or site-packages)."""
    return Path(str(resources.files("streamflix")))


def fingerprint_files(root: Path) -> str:
    """sha256 over every file of the package at ``root`` (path and bytes), bytecode caches excluded."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        data = path.read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def dependency_versions() -> list[str]:
    """``name==version`` of every runtime dependency declared by the installed distribution, sorted."""
    names = {"cfn-lint"}  # the lint verdict's tool, even if the metadata is unreadable
    try:
        for requirement in metadata.requires(DISTRIBUTION) or ():
            if "extra ==" in requirement:
                continue
            names.add(re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0])
    except metadata.PackageNotFoundError:
        pass
    return sorted(f"{name}=={_tool_version(name)}" for name in names)


@lru_cache(maxsize=1)
def _fingerprint() -> str:
    """What shapes a verdict besides the template: our whole package, dependency versions, Python."""
    digest = hashlib.sha256()
    digest.update(fingerprint_files(package_root()).encode())
    digest.update("\0".join(dependency_versions()).encode())
    digest.update(f"python {sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()


def _path(text: str, region: str, lint: bool, kind: str = "verdicts") -> Path:
    """``kind`` separates verdict families: "verdicts" (our rules + cfn-lint), "checkov"."""
    tool = f"checkov {_tool_version('checkov')}" if kind == "checkov" else ""
    key = hashlib.sha256(
        f"{CACHE_FORMAT}\0{kind}\0{tool}\0{_fingerprint()}\0{region}\0{lint}\0{text}".encode()
    ).hexdigest()
    return cache_dir() / kind / key[:2] / f"{key}.json"


@lru_cache(maxsize=None)
def _tool_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def load_verdict(text: str, region: str, lint: bool, kind: str = "verdicts") -> list[dict[str, Any]] | None:
    try:
        data = json.loads(_path(text, region, lint, kind).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def store_verdict(text: str, region: str, lint: bool, verdict: list[dict[str, Any]], kind: str = "verdicts") -> None:
    path = _path(text, region, lint, kind)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(verdict, handle)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only or full cache costs speed, never correctness


# --- whole-build cache -------------------------------------------------------------
#
# A build whose every input is unchanged writes the same bytes again; ``pipeline.build``
# asks here first and, on a hit, only proves that ``out/<env>/`` still holds exactly
# what the manifest recorded. The key (``build_key``) covers: the validated config
# (canonical JSON, the manifest's own hash input) and its name, the output folder, the
# format, the stack selection and the lint/scan flags; every file of the ``streamflix``
# package, the declared dependencies' versions and Python (``_fingerprint``); every file
# of each package that registers a blueprint (the bundled ``blueprints`` or a plugin)
# and that plugin distribution's version; and the manifest's tool versions (checkov
# included when installed). ``STREAMFLIX_BUILD_CACHE=0`` turns it off.

BUILD_CACHE_ENV = "STREAMFLIX_BUILD_CACHE"


def build_cache_enabled() -> bool:
    return os.environ.get(BUILD_CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def module_roots(module_names: Iterable[str]) -> list[Path]:
    """The source folder (package) or file (module) of each named top-level module, sorted."""
    roots: set[Path] = set()
    for name in module_names:
        module = sys.modules.get(name.split(".", 1)[0])
        if module is None:
            continue
        paths = list(getattr(module, "__path__", None) or ())
        if paths:
            roots.update(Path(p) for p in paths)
        elif getattr(module, "__file__", None):
            roots.add(Path(module.__file__))
    return sorted(roots)


def fingerprint_roots(roots: Iterable[Path]) -> str:
    """sha256 over every source file under each root (a folder or one file), bytecode excluded."""
    digest = hashlib.sha256()
    for root in roots:
        digest.update(f"{root}\0".encode())
        if root.is_dir():
            digest.update(fingerprint_files(root).encode())
        elif root.is_file():
            digest.update(hashlib.sha256(root.read_bytes()).hexdigest().encode())
    return digest.hexdigest()


def build_key(parts: Mapping[str, Any], plugin_roots: Iterable[Path]) -> str:
    """The whole-build cache key: ``parts`` (config, flags, tools; JSON-able) plus every source file that renders."""
    payload = json.dumps(dict(parts), sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256()
    for piece in (str(CACHE_FORMAT), "build", _fingerprint(), fingerprint_roots(plugin_roots), payload):
        digest.update(piece.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _build_path(key: str) -> Path:
    return cache_dir() / "builds" / key[:2] / f"{key}.pickle"


def load_build(key: str) -> bytes | None:
    try:
        return _build_path(key).read_bytes()
    except OSError:
        return None


def store_build(key: str, data: bytes) -> None:
    path = _build_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as handle:
            handle.write(data)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only or full cache costs speed, never correctness
