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
from typing import Any

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
