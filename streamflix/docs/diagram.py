"""A readable Mermaid architecture diagram drawn from the template's dependency graph.

Every node and edge comes from the graph (``streamflix.docs.graph``); readability
comes from three reductions that never invent a connection:

1. per-AZ siblings (``AppSubnetA/B/C``, ``AuroraReaderInstance1/2``) become one node;
2. glue resources that only join two others (route-table associations, routes,
   security-group rules, gateway attachments) become the edge between those two;
3. resources of one type with exactly the same connections (the interface
   endpoints, alarms that watch the same things) become one node.

Arrows point from a resource to what it uses; a dotted arrow is a ``DependsOn``
ordering only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import networkx

from streamflix.docs.graph import TIER_TITLES, TIERS, dependency_graph
from streamflix.docs.stack import EnvironmentFacts, StackFacts

#: Resources that are drawn as the edge they make between the two resources they join.
GLUE_TYPES = frozenset(
    {
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::SubnetNetworkAclAssociation",
        "AWS::EC2::Route",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::EIPAssociation",
    }
)

DIAGRAM_DIR = "diagrams"

# An AZ slot: one capital letter A-F, or a number, standing between a lower-case
# letter and a capital letter (or the end): AppSubnet[A], CacheNode[2]CpuAlarm.
_SLOT = re.compile(r"(?<=[a-z])([A-F]|\d+)(?=[A-Z]|$)")


@dataclass
class Node:
    node_id: str
    members: list[str]
    type: str
    tier: str
    label: str


@dataclass
class Diagram:
    nodes: dict[str, Node]
    edges: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: logical id -> node id (glue resources map to None)
    node_of: dict[str, str | None] = field(default_factory=dict)

    def to_mermaid(self) -> str:
        lines = ["flowchart LR"]
        by_tier: dict[str, list[Node]] = defaultdict(list)
        for node in self.nodes.values():
            by_tier[node.tier].append(node)
        for tier in TIERS:
            if not by_tier.get(tier):
                continue
            lines.append(f'  subgraph tier_{tier}["{TIER_TITLES[tier]}"]')
            for node in by_tier[tier]:
                lines.append(f'    {node.node_id}["{node.label}"]')
            lines.append("  end")
        for (source, target), kinds in sorted(self.edges.items()):
            arrow = "-.->" if kinds == {"DependsOn"} else "-->"
            lines.append(f"  {source} {arrow} {target}")
        return "\n".join(lines) + "\n"


def _family(logical_id: str) -> tuple[str, str] | None:
    """('AppSubnet{}', 'A') for an id with one AZ slot; None for ids without one."""
    matches = list(_SLOT.finditer(logical_id))
    if len(matches) != 1:
        return None
    match = matches[0]
    return logical_id[: match.start()] + "{}" + logical_id[match.end() :], match.group(1)


def _short_type(resource_type: str) -> str:
    return resource_type.removeprefix("AWS::")


def _node_id(name: str, taken: set[str]) -> str:
    base = "n_" + re.sub(r"[^A-Za-z0-9]", "", name)
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}_{counter}", counter + 1
    taken.add(candidate)
    return candidate


def build_diagram(stack: StackFacts, graph: networkx.DiGraph | None = None) -> Diagram:
    graph = graph if graph is not None else dependency_graph(stack)
    taken: set[str] = set()

    # 1. per-AZ siblings -> one node
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rid, data in graph.nodes(data=True):
        if data["type"] in GLUE_TYPES:
            continue
        family = _family(rid)
        groups[(data["type"], family[0] if family else rid)].append(rid)
    clusters: list[tuple[str, list[str], str]] = []  # (label name, members, type)
    for (resource_type, key), members in groups.items():
        if len(members) > 1:
            slots = [(_family(m) or ("", m))[1] for m in members]
            clusters.append((key.replace("{}", "{" + ",".join(slots) + "}"), members, resource_type))
        else:
            for member in members:
                clusters.append((member, [member], resource_type))

    node_of: dict[str, str | None] = {}
    nodes: dict[str, Node] = {}
    for name, members, resource_type in clusters:
        node = Node(
            node_id=_node_id(members[0], taken),
            members=list(members),
            type=resource_type,
            tier=graph.nodes[members[0]]["tier"],
            label=f"{name}<br/><i>{_short_type(resource_type)}</i>",
        )
        nodes[node.node_id] = node
        for member in members:
            node_of[member] = node.node_id

    # 2. edges between nodes; glue becomes the edge between what it joins
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source, target, data in graph.edges(data=True):
        a, b = node_of.get(source), node_of.get(target)
        if a and b and a != b:
            edges[(a, b)] |= data["kinds"]
    for rid, data in graph.nodes(data=True):
        if data["type"] not in GLUE_TYPES:
            continue
        node_of[rid] = None
        joined = list(dict.fromkeys(node_of[t] for t in graph.successors(rid) if node_of.get(t)))
        for other in joined[1:]:
            if joined[0] != other:
                edges[(joined[0], other)] |= {"Ref"}

    # 3. same type, same connections -> one node
    nodes, edges, node_of = _merge_equivalent(nodes, dict(edges), node_of)
    return Diagram(nodes=nodes, edges=edges, node_of=node_of)


def _merge_equivalent(
    nodes: dict[str, Node], edges: dict[tuple[str, str], set[str]], node_of: dict[str, str | None]
) -> tuple[dict[str, Node], dict[tuple[str, str], set[str]], dict[str, str | None]]:
    outgoing: dict[str, set[tuple[str, frozenset[str]]]] = defaultdict(set)
    incoming: dict[str, set[tuple[str, frozenset[str]]]] = defaultdict(set)
    for (a, b), kinds in edges.items():
        outgoing[a].add((b, frozenset(kinds)))
        incoming[b].add((a, frozenset(kinds)))
    classes: dict[tuple, list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        signature = (node.type, node.tier, frozenset(outgoing[node_id]), frozenset(incoming[node_id]))
        classes[signature].append(node_id)
    rename: dict[str, str] = {}
    merged: dict[str, Node] = {}
    for members in classes.values():
        keep = members[0]
        if len(members) == 1:
            merged[keep] = nodes[keep]
            continue
        resources = [rid for m in members for rid in nodes[m].members]
        names = [nodes[m].label.split("<br/>")[0] for m in members]
        shown = ", ".join(names[:3]) + (f", … ({len(names)} kinds)" if len(names) > 3 else "")
        node = nodes[keep]
        merged[keep] = Node(
            node_id=keep,
            members=resources,
            type=node.type,
            tier=node.tier,
            label=f"{shown}<br/><i>{len(resources)} × {_short_type(node.type)}</i>",
        )
        for member in members:
            rename[member] = keep
    new_edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (a, b), kinds in edges.items():
        a2, b2 = rename.get(a, a), rename.get(b, b)
        if a2 != b2:
            new_edges[(a2, b2)] |= kinds
    new_node_of = {rid: (rename.get(n, n) if n else None) for rid, n in node_of.items()}
    return merged, dict(new_edges), new_node_of


def produce_diagrams(config, rendered: Sequence, files: Mapping[str, str]) -> dict[str, str]:
    """``diagrams/<stack>.mmd`` for every stack: the architecture as a Mermaid flowchart."""
    env = EnvironmentFacts.build(config, rendered)
    return {
        f"{DIAGRAM_DIR}/{blueprint}.mmd": build_diagram(stack).to_mermaid() for blueprint, stack in env.stacks.items()
    }
