"""Parameter files for every stack, with each parameter's value for the environment.

Two forms, because the two CLI paths read different JSON:

* ``parameters/<stack>.json``: ``[{"ParameterKey": ..., "ParameterValue": ...}]`` for
  ``aws cloudformation create-stack|update-stack|create-change-set --parameters file://...``;
* ``parameters/<stack>.overrides.json``: ``["Key=Value", ...]`` for
  ``aws cloudformation deploy --parameter-overrides file://...`` (the list form every
  AWS CLI version reads; v2 also reads the first form, aws/aws-cli#5443).

Values are the template's defaults (the build renders each environment's values
as defaults). A parameter another stack's output fills (see
``streamflix.docs.stack`` for how wiring is detected) and that has no default
gets a placeholder ``<from STACK output OUTPUT>``: CloudFormation rejects it,
so a file that was not filled in cannot deploy by accident. The runbook shows
the commands that fill it.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from streamflix.docs.stack import RESOLVE_EFS_DESTINATION, EnvironmentFacts, StackFacts, Wire

PARAMETERS_DIR = "parameters"


def create_stack_file(blueprint: str) -> str:
    return f"{PARAMETERS_DIR}/{blueprint}.json"


def overrides_file(blueprint: str) -> str:
    return f"{PARAMETERS_DIR}/{blueprint}.overrides.json"


def placeholder(wire: Wire) -> str:
    """The value a wired parameter has until it is filled from the deployed source stack."""
    if wire.resolve == RESOLVE_EFS_DESTINATION:
        return f"<from {wire.source_blueprint} output {wire.output}: its EFS replica in this region>"
    return f"<from {wire.source_blueprint} output {wire.output}>"


def parameter_values(stack: StackFacts) -> dict[str, str]:
    """Every template parameter and the value this environment deploys with."""
    values = {}
    for parameter in stack.parameters:
        wire = stack.wires.get(parameter.name)
        if parameter.default is not None:
            values[parameter.name] = parameter.default
        elif wire is not None:
            values[parameter.name] = placeholder(wire)
        else:
            values[parameter.name] = f"<required: {parameter.description or parameter.type}>"
    return values


def render_parameter_files(stack: StackFacts) -> dict[str, str]:
    values = parameter_values(stack)
    create = [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]
    overrides = [f"{key}={value}" for key, value in values.items()]
    return {
        create_stack_file(stack.blueprint): json.dumps(create, indent=2) + "\n",
        overrides_file(stack.blueprint): json.dumps(overrides, indent=2) + "\n",
    }


def produce_parameter_files(config, rendered: Sequence, files: Mapping[str, str]) -> dict[str, str]:
    env = EnvironmentFacts.build(config, rendered)
    produced: dict[str, str] = {}
    for stack in env.stacks.values():
        produced.update(render_parameter_files(stack))
    return produced
