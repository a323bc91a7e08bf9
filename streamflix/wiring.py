"""Cross-stack (and cross-region) parameter wiring: described at build time, resolved at deploy time.

CloudFormation exports do not cross regions, so a stack that needs another
stack's values (the DR recovery stack needs the primary's DB instance ARN, EFS
replica, ALB name) takes them as parameters. Blueprints declare where each one
comes from (``StackTemplate.add_wired_parameter``, kept in the template's
``Metadata.StreamFlix.Wiring``); from the rendered templates this module

* writes ``wiring.json`` beside them (the ``produce_wiring`` artifact producer):
  every wired parameter, its source stack and output, and the deploy order;
* checks that every named source output exists (the ``wired_outputs_exist`` gate);
* resolves the values from the deployed source stacks with boto3
  (``resolve_parameters``: ``cloudformation:DescribeStacks`` in the source's
  region, and ``elasticfilesystem:DescribeReplicationConfigurations`` for an
  EFS replica), which ``python build.py wiring`` prints as a parameters file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from streamflix.checks.findings import Finding
from streamflix.config.naming import stack_name
from streamflix.errors import StreamflixError
from streamflix.render import shared_template
from streamflix.template import WIRE_FROM_EFS_REPLICATION, WIRE_FROM_OUTPUT

if TYPE_CHECKING:
    from streamflix.config.models import EnvironmentConfig
    from streamflix.render import RenderedStack

WIRING_FILE = "wiring.json"
WIRING_RULE = "SF2101"

#: Stack states whose outputs can be trusted.
_USABLE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


class WiringError(StreamflixError):
    """A wired value cannot be read from the deployed stacks (not deployed, not ready, missing)."""


@dataclass(frozen=True)
class WiredParameter:
    stack: str
    parameter: str
    source_stack: str
    source_output: str
    resolve: str
    required: bool


def default_stack_name(config: "EnvironmentConfig", blueprint: str) -> str:
    """The CloudFormation stack name the README's deploy commands use."""
    return stack_name(config.project, config.environment_suffix, blueprint)


def wired_parameters(rendered: Sequence["RenderedStack"]) -> list[WiredParameter]:
    """Every wired parameter of the rendered stacks, in template order."""
    wired = []
    for stack in rendered:
        template = shared_template(stack.text)
        wiring = (template.get("Metadata") or {}).get("StreamFlix", {}).get("Wiring") or {}
        parameters = template.get("Parameters") or {}
        for name, source in wiring.items():
            wired.append(
                WiredParameter(
                    stack=stack.blueprint,
                    parameter=name,
                    source_stack=source["FromStack"],
                    source_output=source["Output"],
                    resolve=source["Resolve"],
                    required="Default" not in (parameters.get(name) or {}),
                )
            )
    return wired


def wiring_description(config: "EnvironmentConfig", rendered: Sequence["RenderedStack"]) -> dict[str, Any] | None:
    """The content of ``wiring.json``, or None when no rendered stack has wired parameters."""
    from streamflix.registry import discover

    wired = wired_parameters(rendered)
    if not wired:
        return None
    blueprints = discover()
    files = {stack.blueprint: stack.filename for stack in rendered}
    involved = sorted({w.stack for w in wired} | {w.source_stack for w in wired})
    unknown = [name for name in involved if name not in blueprints]
    if unknown:
        raise ValueError(f"wired parameters name unregistered stacks: {', '.join(unknown)}")
    stacks = {}
    for name in involved:
        entry: dict[str, Any] = {
            "region": blueprints[name].region(config),
            "stack_name": default_stack_name(config, name),
        }
        if name in files:
            entry["template"] = files[name]
        stacks[name] = entry
    return {
        "environment": config.name,
        "stacks": stacks,
        "deploy_order": deploy_order(involved, wired),
        "parameters": [
            {
                "stack": w.stack,
                "parameter": w.parameter,
                "required": w.required,
                "from": {"stack": w.source_stack, "output": w.source_output, "resolve": w.resolve},
            }
            for w in wired
        ],
    }


