"""refresh_catalog against stubbed RDS and ElastiCache clients (botocore Stubber, never the network)."""

from __future__ import annotations

import copy
from dataclasses import replace

import boto3
import pytest
from botocore.stub import Stubber

from streamflix.catalog import load_catalog, version_key
from streamflix.catalog.refresh import CACHE_ENGINES, RDS_ENGINES, commercial_regions, refresh_catalog

SNAPSHOT_DATE = "2027-01-15"
REFRESHED = "eu-central-1"
FAILING = "eu-west-1"
UNTOUCHED = "us-east-1"

AURORA = [
    ("16.10", "available"),
    ("15.4", "deprecated"),
    ("16.9", "available"),
    ("16.15", "available"),
    ("15.10", "available"),
]
POSTGRES = [
    ("16.9", "available"),
    ("11.22-rds.20240418", "available"),
    ("11.22", "deprecated"),
    ("17.2", "available"),
    ("16.15", "available"),
]
REDIS = ["7.1", "6.2", "7.0"]
VALKEY = ["8.0", "7.2", "8.10", "8.2"]


def rds_page(engine: str, versions: list[tuple[str, str]], marker: str | None = None) -> dict:
    page: dict = {
        "DBEngineVersions": [
            {"Engine": engine, "EngineVersion": version, "Status": status} for version, status in versions
        ]
    }
    if marker:
        page["Marker"] = marker
    return page


def cache_page(engine: str, versions: list[str]) -> dict:
    return {"CacheEngineVersions": [{"Engine": engine, "EngineVersion": v} for v in versions]}


def make_client(service: str, region: str):
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name=region,
    )
    return session.client(service, region_name=region)


class StubSession:
    """Just enough of a boto3 session: ``.client(service, region_name=...)`` returns a pre-built client."""

    def __init__(self, clients: dict[tuple[str, str], object]):
        self.clients = clients
        self.calls: list[tuple[str, str]] = []

    def client(self, service: str, region_name: str):
        self.calls.append((service, region_name))
        return self.clients[(service, region_name)]


@pytest.fixture
def base():
    catalog = load_catalog()
    snapshot = copy.deepcopy(catalog.engine_versions)
    yield catalog
    # refresh_catalog must never mutate the (cached, shared) base catalogue.
    assert catalog.engine_versions == snapshot


@pytest.fixture
def stubs():
    """Stubbed clients per (service, region); every stubber is checked for unconsumed responses."""
    stubbers: dict[tuple[str, str], Stubber] = {}
    clients: dict[tuple[str, str], object] = {}

    def stub(service: str, region: str) -> Stubber:
        client = make_client(service, region)
        stubber = Stubber(client)
        stubber.activate()
        clients[(service, region)] = client
        stubbers[(service, region)] = stubber
        return stubber

    stub.clients = clients  # type: ignore[attr-defined]
    stub.stubbers = stubbers  # type: ignore[attr-defined]
    yield stub
    for stubber in stubbers.values():
        stubber.deactivate()


def stub_healthy_region(stub, region: str) -> tuple[Stubber, Stubber]:
    rds = stub("rds", region)
    # aurora-postgresql comes back in two pages: the paginator must follow the Marker.
    rds.add_response(
        "describe_db_engine_versions",
        rds_page("aurora-postgresql", AURORA[:3], marker="page-2"),
        expected_params={"Engine": "aurora-postgresql"},
    )
    rds.add_response(
        "describe_db_engine_versions",
        rds_page("aurora-postgresql", AURORA[3:]),
        expected_params={"Engine": "aurora-postgresql", "Marker": "page-2"},
    )
    rds.add_response(
        "describe_db_engine_versions",
        rds_page("postgres", POSTGRES),
        expected_params={"Engine": "postgres"},
    )
    cache = stub("elasticache", region)
    for engine, versions in (("redis", REDIS), ("valkey", VALKEY)):
        cache.add_response(
            "describe_cache_engine_versions",
            cache_page(engine, versions),
            expected_params={"Engine": engine},
        )
    return rds, cache


