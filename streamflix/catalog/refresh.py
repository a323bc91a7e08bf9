"""Rebuild the engine-version catalogue from the AWS APIs, region by region.

Uses RDS DescribeDBEngineVersions and ElastiCache DescribeCacheEngineVersions.
A region that cannot be queried (not opted in, no permission) keeps its
previous data and is reported, so a partial refresh never empties the file.
Instance classes and node types are carried over from the previous catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from streamflix.catalog.engines import Catalog, version_key
from streamflix.catalog.limits import partition_of

RDS_ENGINES = ("aurora-postgresql", "postgres")
CACHE_ENGINES = ("redis", "valkey")


@dataclass
class RefreshResult:
    catalog: Catalog
    refreshed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def commercial_regions(catalog: Catalog) -> list[str]:
    """The catalogue's regions in the standard aws partition: China, GovCloud and the ISO
    partitions need other credentials (and endpoints), so a refresh leaves them alone."""
    return [r for r in catalog.regions if partition_of(r) == "aws"]


def rds_versions(client: Any, engine: str) -> list[str]:
    """Versions of ``engine`` whose status is 'available' (deprecated ones cannot create clusters)."""
    versions = []
    for page in client.get_paginator("describe_db_engine_versions").paginate(Engine=engine):
        for item in page["DBEngineVersions"]:
            if item.get("Status", "available") == "available":
                versions.append(item["EngineVersion"])
    return sorted(set(versions), key=version_key)


def cache_versions(client: Any, engine: str) -> list[str]:
    versions = []
    for page in client.get_paginator("describe_cache_engine_versions").paginate(Engine=engine):
        versions.extend(item["EngineVersion"] for item in page["CacheEngineVersions"])
    return sorted(set(versions), key=version_key)


def refresh_catalog(session: Any, regions: Iterable[str], snapshot_date: str, base: Catalog) -> RefreshResult:
    """A new catalogue with the listed regions' engine versions read from AWS."""
    engine_versions = {engine: dict(by_region) for engine, by_region in base.engine_versions.items()}
    result = RefreshResult(catalog=base)
    for region in regions:
        try:
            rds = session.client("rds", region_name=region)
            cache = session.client("elasticache", region_name=region)
            fresh = {engine: rds_versions(rds, engine) for engine in RDS_ENGINES}
            fresh.update({engine: cache_versions(cache, engine) for engine in CACHE_ENGINES})
        except (ClientError, BotoCoreError) as exc:
            result.skipped[region] = str(exc)
            continue
        for engine, versions in fresh.items():
            engine_versions.setdefault(engine, {})[region] = versions
        result.refreshed.append(region)
    if not result.refreshed:
        # Nothing new was read: the catalogue must not claim a newer date than its data.
        return result
    source = (
        f"AWS APIs (DescribeDBEngineVersions, DescribeCacheEngineVersions) for {len(result.refreshed)} "
        f"region(s) on {snapshot_date}; other data as before: {base.source}"
    )
    refreshed = {**base.refreshed_regions, **{region: snapshot_date for region in result.refreshed}}
    result.catalog = replace(base, snapshot_date=snapshot_date, source=source, engine_versions=engine_versions,
                             refreshed_regions=refreshed)
    return result