class WiringCycleError(StreamflixError, ValueError):
    """Required wiring forms a cycle: no stack of it can be created first."""


def creation_order(requires: Mapping[str, Iterable[str]]) -> list[str]:
    """The stacks in the order they can be created: each after every stack it requires.

    ``requires`` maps each stack to the sources of its required (default-less)
    wired parameters; sources that are not keys are not part of this build and
    are left out. Of the stacks that can be created next, the first by name goes
    first, so the order is deterministic. The deploy order of ``wiring.json``, of
    the runbooks and of ``docs.stack.EnvironmentFacts`` is this one function.
    Raises ``WiringCycleError`` naming the cycle when there is no such order.
    """
    graph = {name: {source for source in sources if source in requires} for name, sources in requires.items()}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise WiringCycleError(
            f"required wiring forms a cycle: {' -> '.join(exc.args[1])}; no stack of it can be created first "
            "(give one of these parameters a Default, so a later update fills it)"
        ) from None
    order: list[str] = []
    ready: list[str] = []
    while sorter.is_active():
        ready = sorted([*ready, *sorter.get_ready()])
        first = ready.pop(0)
        order.append(first)
        sorter.done(first)
    return order


def deploy_order(stacks: Sequence[str], wired: Sequence[WiredParameter]) -> list[dict[str, Any]]:
    """Create every stack after the sources of its required parameters; then update the
    stacks whose optional parameters come from stacks created after them."""
    requires: dict[str, set[str]] = {name: set() for name in stacks}
    for w in wired:
        if w.required:
            requires[w.stack].add(w.source_stack)
    order = creation_order(requires)
    position = {name: index for index, name in enumerate(order)}
    steps = []
    for name in order:
        now = [w.parameter for w in wired if w.stack == name and position[w.source_stack] < position[name]]
        steps.append({"action": "create", "stack": name, "parameters": now})
    for name in order:
        later = [w.parameter for w in wired if w.stack == name and position[w.source_stack] >= position[name]]
        if later:
            steps.append({"action": "update", "stack": name, "parameters": later})
    return [{"step": number, **step} for number, step in enumerate(steps, start=1)]


def produce_wiring(
    config: "EnvironmentConfig", rendered: Sequence["RenderedStack"], files: Mapping[str, str]
) -> dict[str, str]:
    """Artifact producer: ``wiring.json`` beside the templates (deterministic JSON)."""
    description = wiring_description(config, rendered)
    if description is None:
        return {}
    return {WIRING_FILE: json.dumps(description, indent=2, sort_keys=False) + "\n"}


def wired_outputs_exist(config: "EnvironmentConfig", rendered: Sequence["RenderedStack"], target: Path) -> list[Finding]:
    """Environment gate: a wired parameter names a source output that the source template has."""
    by_name = {stack.blueprint: stack for stack in rendered}
    outputs = {name: set(shared_template(stack.text).get("Outputs") or {}) for name, stack in by_name.items()}
    findings = []
    for w in wired_parameters(rendered):
        if w.source_stack not in by_name:
            continue  # not rendered in this build (--stack); the full build checks it
        if w.source_output not in outputs[w.source_stack]:
            findings.append(
                Finding(
                    file=str(target / by_name[w.stack].filename),
                    line=_line_of(by_name[w.stack].text, f"  {w.parameter}:"),
                    rule=WIRING_RULE,
                    severity="error",
                    message=(
                        f"{w.stack} parameter {w.parameter} is wired from {w.source_stack} output "
                        f"{w.source_output}, which {by_name[w.source_stack].filename} does not have"
                    ),
                )
            )
    return findings


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(needle):
            return number
    return 1


# -- resolving from deployed stacks ------------------------------------------


