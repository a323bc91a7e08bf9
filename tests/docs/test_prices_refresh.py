"""refresh_prices and `build.py prices refresh` against a stubbed Price List API (never the network)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from streamflix import cli
from streamflix.catalog.prices import PriceTable, load_prices, query_for, refresh_prices

DATE = "2027-01-15"


def client():
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("pricing", region_name="us-east-1")


def product(usagetype: str, usd: str, unit: str = "Hrs", tiers: list[tuple[str, str]] | None = None) -> str:
    dimensions = {
        f"SKU.TERM.{i}": {"unit": unit, "beginRange": begin, "endRange": "Inf", "pricePerUnit": {"USD": price}}
        for i, (begin, price) in enumerate(tiers or [("0", usd)])
    }
    return json.dumps(
        {
            "product": {"attributes": {"usagetype": usagetype}},
            "terms": {
                "OnDemand": {"SKU.TERM": {"priceDimensions": dimensions}},
                "Reserved": {"SKU.RI": {"priceDimensions": {"x": {"unit": unit, "pricePerUnit": {"USD": "0.001"}}}}},
            },
        }
    )


def expect(stubber: Stubber, sku: str, region: str, price_list: list[str]) -> None:
    query = query_for(sku)
    stubber.add_response(
        "get_products",
        {"PriceList": price_list, "FormatVersion": "aws_v1"},
        {"ServiceCode": query.service_code, "Filters": query.api_filters(region), "FormatVersion": "aws_v1"},
    )


@pytest.fixture
def base():
    table = load_prices()
    snapshot = table.to_json()
    yield table
    assert table.to_json() == snapshot  # refresh never mutates the shared table


def test_refresh_replaces_only_unambiguous_prices(base):
    pricing = client()
    with Stubber(pricing) as stubber:
        # calls come in the table's order (SKU key, region)
        # one product matches; the reserved term and other usage types are ignored
        expect(
            stubber,
            "ec2/nat-gateway/hour",
            "us-east-1",
            [
                product("NatGateway-Bytes", "0.045", "GB"),
                product("NatGateway-Hours", "0.048"),
            ],
        )
        # two different prices: ambiguous, keep the recorded one
        expect(
            stubber,
            "elasticache/valkey/cache.t4g.small",
            "us-east-1",
            [
                product("NodeUsage:cache.t4g.small", "0.0256"),
                product("NodeUsage:cache.t4g.small", "0.0300"),
            ],
        )
        # the API fails for this one
        query = query_for("kms/key")
        stubber.add_client_error(
            "get_products",
            "AccessDeniedException",
            "no pricing:GetProducts",
            expected_params={
                "ServiceCode": query.service_code,
                "Filters": query.api_filters("us-east-1"),
                "FormatVersion": "aws_v1",
            },
        )
        # the IO-optimized variant is excluded; the first paid tier counts
        expect(
            stubber,
            "rds/aurora-postgresql/db.r6g.large",
            "us-east-1",
            [
                product("InstanceUsageIOOptimized:db.r6g.large", "0.338"),
                product("InstanceUsage:db.r6g.large", "0.277", tiers=[("0", "0.277")]),
            ],
        )
        # per-IO price -> per million IOs
        expect(
            stubber,
            "rds/aurora-postgresql/io",
            "us-east-1",
            [
                product("Aurora:StorageIOUsage", "0.0000002500", "IOs"),
            ],
        )
        result = refresh_prices(
            pricing,
            base,
            DATE,
            regions=["us-east-1"],
            skus=[
                "ec2/nat-gateway/hour",
                "rds/aurora-postgresql/io",
                "rds/aurora-postgresql/db.r6g.large",
                "elasticache/valkey/cache.t4g.small",
                "kms/key",
            ],
        )
        stubber.assert_no_pending_responses()
    table = result.table
    nat = table.lookup("us-east-1", "ec2/nat-gateway/hour")
    assert nat.usd == 0.048 and nat.date == DATE and "Price List API" in nat.source
    assert table.lookup("us-east-1", "rds/aurora-postgresql/io").usd == 0.25
    assert table.lookup("us-east-1", "rds/aurora-postgresql/db.r6g.large").usd == 0.277
    for kept in ("elasticache/valkey/cache.t4g.small", "kms/key"):
        assert table.lookup("us-east-1", kept) == base.lookup("us-east-1", kept)
    assert "2 different prices" in result.skipped["us-east-1/elasticache/valkey/cache.t4g.small"]
    assert "AccessDenied" in result.skipped["us-east-1/kms/key"]
    assert sorted(result.refreshed) == [
        "us-east-1/ec2/nat-gateway/hour",
        "us-east-1/rds/aurora-postgresql/db.r6g.large",
        "us-east-1/rds/aurora-postgresql/io",
    ]
    # Everything outside the selection is untouched, and the file round-trips.
    assert table.lookup("eu-central-1", "ec2/nat-gateway/hour") == base.lookup("eu-central-1", "ec2/nat-gateway/hour")
    assert PriceTable.from_json(table.to_json()) == table


def test_no_match_keeps_the_recorded_price(base):
    pricing = client()
    with Stubber(pricing) as stubber:
        expect(stubber, "efs/standard", "eu-west-2", [product("EUW2-IATimedStorage-ByteHrs", "0.0176", "GB-Mo")])
        result = refresh_prices(pricing, base, DATE, regions=["eu-west-2"], skus=["efs/standard"])
    assert result.table.lookup("eu-west-2", "efs/standard") == base.lookup("eu-west-2", "efs/standard")
    assert "no on-demand price matched" in result.skipped["eu-west-2/efs/standard"]


def test_every_shipped_sku_has_a_price_list_query():
    table = load_prices()
    assert [sku for sku in table.skus if query_for(sku) is None] == []
    assert query_for("route53/health-check").api_filters("us-east-1") == []  # global: no region filter
    assert query_for("data-transfer/inter-region").api_filters("eu-west-2")[0]["Field"] == "fromRegionCode"


def test_cli_refresh_writes_the_table_and_reports_what_it_kept(tmp_path, monkeypatch):
    pricing = client()
    monkeypatch.setattr(cli, "_pricing_client", lambda: pricing)
    target = tmp_path / "prices.json"
    with Stubber(pricing) as stubber:
        expect(stubber, "kms/key", "eu-west-2", [product("EUW2-KMS-Keys", "1.0000", "Keys")])
        result = CliRunner().invoke(
            cli.main,
            ["prices", "refresh", "--date", DATE, "--region", "eu-west-2", "--sku", "kms/key", "--file", str(target)],
        )
    assert result.exit_code == 0, result.output
    written = PriceTable.from_json(target.read_text())
    assert written.lookup("eu-west-2", "kms/key").date == DATE
    assert "1 prices refreshed" in result.output


def test_cli_refuses_an_unknown_region_or_sku(tmp_path):
    result = CliRunner().invoke(
        cli.main, ["prices", "refresh", "--date", DATE, "--region", "mars-1", "--file", str(tmp_path / "p.json")]
    )
    assert result.exit_code == 2 and "mars-1" in result.output and "eu-central-1" in result.output
    assert not (tmp_path / "p.json").exists()
