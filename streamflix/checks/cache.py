"""On-disk cache of check verdicts, so an unchanged template is never checked twice.

A verdict is keyed by the template text, its region, whether cfn-lint ran, the
cfn-lint version, the catalogue snapshot and a fingerprint of our rules' source,
so upgrading cfn-lint, refreshing the catalogue or editing a rule invalidates it.
The cache lives outside ``out/`` (``$STREAMFLIX_CACHE_DIR``, else
``$XDG_CACHE_HOME/streamflix``, else ``~/.cache/streamflix``) and is safe to delete.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

CACHE_FORMAT = 2


def cache_dir() -> Path:
    explicit = os.environ.get("STREAMFLIX_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamflix"


@lru_cache(maxsize=1)
def _fingerprint() -> str:
    """What shapes a verdict besides the template: tool versions, catalogue, our rules."""
    digest = hashlib.sha256()
    digest.update(metadata.version("cfn-lint").encode())
    package = resources.files("streamflix")
    for relative in ("catalog/engine_versions.json",):
        digest.update(package.joinpath(relative).read_bytes())
    rules = package.joinpath("checks", "rules")
    for entry in sorted(rules.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            digest.update(entry.name.encode() + entry.read_bytes())
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
