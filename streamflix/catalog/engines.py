"""Read access to the engine-version catalogue."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Iterable

#: The engines StreamFlix stacks use, and which AWS service owns each.
ENGINES: dict[str, str] = {
    "aurora-postgresql": "rds",
    "postgres": "rds",
    "redis": "elasticache",
    "valkey": "elasticache",
}

CATALOG_FILE = "engine_versions.json"


def version_key(version: str) -> tuple:
    """Sort key that orders '16.9' before '16.10' and keeps suffixes last."""
    parts = re.split(r"[.\-]", version)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def major_of(version: str) -> str:
    """'16.15' -> '16'; '7.1' -> '7'; '11.22-rds.20240418' -> '11'."""
    return re.split(r"[.\-]", version)[0]


def nearest_versions(wanted: str, available: Iterable[str], count: int = 5) -> list[str]:
    """The available versions closest to ``wanted``: same major first, by distance."""
    candidates = sorted(set(available), key=version_key)
    if not candidates:
        return []
    same_major = [v for v in candidates if major_of(v) == major_of(wanted)]
    pool = same_major or candidates
    wanted_key = version_key(wanted)
    # Order by position relative to the wanted version, then keep sorted output.
    ranked = sorted(pool, key=lambda v: (abs(_position(pool, wanted_key) - pool.index(v)), version_key(v)))
    return sorted(ranked[:count], key=version_key)


def _position(sorted_versions: list[str], wanted_key: tuple) -> int:
    for index, version in enumerate(sorted_versions):
        if version_key(version) >= wanted_key:
            return index
    return len(sorted_versions)


@dataclass(frozen=True)
class Catalog:
    """What can be created where, as of ``snapshot_date``."""

    snapshot_date: str
    source: str
    engine_versions: dict[str, dict[str, list[str]]]
    db_instance_classes: dict[str, dict[str, list[str]]]
    cache_node_types: dict[str, list[str]]
    #: Regions whose engine versions were read from the AWS APIs (``catalog refresh``), with the date.
    #: Every other region carries the seeded list, which is one global list (cfn-lint's data).
    refreshed_regions: dict[str, str] = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        return sorted(self.cache_node_types)

    def versions(self, engine: str, region: str) -> list[str]:
        """Versions of ``engine`` that can create new clusters in ``region``."""
        return list(self.engine_versions.get(engine, {}).get(region, []))

    def has_version(self, engine: str, region: str, version: str) -> bool:
        return version in self.engine_versions.get(engine, {}).get(region, ())

    def newest_minor(self, engine: str, region: str, major: str) -> str | None:
        """Newest plain release of ``major`` (no '-limitless'/'-rds.' builds)."""
        plain = [
            v
            for v in self.versions(engine, region)
            if major_of(v) == major and re.fullmatch(r"\d+(\.\d+)+", v)
        ]
        return max(plain, key=version_key) if plain else None

    def version_source(self, region: str) -> str:
        """How ``region``'s engine versions are known: read from AWS on a date, or the seeded global list."""
        refreshed = self.refreshed_regions.get(region)
        return f"per region, {refreshed}" if refreshed else "global list"

    def instance_classes(self, engine: str, region: str) -> list[str]:
        return list(self.db_instance_classes.get(engine, {}).get(region, []))

    def node_types(self, region: str) -> list[str]:
        return list(self.cache_node_types.get(region, []))

    def to_json(self) -> str:
        """Deterministic JSON, the on-disk form."""
        payload = {
            "snapshot_date": self.snapshot_date,
            "source": self.source,
            "engine_versions": self.engine_versions,
            "db_instance_classes": self.db_instance_classes,
            "cache_node_types": self.cache_node_types,
        }
        if self.refreshed_regions:
            payload["refreshed_regions"] = self.refreshed_regions
        return json.dumps(payload, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Catalog":
        data = json.loads(text)
        return cls(
            snapshot_date=data["snapshot_date"],
            source=data["source"],
            engine_versions=data["engine_versions"],
            db_instance_classes=data["db_instance_classes"],
            cache_node_types=data["cache_node_types"],
            refreshed_regions=data.get("refreshed_regions", {}),
        )


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalogue shipped with the package (cached: it is read-only data)."""
    text = resources.files("streamflix.catalog").joinpath(CATALOG_FILE).read_text("utf-8")
    return Catalog.from_json(text)