def stub_failing_region(stub, region: str) -> Stubber:
    rds = stub("rds", region)
    rds.add_client_error(
        "describe_db_engine_versions",
        service_error_code="UnrecognizedClientException",
        service_message="The security token included in the request is invalid.",
        http_status_code=403,
        expected_params={"Engine": "aurora-postgresql"},
    )
    stub("elasticache", region)  # never called: the region is abandoned at the first error
    return rds


def test_refresh_one_region(base, stubs):
    rds, cache = stub_healthy_region(stubs, REFRESHED)
    session = StubSession(stubs.clients)

    result = refresh_catalog(session, [REFRESHED], SNAPSHOT_DATE, base)

    rds.assert_no_pending_responses()
    cache.assert_no_pending_responses()
    assert result.refreshed == [REFRESHED]
    assert result.skipped == {}
    catalog = result.catalog
    # Deprecated versions dropped, the rest sorted numerically (16.9 before 16.10), no duplicates.
    assert catalog.versions("aurora-postgresql", REFRESHED) == ["15.10", "16.9", "16.10", "16.15"]
    assert catalog.versions("postgres", REFRESHED) == ["11.22-rds.20240418", "16.9", "16.15", "17.2"]
    assert catalog.versions("redis", REFRESHED) == ["6.2", "7.0", "7.1"]
    assert catalog.versions("valkey", REFRESHED) == ["7.2", "8.0", "8.2", "8.10"]
    assert not catalog.has_version("aurora-postgresql", REFRESHED, "15.4")
    for engine in (*RDS_ENGINES, *CACHE_ENGINES):
        versions = catalog.versions(engine, REFRESHED)
        assert versions == sorted(versions, key=version_key)


def test_the_catalogue_says_which_regions_were_read_from_aws(base, stubs):
    assert base.refreshed_regions == {}
    assert {base.version_source(region) for region in base.regions} == {"global list"}
    stub_healthy_region(stubs, REFRESHED)
    catalog = refresh_catalog(StubSession(stubs.clients), [REFRESHED], SNAPSHOT_DATE, base).catalog
    assert catalog.refreshed_regions == {REFRESHED: SNAPSHOT_DATE}
    assert catalog.version_source(REFRESHED) == f"per region, {SNAPSHOT_DATE}"
    others = [region for region in catalog.regions if region != REFRESHED]
    assert {catalog.version_source(region) for region in others} == {"global list"}
    # the on-disk form keeps it; the shipped (all-global) file has no such key
    assert type(catalog).from_json(catalog.to_json()).refreshed_regions == {REFRESHED: SNAPSHOT_DATE}
    assert "refreshed_regions" not in base.to_json()


def test_other_regions_and_data_keep_previous_values(base, stubs):
    stub_healthy_region(stubs, REFRESHED)
    result = refresh_catalog(StubSession(stubs.clients), [REFRESHED], SNAPSHOT_DATE, base)

    catalog = result.catalog
    for engine in (*RDS_ENGINES, *CACHE_ENGINES):
        assert catalog.versions(engine, UNTOUCHED) == base.versions(engine, UNTOUCHED)
        assert set(catalog.engine_versions[engine]) == set(base.engine_versions[engine])
    assert catalog.db_instance_classes == base.db_instance_classes
    assert catalog.cache_node_types == base.cache_node_types


def test_snapshot_date_and_source_updated(base, stubs):
    stub_healthy_region(stubs, REFRESHED)
    result = refresh_catalog(StubSession(stubs.clients), [REFRESHED], SNAPSHOT_DATE, base)

    assert base.snapshot_date != SNAPSHOT_DATE
    assert result.catalog.snapshot_date == SNAPSHOT_DATE
    source = result.catalog.source
    assert source != base.source
    assert "DescribeDBEngineVersions" in source and "DescribeCacheEngineVersions" in source
    assert f"1 region(s) on {SNAPSHOT_DATE}" in source
    assert source.endswith(base.source)


