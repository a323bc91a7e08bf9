"""``out/<env>/manifest.json``: what a build wrote and what shaped it.

The manifest lists every other file of ``out/<env>/`` with its sha256 and size,
the hash of the validated config, the versions of the tools that turned the
config into text, and the engine-catalogue snapshot the templates were checked
against. It holds no timestamps and no paths outside ``out/<env>/``, so two
builds of the same config with the same tools are byte-identical; a reviewer or
an auditor can tell from the manifest alone whether two builds should match.

It is the LAST producer in ``streamflix.artifacts.PRODUCERS`` (it needs every
other file); ``tests/test_manifest.py`` fails if anything is appended after it.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from typing import TYPE_CHECKING, Mapping, Sequence

from streamflix.catalog import load_catalog

if TYPE_CHECKING:
    from streamflix.config.models import EnvironmentConfig
    from streamflix.render import RenderedStack

MANIFEST_FILE = "manifest.json"
#: Bumped when the manifest's shape changes, so readers can tell versions apart.
MANIFEST_FORMAT = 1

#: Manifest key -> distribution name. Optional tools are listed only when installed.
TOOLS: dict[str, str] = {
    "streamflix": "streamflix-blueprints",
    "troposphere": "troposphere",
    "cfn-lint": "cfn-lint",
    "awacs": "awacs",
    "pydantic": "pydantic",
}
OPTIONAL_TOOLS: dict[str, str] = {"checkov": "checkov"}


def sha256_text(text: str) -> str:
    """The sha256 of ``text`` as the build writes it (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_config_json(config: "EnvironmentConfig") -> str:
    """The validated config as canonical JSON: defaults filled in, keys sorted, no whitespace.

    Hashing the validated model (not the YAML file) means comments, key order
    and spelled-out defaults do not change the hash; any value that reaches a
    blueprint does.
    """
    return json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_hash(config: "EnvironmentConfig") -> str:
    return sha256_text(canonical_config_json(config))


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools that shape the output (optional ones only when present)."""
    versions = {key: metadata.version(dist) for key, dist in TOOLS.items()}
    for key, dist in OPTIONAL_TOOLS.items():
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return dict(sorted(versions.items()))


def build_manifest(
    config: "EnvironmentConfig", rendered: Sequence["RenderedStack"], files: Mapping[str, str]
) -> dict[str, object]:
    """The manifest as a dict (see the module docstring); ``files`` are relative to ``out/<env>/``."""
    if MANIFEST_FILE in files:
        raise ValueError(f"{MANIFEST_FILE} is written by the manifest producer only")
    return {
        "manifest_format": MANIFEST_FORMAT,
        "environment": config.name,
        "config_sha256": config_hash(config),
        "catalog_snapshot": load_catalog().snapshot_date,
        "tools": tool_versions(),
        "stacks": [
            {"name": stack.blueprint, "region": stack.region, "file": stack.filename}
            for stack in sorted(rendered, key=lambda s: s.blueprint)
        ],
        "artifacts": [
            {"path": path, "sha256": sha256_text(files[path]), "bytes": len(files[path].encode("utf-8"))}
            for path in sorted(files)
        ],
    }


def produce_manifest(
    config: "EnvironmentConfig", rendered: Sequence["RenderedStack"], files: Mapping[str, str]
) -> dict[str, str]:
    """The artifact producer: ``{"manifest.json": <deterministic JSON>}``."""
    manifest = build_manifest(config, rendered, files)
    return {MANIFEST_FILE: json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"}
