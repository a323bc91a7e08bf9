from __future__ import annotations

from typing import Any, Iterator

from streamflix.catalog import load_catalog, nearest_versions
from streamflix.checks.rules.base import Rule, RuleContext, properties, resources

_ENGINE_TYPES = (
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::CacheCluster",
)


class EngineVersionsInCatalogue(Rule):
    id = "SF1004"
    title = "Engine versions pinned and available in the region"
    description = (
        "Every database and cache pins an EngineVersion the catalogue lists for the "
        "template's region (seed 000 #2: aurora-postgresql 15.4 did not exist in eu-central-1)."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        catalog = load_catalog()
        for logical_id, resource in resources(template, *_ENGINE_TYPES):
            props = properties(resource)
            engine = props.get("Engine")
            inherits = "DBClusterIdentifier" in props or "SourceDBInstanceIdentifier" in props
            if resource["Type"] == "AWS::RDS::DBInstance" and inherits:
                continue  # cluster members and replicas run their source's version
            if not isinstance(engine, str):
                yield resource, f"{logical_id} does not state its Engine as a literal"
                continue
            version = props.get("EngineVersion")
            if version is None:
                yield resource, f"{logical_id} does not pin EngineVersion (AWS would pick one at deploy time)"
            elif not isinstance(version, str):
                yield resource, f"{logical_id} EngineVersion must be a quoted literal string"
            elif engine in catalog.engine_versions and not catalog.has_version(engine, ctx.region, version):
                near = ", ".join(nearest_versions(version, catalog.versions(engine, ctx.region)))
                yield props, (
                    f"{logical_id} {engine} {version} cannot be created in {ctx.region} "
                    f"(catalogue {catalog.snapshot_date}); nearest: {near}"
                )
