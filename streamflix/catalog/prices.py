"""On-demand prices as data (``prices.json``), and their refresh from the AWS Price List API.

Each entry names its region, our SKU key (``elasticache/valkey/cache.t4g.small``),
the AWS service code, the unit, the on-demand USD price, and where the price
came from and when. The cost estimate only ever multiplies a quantity by an
entry of this table; a price the table lacks is reported as unknown.

``refresh_prices`` rebuilds entries from ``pricing:GetProducts`` (the Price
List API answers from us-east-1 for every region). Each SKU key maps to a query
(service code, attribute filters, and a usage-type the product must end with);
an entry is only replaced when exactly one on-demand price matches, otherwise
it keeps its recorded value and the refresh reports why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from botocore.exceptions import BotoCoreError, ClientError

PRICES_FILE = "prices.json"
#: The Price List API is served from us-east-1 (and ap-south-1) for every region.
PRICING_ENDPOINT_REGION = "us-east-1"


@dataclass(frozen=True)
class PriceEntry:
    region: str
    sku: str
    service: str
    unit: str
    usd: float
    description: str
    source: str
    date: str

    @property
    def reference(self) -> str:
        """How a cost line points at this entry: ``<region>/<sku>``."""
        return f"{self.region}/{self.sku}"


@dataclass(frozen=True)
class PriceTable:
    currency: str
    hours_per_month: int
    entries: tuple[PriceEntry, ...]

    def lookup(self, region: str, sku: str) -> PriceEntry | None:
        return self._index.get((region, sku))

    @cached_property
    def _index(self) -> dict[tuple[str, str], PriceEntry]:
        return {(e.region, e.sku): e for e in self.entries}

    @property
    def regions(self) -> list[str]:
        return sorted({e.region for e in self.entries})

    @property
    def skus(self) -> list[str]:
        return sorted({e.sku for e in self.entries})

    def to_json(self) -> str:
        entries = sorted(self.entries, key=lambda e: (e.sku, e.region))
        document = {
            "currency": self.currency,
            "hours_per_month": self.hours_per_month,
            "prices": [
                {
                    "region": e.region,
                    "sku": e.sku,
                    "service": e.service,
                    "unit": e.unit,
                    "usd": e.usd,
                    "description": e.description,
                    "source": e.source,
                    "date": e.date,
                }
                for e in entries
            ],
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "PriceTable":
        data = json.loads(text)
        return cls(
            currency=data["currency"],
            hours_per_month=int(data["hours_per_month"]),
            entries=tuple(PriceEntry(**entry) for entry in data["prices"]),
        )


@lru_cache(maxsize=1)
def load_prices() -> PriceTable:
    return PriceTable.from_json(resources.files("streamflix.catalog").joinpath(PRICES_FILE).read_text("utf-8"))


def prices_path() -> Path:
    return Path(__file__).parent / PRICES_FILE


# -- refresh from the Price List API -------------------------------------------


@dataclass(frozen=True)
class PriceQuery:
    """How one SKU key is found in the Price List API."""

    service_code: str
    filters: tuple[tuple[str, str], ...] = ()
    usagetype_suffix: str | None = None
    usagetype_excludes: tuple[str, ...] = ()
    #: Multiplies the API's unit price into ours (per IO -> per million IOs).
    multiplier: float = 1.0
    #: The attribute that names the region (None for global services).
    region_field: str | None = "regionCode"

    def api_filters(self, region: str) -> list[dict[str, str]]:
        terms = list(self.filters)
        if self.region_field:
            terms.insert(0, (self.region_field, region))
        return [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in terms]


_RDS_DEPLOYMENT = {"single-az": "Single-AZ", "multi-az": "Multi-AZ"}
_CACHE_ENGINE = {"redis": "Redis", "valkey": "Valkey"}
_FARGATE_USAGE = {
    ("arm64", "vcpu"): "Fargate-ARM-vCPU-Hours:perCPU",
    ("arm64", "memory"): "Fargate-ARM-GB-Hours",
    ("x86_64", "vcpu"): "Fargate-vCPU-Hours:perCPU",
    ("x86_64", "memory"): "Fargate-GB-Hours",
}
_SIMPLE_QUERIES: dict[str, PriceQuery] = {
    "rds/aurora-postgresql/storage": PriceQuery(
        "AmazonRDS",
        (("productFamily", "Database Storage"), ("databaseEngine", "Aurora PostgreSQL")),
        "Aurora:StorageUsage",
        ("IOOptimized",),
    ),
    "rds/aurora-postgresql/io": PriceQuery(
        "AmazonRDS",
        (("productFamily", "System Operation"), ("databaseEngine", "Aurora PostgreSQL")),
        "Aurora:StorageIOUsage",
        multiplier=1_000_000,
    ),
    "ec2/nat-gateway/hour": PriceQuery("AmazonEC2", (("productFamily", "NAT Gateway"),), "NatGateway-Hours"),
    "ec2/nat-gateway/data": PriceQuery("AmazonEC2", (("productFamily", "NAT Gateway"),), "NatGateway-Bytes"),
    "vpc/public-ipv4/hour": PriceQuery("AmazonVPC", (), "PublicIPv4:InUseAddress"),
    "vpc/interface-endpoint/hour": PriceQuery("AmazonVPC", (("productFamily", "VpcEndpoint"),), "VpcEndpoint-Hours"),
    "vpc/interface-endpoint/data": PriceQuery("AmazonVPC", (("productFamily", "VpcEndpoint"),), "VpcEndpoint-Bytes"),
    "elb/alb/hour": PriceQuery("AWSELB", (("productFamily", "Load Balancer-Application"),), "LoadBalancerUsage"),
    "elb/alb/lcu": PriceQuery("AWSELB", (("productFamily", "Load Balancer-Application"),), "LCUUsage"),
    "efs/standard": PriceQuery(
        "AmazonEFS", (("storageClass", "General Purpose"),), "TimedStorage-ByteHrs", ("IATimedStorage",)
    ),
    "efs/infrequent-access": PriceQuery(
        "AmazonEFS", (("storageClass", "Infrequent Access"),), "IATimedStorage-ByteHrs"
    ),
    "kinesis/on-demand/stream": PriceQuery("AmazonKinesis", (), "OnDemand-StreamHour"),
    "kinesis/on-demand/ingest": PriceQuery("AmazonKinesis", (), "OnDemand-BilledIncomingBytes"),
    "kinesis/on-demand/retrieval": PriceQuery("AmazonKinesis", (), "OnDemand-BilledOutgoingBytes"),
    "kinesis/provisioned/shard": PriceQuery("AmazonKinesis", (), "Storage-ShardHour"),
    "s3/standard": PriceQuery(
        "AmazonS3", (("storageClass", "General Purpose"), ("volumeType", "Standard")), "TimedStorage-ByteHrs"
    ),
    "kms/key": PriceQuery("awskms", (), "KMS-Keys"),
    "cloudwatch/alarm": PriceQuery("AmazonCloudWatch", (), "CW:AlarmMonitorUsage"),
    "cloudwatch/dashboard": PriceQuery("AmazonCloudWatch", (), "DashboardsUsageHour"),
    "logs/ingest": PriceQuery("AmazonCloudWatch", (), "DataProcessing-Bytes"),
    "secretsmanager/secret": PriceQuery("AWSSecretsManager", (), "AWSSecretsManager-Secrets"),
    "route53/health-check": PriceQuery("AmazonRoute53", (), "Health-Check-AWS", region_field=None),
    "data-transfer/inter-region": PriceQuery(
        "AWSDataTransfer", (("transferType", "InterRegion Outbound"),), region_field="fromRegionCode"
    ),
}


def query_for(sku: str) -> PriceQuery | None:
    """The Price List API query of a SKU key, or None for a key we cannot query."""
    if sku in _SIMPLE_QUERIES:
        return _SIMPLE_QUERIES[sku]
    parts = sku.split("/")
    if parts[:2] == ["rds", "aurora-postgresql"] and len(parts) == 3:
        return PriceQuery(
            "AmazonRDS",
            (
                ("productFamily", "Database Instance"),
                ("databaseEngine", "Aurora PostgreSQL"),
                ("instanceType", parts[2]),
                ("deploymentOption", "Single-AZ"),
            ),
            None,
            ("IOOptimized",),
        )
    if parts[:2] == ["rds", "postgres"] and len(parts) == 4 and parts[3] in _RDS_DEPLOYMENT:
        return PriceQuery(
            "AmazonRDS",
            (
                ("productFamily", "Database Instance"),
                ("databaseEngine", "PostgreSQL"),
                ("instanceType", parts[2]),
                ("deploymentOption", _RDS_DEPLOYMENT[parts[3]]),
            ),
        )
    if parts[:2] == ["rds", "gp3"] and len(parts) == 3 and parts[2] in _RDS_DEPLOYMENT:
        return PriceQuery(
            "AmazonRDS",
            (
                ("productFamily", "Database Storage"),
                ("volumeType", "General Purpose-GP3"),
                ("databaseEngine", "PostgreSQL"),
                ("deploymentOption", _RDS_DEPLOYMENT[parts[2]]),
            ),
        )
    if parts[0] == "elasticache" and len(parts) == 3 and parts[1] in _CACHE_ENGINE:
        return PriceQuery(
            "AmazonElastiCache",
            (("productFamily", "Cache Instance"), ("instanceType", parts[2]), ("cacheEngine", _CACHE_ENGINE[parts[1]])),
        )
    if parts[0] == "fargate" and len(parts) == 3 and (parts[1], parts[2]) in _FARGATE_USAGE:
        return PriceQuery("AmazonECS", (), _FARGATE_USAGE[(parts[1], parts[2])])
    return None


def _on_demand_prices(product: dict[str, Any]) -> list[float]:
    """The product's on-demand USD price: the first paid tier of each term."""
    prices = []
    for term in (product.get("terms") or {}).get("OnDemand", {}).values():
        dimensions = sorted(
            term.get("priceDimensions", {}).values(), key=lambda d: float(d.get("beginRange", "0") or 0)
        )
        paid = [float(d["pricePerUnit"]["USD"]) for d in dimensions if float(d["pricePerUnit"].get("USD", 0)) > 0]
        if paid:
            prices.append(paid[0])
    return prices


