"""The template's real dependency graph, and the tiers it is drawn in.

The edges are ``streamflix.cfn.resource_dependencies``: ``Ref``, ``Fn::GetAtt``,
``Fn::Sub`` variables and ``DependsOn`` (the edges CloudFormation orders creation
by, labelled as cfn-lint's graph labels them). We keep the resource-to-resource
edges: ``u -> v`` means u uses v, so v is created first.
"""

from __future__ import annotations

import networkx

from streamflix.cfn import resource_dependencies
from streamflix.docs.stack import StackFacts

TIERS: tuple[str, ...] = ("network", "security", "data", "compute", "observability", "other")
TIER_TITLES = {
    "network": "Network",
    "security": "Security and identity",
    "data": "Data",
    "compute": "Compute",
    "observability": "Observability",
    "other": "Other",
}

#: First matching prefix wins, so specific types come before their service.
_TIER_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("AWS::EC2::SecurityGroup", "security"),
    ("AWS::EC2::FlowLog", "observability"),
    ("AWS::EC2::", "network"),
    ("AWS::ElasticLoadBalancingV2::", "network"),
    ("AWS::Route53::", "network"),
    ("AWS::KMS::", "security"),
    ("AWS::IAM::", "security"),
    ("AWS::SecretsManager::", "security"),
    ("AWS::ElastiCache::User", "security"),
    ("AWS::RDS::", "data"),
    ("AWS::ElastiCache::", "data"),
    ("AWS::Kinesis::", "data"),
    ("AWS::EFS::", "data"),
    ("AWS::S3::", "data"),
    ("AWS::DynamoDB::", "data"),
    ("AWS::Backup::", "data"),
    ("AWS::ECS::", "compute"),
    ("AWS::ApplicationAutoScaling::", "compute"),
    ("AWS::Lambda::", "compute"),
    ("AWS::CloudWatch::", "observability"),
    ("AWS::Logs::", "observability"),
    ("AWS::SNS::", "observability"),
)


def tier_of(resource_type: str) -> str:
    return next((tier for prefix, tier in _TIER_BY_PREFIX if resource_type.startswith(prefix)), "other")


def dependency_graph(stack: StackFacts) -> networkx.DiGraph:
    """Resources as nodes (with ``type`` and ``tier``); ``u -> v`` when u references v.

    Each edge keeps the set of reference kinds behind it (Ref, GetAtt, Sub, DependsOn).
    The graph depends only on the rendered text, so a build computes it once per
    template (the diagram and the runbook both read it): treat it as read-only.
    """
    key = (stack.filename, stack.region, stack.stack.text)
    graph = _GRAPHS.get(key)
    if graph is None:
        graph = _build_graph(stack)
        if len(_GRAPHS) >= 16:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        _GRAPHS[key] = graph
    return graph


#: (filename, region, rendered text) -> graph, oldest first; bounded.
_GRAPHS: dict[tuple[str, str, str], networkx.DiGraph] = {}


def _build_graph(stack: StackFacts) -> networkx.DiGraph:
    graph = networkx.DiGraph()
    for rid, resource_type, _ in stack.iter_resources():
        graph.add_node(rid, type=resource_type, tier=tier_of(resource_type))
    for source, targets in resource_dependencies(stack.template).items():
        for target, kinds in targets.items():
            if source in graph and target in graph:
                graph.add_edge(source, target, kinds=set(kinds))
    return graph
