"""The engine-version catalogue: dated data, the pins we ship, and cfn-lint's verdict on them."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from streamflix.catalog import load_catalog, nearest_versions, version_key
from streamflix.catalog.seed import catalog_from_cfn_lint
from streamflix.config import PRESETS, load_config
from streamflix.config.models import (
    AURORA_DEFAULT_VERSION,
    CACHE_DEFAULT_VERSIONS,
    POSTGRES_DEFAULT_VERSION,
    HaDatabaseStackConfig,
)

PINS = [
    ("aurora-postgresql", AURORA_DEFAULT_VERSION),
    ("postgres", POSTGRES_DEFAULT_VERSION),
    *[(engine, version) for engine, version in CACHE_DEFAULT_VERSIONS.items()],
]


def cfn_lint_deprecated(engine: str) -> set[str]:
    """Versions the installed cfn-lint marks deprecated (RDS) for an engine."""
    folder = "aws_rds_dbcluster" if engine == "aurora-postgresql" else "aws_rds_dbinstance"
    base = resources.files("cfnlint.data.schemas.extensions")
    data = json.loads(base.joinpath(folder, "engine_version_deprecated.json").read_text())
    for block in data["allOf"]:
        props = block["if"]["properties"]
        if props.get("Engine", {}).get("const") == engine:
            return set(props["EngineVersion"]["enum"])
    return set()


def test_snapshot_is_dated_and_sourced():
    catalog = load_catalog()
    assert catalog.snapshot_date.count("-") == 2
    assert "cfn-lint" in catalog.source and "per region" in catalog.source


def test_post_mortem_versions():
    catalog = load_catalog()
    assert not catalog.has_version("aurora-postgresql", "eu-central-1", "15.4")
    # 15.8, the post-mortem's own fix, is deprecated by now: dates matter.
    assert not catalog.has_version("aurora-postgresql", "eu-central-1", "15.8")
    assert catalog.has_version("aurora-postgresql", "eu-central-1", "16.15")


@pytest.mark.parametrize(("engine", "version"), PINS)
def test_default_pins_are_not_deprecated_by_installed_cfn_lint(engine, version):
    assert version not in cfn_lint_deprecated(engine)


@pytest.mark.parametrize(("engine", "version"), PINS)
def test_default_pins_are_the_newest_minor_of_their_major(engine, version):
    catalog = load_catalog()
    for region in ("eu-central-1", "eu-west-2", "us-east-1"):
        assert catalog.newest_minor(engine, region, version.split(".")[0]) == version, region


@pytest.mark.parametrize("env", PRESETS)
def test_preset_pins_are_available_and_current(env):
    stack = load_config(env=env).ha_database
    catalog = load_catalog()
    assert catalog.has_version("aurora-postgresql", stack.region, stack.database.engine_version)
    assert stack.database.engine_version not in cfn_lint_deprecated("aurora-postgresql")
    assert catalog.has_version(stack.cache.engine, stack.region, stack.cache.version)


def test_catalogue_matches_the_installed_cfn_lint():
    """Upgrading cfn-lint without re-seeding (`build.py catalog seed`) fails here."""
    shipped = load_catalog()
    fresh = catalog_from_cfn_lint(shipped.snapshot_date)
    assert fresh.engine_versions == shipped.engine_versions
    assert fresh.db_instance_classes == shipped.db_instance_classes
    assert fresh.cache_node_types == shipped.cache_node_types


def test_every_region_keeps_its_own_list():
    catalog = load_catalog()
    for engine in ("aurora-postgresql", "postgres", "redis", "valkey"):
        assert set(catalog.engine_versions[engine]) == set(catalog.regions)


def test_version_ordering_and_nearest():
    assert sorted(["16.10", "16.9", "16.15"], key=version_key) == ["16.9", "16.10", "16.15"]
    assert nearest_versions("15.4", ["14.12", "15.10", "15.12", "16.1"], count=2) == ["15.10", "15.12"]
    assert nearest_versions("99.1", ["15.10", "16.1"], count=1) == ["16.1"]


def test_defaults_render_without_config():
    stack = HaDatabaseStackConfig()
    assert stack.database.engine_version == AURORA_DEFAULT_VERSION
    assert stack.cache.version == CACHE_DEFAULT_VERSIONS["valkey"]