def fetch_price(client: Any, query: PriceQuery, region: str) -> float:
    """The one on-demand price matching ``query`` in ``region``; ValueError when not exactly one."""
    found: set[float] = set()
    paginator = client.get_paginator("get_products")
    for page in paginator.paginate(
        ServiceCode=query.service_code, Filters=query.api_filters(region), FormatVersion="aws_v1"
    ):
        for raw in page.get("PriceList", []):
            product = json.loads(raw) if isinstance(raw, str) else raw
            usagetype = str(((product.get("product") or {}).get("attributes") or {}).get("usagetype", ""))
            if query.usagetype_suffix and not usagetype.endswith(query.usagetype_suffix):
                continue
            if any(token in usagetype for token in query.usagetype_excludes):
                continue
            found.update(_on_demand_prices(product))
    if len(found) != 1:
        detail = "no on-demand price matched" if not found else f"{len(found)} different prices matched"
        raise ValueError(f"{detail} ({query.service_code}, {region})")
    return round(found.pop() * query.multiplier, 6)


@dataclass
class PriceRefresh:
    table: PriceTable
    refreshed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def refresh_prices(
    client: Any,
    base: PriceTable,
    date: str,
    *,
    regions: Iterable[str] | None = None,
    skus: Iterable[str] | None = None,
) -> PriceRefresh:
    """A new table whose selected entries are re-read from the Price List API.

    ``client`` is a boto3 ``pricing`` client (us-east-1). Entries outside the
    selection, and entries the API cannot price unambiguously, keep their
    recorded price, source and date; the latter are listed in ``skipped``.
    """
    wanted_regions = set(regions) if regions else None
    wanted_skus = set(skus) if skus else None
    result = PriceRefresh(table=base)
    updated = []
    for entry in base.entries:
        selected = (wanted_regions is None or entry.region in wanted_regions) and (
            wanted_skus is None or entry.sku in wanted_skus
        )
        query = query_for(entry.sku) if selected else None
        if selected and query is None:
            result.skipped[entry.reference] = "no Price List API query is defined for this SKU key"
        if query is None:
            updated.append(entry)
            continue
        try:
            usd = fetch_price(client, query, entry.region)
        except (ClientError, BotoCoreError, ValueError) as exc:
            result.skipped[entry.reference] = str(exc)
            updated.append(entry)
            continue
        updated.append(
            replace(
                entry,
                usd=usd,
                source=f"AWS Price List API (pricing:GetProducts, {query.service_code}) on {date}",
                date=date,
            )
        )
        result.refreshed.append(entry.reference)
    result.table = replace(base, entries=tuple(updated))
    return result
