"""Deploy-time facts the config is checked against, read from the pinned tools' own data.

- Availability Zones per region: cfn-lint's ``cfnlint/helpers.py`` table (the one
  its rules use; the AZs a new account gets). Read with ``ast`` from the source,
  because importing cfn-lint costs about a second and the config must load fast.
- Partitions: botocore's ``get_partition_for_region`` over its ``data/endpoints.json``;
  the one partition lookup of the code base (the config, the catalogue refresh and
  the documents all ask it), and each partition's DNS suffix (``AWS::URLSuffix``).
- Instance classes per engine version: cfn-lint's
  ``aws_rds_dbinstance/db_instance_class.json``, the data behind rule E3062, so a
  class the lint would reject after minutes is refused when the config loads.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


@lru_cache(maxsize=None)
def _availability_zones() -> dict[str, list[str]]:
    tree = ast.parse((_package_dir("cfnlint") / "helpers.py").read_text("utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "AVAILABILITY_ZONES" for t in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    raise RuntimeError("cfn-lint's helpers.py no longer has AVAILABILITY_ZONES")


def availability_zones(region: str) -> list[str] | None:
    """The region's AZs per cfn-lint's data, or None when it does not know the region."""
    return _availability_zones().get(region)


#: How AWS abbreviates a region name's words in its AZ IDs (us-east-1 -> use1-az1,
#: ap-northeast-1 -> apne1-az4, us-gov-west-1 -> usgw1-az1).
_AZ_ID_WORDS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c", "northeast": "ne",
                "southeast": "se", "northwest": "nw", "southwest": "sw", "gov": "g", "iso": "i", "isob": "ib"}


def az_id_prefix(region: str) -> str | None:
    """The prefix of ``region``'s AZ IDs ('use1' for us-east-1, 'euc1' for eu-central-1), or None
    for a region name of an unknown shape. AZ IDs are the same in every account, unlike AZ
    names, which AWS maps to physical zones per account."""
    parts = region.split("-")
    if len(parts) < 3 or not parts[-1].isdigit() or any(word not in _AZ_ID_WORDS for word in parts[1:-1]):
        return None
    return parts[0] + "".join(_AZ_ID_WORDS[word] for word in parts[1:-1]) + parts[-1]


@lru_cache(maxsize=None)
def _endpoint_resolver():  # type: ignore[no-untyped-def]
    # deferred: botocore.regions costs ~0.1 s to import; `import streamflix` stays fast without it
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    return EndpointResolver(create_loader().load_data("endpoints"))


@lru_cache(maxsize=None)
def partition_of(region: str) -> str:
    """``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso``, ... for ``region``: botocore's
    ``get_partition_for_region`` (the one boto3's ``Session.get_partition_for_region`` calls).

    A region newer than the installed botocore's endpoint data is taken to be ``aws``,
    the partition every region named in that shape has opened in.
    """
    from botocore.exceptions import UnknownRegionError

    try:
        return _endpoint_resolver().get_partition_for_region(region)
    except UnknownRegionError:
        return "aws"


def url_suffix_of(region: str) -> str:
    """``AWS::URLSuffix`` in ``region``: its partition's DNS suffix (``amazonaws.com``,
    ``amazonaws.com.cn``, ``c2s.ic.gov``, ...), from the same botocore endpoint data."""
    return _endpoint_resolver().get_partition_dns_suffix(partition_of(region))


@lru_cache(maxsize=None)
def _instance_class_rules() -> list[tuple[str, re.Pattern[str], frozenset[str]]]:
    path = _package_dir("cfnlint") / "data" / "schemas" / "extensions" / "aws_rds_dbinstance" / "db_instance_class.json"
    rules = []
    for block in json.loads(path.read_text("utf-8"))["allOf"]:
        props = block.get("if", {}).get("properties", {})
        engine = props.get("Engine", {}).get("const")
        pattern = props.get("EngineVersion", {}).get("pattern")
        classes = block.get("then", {}).get("properties", {}).get("DBInstanceClass", {}).get("enum")
        if engine and pattern and classes:
            rules.append((engine, re.compile(pattern), frozenset(classes)))
    return rules


def instance_classes_for_version(engine: str, version: str) -> frozenset[str] | None:
    """The DB instance classes ``engine`` ``version`` runs on (cfn-lint E3062's data), or
    None when the data says nothing about that version."""
    for rule_engine, pattern, classes in _instance_class_rules():
        if rule_engine == engine and pattern.match(version):
            return classes
    return None
