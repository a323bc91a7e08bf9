"""The Mermaid diagram is built from the dependency graph; create times follow its critical path."""

from __future__ import annotations

import re
import textwrap

import networkx
import pytest
from probe import probe_stack

from streamflix.docs.diagram import GLUE_TYPES, build_diagram
from streamflix.docs.graph import dependency_graph
from streamflix.docs.provisioning import estimate, load_times
from streamflix.docs.stack import EnvironmentFacts

ENVS = ["dev", "staging", "prod"]
BLUEPRINTS = ["ha-database", "dr-primary", "dr-recovery"]
_NODE = re.compile(r'^\s+(n_\w+)\["')
_EDGE = re.compile(r"^\s+(n_\w+) (-->|-\.->) (n_\w+)$")


def parse_mermaid(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    nodes, edges = set(), set()
    for line in text.splitlines():
        if match := _NODE.match(line):
            nodes.add(match.group(1))
        elif match := _EDGE.match(line):
            edges.add((match.group(1), match.group(3)))
    return nodes, edges


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
@pytest.mark.parametrize("env", ENVS)
def test_diagram_is_valid_looking_mermaid(env, blueprint, artifacts):
    text = artifacts[env][f"diagrams/{blueprint}.mmd"]
    assert text.startswith("flowchart LR\n")
    nodes, edges = parse_mermaid(text)
    assert edges, "a diagram without edges shows nothing"
    undeclared = {n for edge in edges for n in edge} - nodes
    assert undeclared == set()
    assert text.count("subgraph ") == text.count("\n  end")
    # The runbook embeds the same diagram.
    assert f"```mermaid\n{text}```" in artifacts[env][f"runbooks/{blueprint}.md"]


def drawn_edges(stack):
    graph = dependency_graph(stack)
    diagram = build_diagram(stack, graph)
    return graph, diagram, parse_mermaid(diagram.to_mermaid())[1]


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
@pytest.mark.parametrize("env", ENVS)
def test_every_reference_between_drawn_resources_is_an_edge(env, blueprint, env_facts):
    graph, diagram, edges = drawn_edges(env_facts[env][blueprint])
    for source, target in graph.edges:
        a, b = diagram.node_of[source], diagram.node_of[target]
        if a and b and a != b:
            assert (a, b) in edges, f"{source} -> {target}"
    assert all(diagram.node_of[rid] is None for rid in graph.nodes if graph.nodes[rid]["type"] in GLUE_TYPES)


@pytest.mark.parametrize(
    ("blueprint", "database"),
    [("ha-database", "AuroraCluster"), ("dr-primary", "PostgresPrimaryInstance"), ("dr-recovery", "PostgresReplicaInstance")],
)
def test_the_database_is_drawn_encrypted_by_the_stack_key(blueprint, database, env_facts):
    stack = env_facts["prod"][blueprint]
    _, diagram, edges = drawn_edges(stack)
    # A concrete reference: the database's KmsKeyId is the stack key (its id, or its ARN for a cross-region replica).
    assert stack.props(database)["KmsKeyId"] in ({"Ref": "DataKey"}, {"Fn::GetAtt": ["DataKey", "Arn"]})
    assert (diagram.node_of[database], diagram.node_of["DataKey"]) in edges


def test_glue_is_drawn_as_the_edge_between_what_it_joins(env_facts):
    _, diagram, edges = drawn_edges(env_facts["dev"]["ha-database"])
    # Glue becomes the edge between what it joins: the association joins subnet and route table.
    assert (diagram.node_of["AppSubnetA"], diagram.node_of["AppRouteTableA"]) in edges


def test_prod_diagram_collapses_per_az_siblings_and_stays_readable(env_facts):
    stack = env_facts["prod"]["ha-database"]
    diagram = build_diagram(stack)
    assert len(diagram.nodes) <= 50 < len(stack.resources)
    labels = [node.label for node in diagram.nodes.values()]
    assert any(label.startswith("AppSubnet{A,B,C}") for label in labels)
    assert any(label.startswith("NatGateway{A,B,C}") for label in labels)
    assert diagram.node_of["AppSubnetA"] == diagram.node_of["AppSubnetC"]
    assert "8 × EC2::VPCEndpoint" in diagram.nodes[diagram.node_of["EcrApiEndpoint"]].label
    # Every resource is accounted for: drawn in a node, or drawn as an edge (glue).
    assert set(diagram.node_of) == set(stack.resources)


TWO_QUEUES = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Key: {{Type: AWS::KMS::Key, Properties: {{KeyPolicy: {{Version: '2012-10-17', Statement: []}}}}}}
  Stream:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
      StreamEncryption: {{EncryptionType: KMS, KeyId: {key}}}
"""


def test_an_edge_exists_only_when_the_template_references(configs):
    def diagram(key: str):
        text = textwrap.dedent(TWO_QUEUES.format(key=key))
        stack = EnvironmentFacts.build(configs["dev"], [probe_stack("probe", "eu-central-1", text)])["probe"]
        return build_diagram(stack).to_mermaid()

    assert "n_Stream --> n_Key" in diagram("!Ref Key")
    assert "n_Stream --> n_Key" not in diagram("alias/aws/kinesis")


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
@pytest.mark.parametrize("env", ENVS)
def test_create_time_is_the_weighted_critical_path(env, blueprint, env_facts):
    stack = env_facts[env][blueprint]
    graph = dependency_graph(stack)
    result = estimate(stack, graph)
    path = result.critical_path
    for later, earlier in zip(path[1:], path[:-1], strict=True):
        assert graph.has_edge(later, earlier), f"{later} does not depend on {earlier}"
    assert result.high_minutes == pytest.approx(sum(result.times[r].high for r in path))
    # No chain is longer: networkx's longest path over the same weights (a start node feeds every root).
    weighted = networkx.DiGraph()
    for u, v in graph.edges:
        weighted.add_edge(v, u, weight=result.times[u].high)
    for root in (n for n in graph.nodes if graph.out_degree(n) == 0):
        weighted.add_edge("START", root, weight=result.times[root].high)
    assert result.high_minutes == pytest.approx(networkx.dag_longest_path_length(weighted), abs=0.05)
    assert result.low_minutes <= result.high_minutes
    assert graph.out_degree(path[0]) == 0  # the chain starts at a resource with no dependencies


def test_provisioning_variants_come_from_properties(env_facts):
    times = load_times()["types"]
    result = estimate(env_facts["prod"]["ha-database"], dependency_graph(env_facts["prod"]["ha-database"]))
    cache = result.times["CacheReplicationGroup"]
    assert (cache.variant, cache.low, cache.high) == ("multi-az-encrypted", 10, 15)
    assert result.times["AuroraWriterInstance"].variant == "aurora-member"
    assert (result.times["NatGatewayA"].low, result.times["NatGatewayA"].high) == tuple(
        times["AWS::EC2::NatGateway"]["default"]
    )
    assert result.high_minutes >= 15 + 4  # at least the cache and what it waits for