def new_session() -> Any:
    """A boto3 session from the environment's credentials (the CLI's default)."""
    import boto3

    return boto3.session.Session()


def resolve_parameters(
    wiring: Mapping[str, Any],
    stack: str,
    *,
    session: Any,
    stack_names: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Values of ``stack``'s wired parameters, read from the deployed source stacks.

    ``stack_names`` overrides the deployed names (default: ``wiring.json``'s).
    Optional parameters whose source is not deployed (or lacks the output) are
    left out, so their Default applies; a missing required one raises WiringError.
    """
    if stack not in wiring["stacks"]:
        raise WiringError(f"{stack} has no wiring; stacks with wiring: {', '.join(wiring['stacks'])}")
    names = {name: entry["stack_name"] for name, entry in wiring["stacks"].items()}
    names.update(stack_names or {})
    target_region = wiring["stacks"][stack]["region"]
    outputs_of: dict[str, dict[str, str] | None] = {}
    values: dict[str, str] = {}
    for entry in wiring["parameters"]:
        if entry["stack"] != stack:
            continue
        source = entry["from"]["stack"]
        region = wiring["stacks"][source]["region"]
        if source not in outputs_of:
            outputs_of[source] = _stack_outputs(session, names[source], region)
        outputs = outputs_of[source]
        where = f"stack {names[source]} ({source}, {region})"
        if outputs is None or entry["from"]["output"] not in outputs:
            if not entry["required"]:
                continue
            problem = "is not deployed" if outputs is None else f"has no output {entry['from']['output']}"
            raise WiringError(f"{stack} needs {entry['parameter']}, but {where} {problem}; deploy {source} first")
        value = outputs[entry["from"]["output"]]
        if entry["from"]["resolve"] == WIRE_FROM_EFS_REPLICATION:
            value = _replication_destination(session, value, region, target_region)
        elif entry["from"]["resolve"] != WIRE_FROM_OUTPUT:
            raise WiringError(f"{entry['parameter']}: unknown resolve {entry['from']['resolve']!r}")
        values[entry["parameter"]] = value
    return values


def cloudformation_parameters(values: Mapping[str, str]) -> list[dict[str, str]]:
    """The ``--parameters file://...`` form of ``aws cloudformation create-stack``."""
    return [{"ParameterKey": key, "ParameterValue": values[key]} for key in values]


def _stack_outputs(session: Any, name: str, region: str) -> dict[str, str] | None:
    client = session.client("cloudformation", region_name=region)
    try:
        described = client.describe_stacks(StackName=name)
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise WiringError(f"cannot describe stack {name} in {region}: {exc}") from None
    except BotoCoreError as exc:  # no credentials, no network, ...
        raise WiringError(f"cannot reach CloudFormation in {region}: {exc}") from None
    stack = described["Stacks"][0]
    status = stack["StackStatus"]
    if status not in _USABLE_STATES:
        raise WiringError(
            f"stack {name} in {region} is {status}; its outputs are usable once it is one of "
            + ", ".join(sorted(_USABLE_STATES))
        )
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _replication_destination(session: Any, source_file_system: str, source_region: str, target_region: str) -> str:
    client = session.client("efs", region_name=source_region)
    try:
        described = client.describe_replication_configurations(FileSystemId=source_file_system)
    except (ClientError, BotoCoreError) as exc:
        raise WiringError(
            f"cannot read the replication of {source_file_system} in {source_region}: {exc}"
        ) from None
    for replication in described.get("Replications", []):
        for destination in replication.get("Destinations", []):
            if destination.get("Region") != target_region:
                continue
            if destination.get("Status") != "ENABLED":
                raise WiringError(
                    f"the replication of {source_file_system} to {target_region} is {destination.get('Status')}; "
                    "wait until it is ENABLED (EFS creates the replica first)"
                )
            return destination["FileSystemId"]
    raise WiringError(f"{source_file_system} in {source_region} does not replicate to {target_region}")
