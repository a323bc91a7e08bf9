"""How long a stack takes to create: per-resource planning times and the critical path.

CloudFormation creates every resource whose dependencies are complete in
parallel, so a stack takes about as long as its longest dependency chain,
each resource weighted by its typical create time. The times are data
(``data/provisioning_times.json``); which row applies can depend on the
resource's properties (an Aurora member instance vs a cross-region replica).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import networkx

from streamflix.cfn import is_true
from streamflix.docs.stack import StackFacts

TIMES_FILE = "provisioning_times.json"


@lru_cache(maxsize=1)
def load_times() -> dict[str, Any]:
    return json.loads(resources.files("streamflix.docs").joinpath("data", TIMES_FILE).read_text("utf-8"))


def variant(resource_type: str, props: dict[str, Any]) -> str:
    """Which row of the table a resource takes, from its own properties."""
    if resource_type == "AWS::RDS::DBInstance":
        if "SourceDBInstanceIdentifier" in props:
            return "read-replica"
        if "DBClusterIdentifier" in props:
            return "aurora-member"
        return "multi-az" if is_true(props.get("MultiAZ")) else "single-az"
    if resource_type == "AWS::RDS::DBCluster":
        return "aurora" if str(props.get("Engine", "")).startswith("aurora") else "default"
    if resource_type == "AWS::ElastiCache::ReplicationGroup":
        multi_az = is_true(props.get("MultiAZEnabled"))
        encrypted = (
            is_true(props.get("TransitEncryptionEnabled"))
            or is_true(props.get("AtRestEncryptionEnabled"))
        )
        return "multi-az-encrypted" if multi_az and encrypted else "default"
    if resource_type == "AWS::EC2::VPCEndpoint":
        return "interface" if props.get("VpcEndpointType") == "Interface" else "gateway"
    if resource_type == "AWS::ECS::Service":
        return "behind-load-balancer" if props.get("LoadBalancers") else "default"
    if resource_type == "AWS::EFS::FileSystem":
        return "replicated" if "ReplicationConfiguration" in props else "default"
    return "default"


@dataclass(frozen=True)
class ResourceTime:
    logical_id: str
    type: str
    variant: str
    low: float
    high: float
    listed: bool


def resource_time(stack: StackFacts, logical_id: str) -> ResourceTime:
    table = load_times()
    resource_type = stack.type_of(logical_id)
    row_variant = variant(resource_type, stack.props(logical_id))
    rows = table["types"].get(resource_type, {})
    listed = row_variant in rows or "default" in rows
    low, high = rows.get(row_variant) or rows.get("default") or table["unlisted_minutes"]
    return ResourceTime(logical_id, resource_type, row_variant if row_variant in rows else "default", low, high, listed)


@dataclass(frozen=True)
class Estimate:
    low_minutes: float
    high_minutes: float
    critical_path: tuple[str, ...]
    times: dict[str, ResourceTime]

    @property
    def by_kind(self) -> list[tuple[str, str, int, float, float]]:
        """(type, variant, count, low, high), one row per kind present, slowest first."""
        counts: dict[tuple[str, str], list[ResourceTime]] = {}
        for item in self.times.values():
            counts.setdefault((item.type, item.variant), []).append(item)
        rows = [(t, v, len(items), items[0].low, items[0].high) for (t, v), items in counts.items()]
        return sorted(rows, key=lambda r: (-r[4], -r[3], r[0], r[1]))

    @property
    def unlisted_types(self) -> list[str]:
        return sorted({t.type for t in self.times.values() if not t.listed})


def estimate(stack: StackFacts, graph: networkx.DiGraph) -> Estimate:
    """The longest chain of ``graph`` weighted by the high times (and that chain's low time)."""
    times = {rid: resource_time(stack, rid) for rid in graph.nodes}

    def longest(weight: str) -> tuple[float, list[str]]:
        finish: dict[str, float] = {}
        previous: dict[str, str | None] = {}
        # Reversed topological order of "u uses v" visits dependencies first.
        for rid in reversed(list(networkx.topological_sort(graph))):
            deps = list(graph.successors(rid))
            best = max(deps, key=lambda d: (finish[d], d), default=None)
            start = finish[best] if best is not None else 0.0
            finish[rid] = start + getattr(times[rid], weight)
            previous[rid] = best
        if not finish:
            return 0.0, []
        end = max(finish, key=lambda r: (finish[r], r))
        chain = []
        node: str | None = end
        while node is not None:
            chain.append(node)
            node = previous[node]
        return finish[end], list(reversed(chain))

    high, chain = longest("high")
    low, _ = longest("low")
    return Estimate(low_minutes=round(low, 1), high_minutes=round(high, 1), critical_path=tuple(chain), times=times)