def test_clients_are_built_per_region(base, stubs):
    stub_healthy_region(stubs, REFRESHED)
    session = StubSession(stubs.clients)
    refresh_catalog(session, [REFRESHED], SNAPSHOT_DATE, base)
    assert session.calls == [("rds", REFRESHED), ("elasticache", REFRESHED)]


def test_failing_region_is_skipped_and_keeps_its_versions(base, stubs):
    stub_healthy_region(stubs, REFRESHED)
    failing = stub_failing_region(stubs, FAILING)

    result = refresh_catalog(StubSession(stubs.clients), [FAILING, REFRESHED], SNAPSHOT_DATE, base)

    failing.assert_no_pending_responses()
    assert result.refreshed == [REFRESHED]
    assert list(result.skipped) == [FAILING]
    assert "UnrecognizedClientException" in result.skipped[FAILING]
    for engine in (*RDS_ENGINES, *CACHE_ENGINES):
        assert result.catalog.versions(engine, FAILING) == base.versions(engine, FAILING)
    assert result.catalog.versions("aurora-postgresql", REFRESHED) == ["15.10", "16.9", "16.10", "16.15"]
    assert "1 region(s)" in result.catalog.source


def test_error_on_a_later_call_discards_the_region_partial_data(base, stubs):
    # aurora-postgresql succeeds, postgres fails: nothing from the region is kept.
    rds = stubs("rds", FAILING)
    rds.add_response(
        "describe_db_engine_versions",
        rds_page("aurora-postgresql", [("99.1", "available")]),
        expected_params={"Engine": "aurora-postgresql"},
    )
    rds.add_client_error(
        "describe_db_engine_versions",
        service_error_code="Throttling",
        service_message="Rate exceeded",
        http_status_code=400,
        expected_params={"Engine": "postgres"},
    )
    stubs("elasticache", FAILING)

    result = refresh_catalog(StubSession(stubs.clients), [FAILING], SNAPSHOT_DATE, base)

    assert result.refreshed == []
    assert "Throttling" in result.skipped[FAILING]
    assert result.catalog.versions("aurora-postgresql", FAILING) == base.versions("aurora-postgresql", FAILING)
    assert result.catalog.source == base.source
    # nothing was read, so the catalogue must not claim a newer date than its data
    assert result.catalog.snapshot_date == base.snapshot_date


def test_new_region_is_added(base, stubs):
    region = "xx-test-1"
    assert region not in base.engine_versions["aurora-postgresql"]
    stub_healthy_region(stubs, region)
    result = refresh_catalog(StubSession(stubs.clients), [region], SNAPSHOT_DATE, base)
    assert result.refreshed == [region]
    assert result.catalog.versions("valkey", region) == ["7.2", "8.0", "8.2", "8.10"]


def test_refreshed_catalogue_round_trips_through_json(base, stubs):
    stub_healthy_region(stubs, REFRESHED)
    catalog = refresh_catalog(StubSession(stubs.clients), [REFRESHED], SNAPSHOT_DATE, base).catalog
    again = type(catalog).from_json(catalog.to_json())
    assert again == catalog


def test_a_refresh_by_default_reads_only_the_aws_partition(base):
    """The partition comes from botocore's endpoint data, not the name: cn-, us-gov- and the ISO
    partitions' regions (us-iso-, us-isob-, eu-isoe-) need other credentials and are left alone."""
    others = ["cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1"]
    commercial = ["ap-southeast-5", "eu-central-1", "il-central-1", "mx-central-1", "us-east-1"]
    types = {region: ["cache.t4g.micro"] for region in others + commercial}
    catalog = replace(base, cache_node_types=types)
    assert commercial_regions(catalog) == sorted(commercial)
