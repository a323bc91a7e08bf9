"""How a runbook command names a resource: by its real identifier, or by asking the stack.

A physical name set in the template (``streamflix-prod-aurora``) is written out
with the environment's suffix resolved. Anything only AWS knows (a generated
name, an id, an ARN) is read from the deployed stack first: from the output
that carries it, else from ``describe-stack-resource`` by logical ID. Either
way the command names something that exists in the rendered template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streamflix.docs.markdown import assign, aws
from streamflix.docs.stack import StackFacts

OUTPUT_QUERY = "Stacks[0].Outputs[?OutputKey=='{}'].OutputValue"
PARAMETER_QUERY = "Stacks[0].Parameters[?ParameterKey=='{}'].ParameterValue"


def output_command(stack: StackFacts, output: str) -> str:
    return aws(
        "cloudformation",
        "describe-stacks",
        region=stack.region,
        options=[("--stack-name", stack.stack_name), ("--query", OUTPUT_QUERY.format(output)), ("--output", "text")],
        one_line=True,
    )


def parameter_command(stack: StackFacts, parameter: str) -> str:
    return aws(
        "cloudformation",
        "describe-stacks",
        region=stack.region,
        options=[
            ("--stack-name", stack.stack_name),
            ("--query", PARAMETER_QUERY.format(parameter)),
            ("--output", "text"),
        ],
        one_line=True,
    )


def resource_command(stack: StackFacts, logical_id: str) -> str:
    return aws(
        "cloudformation",
        "describe-stack-resource",
        region=stack.region,
        options=[
            ("--stack-name", stack.stack_name),
            ("--logical-resource-id", logical_id),
            ("--query", "StackResourceDetail.PhysicalResourceId"),
            ("--output", "text"),
        ],
        one_line=True,
    )


def variable_name(logical_id: str, suffix: str = "") -> str:
    """``AuroraReaderInstance1`` -> ``AURORA_READER_INSTANCE1``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", logical_id).upper()
    return snake + (f"_{suffix}" if suffix else "")


@dataclass(frozen=True)
class Handle:
    """What to put in a command for one resource, and the lines that define it first."""

    value: str
    setup: tuple[str, ...] = ()

    @property
    def is_variable(self) -> bool:
        return bool(self.setup)


def ref_handle(stack: StackFacts, logical_id: str, variable: str | None = None) -> Handle:
    """The resource's ``Ref`` value: its literal name when the template sets one, else read from AWS."""
    name = stack.physical_name(logical_id)
    if name is not None:
        return Handle(name)
    variable = variable or variable_name(logical_id)
    output = stack.output_of(logical_id)
    command = output_command(stack, output) if output else resource_command(stack, logical_id)
    return Handle(f"${variable}", (assign(variable, command),))


def attribute_handle(stack: StackFacts, logical_id: str, attribute: str, variable: str | None = None) -> Handle | None:
    """A ``GetAtt`` value, read from the output that carries it (None when no output does)."""
    output = stack.output_of(logical_id, attribute)
    if output is None:
        return None
    variable = variable or variable_name(logical_id, attribute.replace(".", "_").upper())
    return Handle(f"${variable}", (assign(variable, output_command(stack, output)),))


#: How to read a deployed resource's settings: (service, describe operation, identifier option, the result's record).
DESCRIBE_RESOURCE: dict[str, tuple[str, str, str, str]] = {
    "AWS::RDS::DBCluster": ("rds", "describe-db-clusters", "--db-cluster-identifier", "DBClusters[0]"),
    "AWS::RDS::DBInstance": ("rds", "describe-db-instances", "--db-instance-identifier", "DBInstances[0]"),
    "AWS::ElastiCache::ReplicationGroup": (
        "elasticache", "describe-replication-groups", "--replication-group-id", "ReplicationGroups[0]",
    ),
}


def describe_command(stack: StackFacts, resource: Handle, resource_type: str, field: str) -> str:
    """The one-line command printing ``field`` (a JMESPath on the record) of the deployed resource."""
    service, operation, option, record = DESCRIBE_RESOURCE[resource_type]
    query = field.replace("@", record) if "@" in field else f"{record}.{field}"
    return aws(service, operation, region=stack.region, one_line=True,
               options=[(option, resource.value), ("--query", query), ("--output", "text")])


def setting_handle(
    stack: StackFacts, logical_id: str, prop: str, field: str, variable: str, default: str | None = None
) -> Handle:
    """A setting a restore states again (class, engine, version): the template's value where it is what
    is deployed (``StackFacts.resolve``: a literal, or a parameter default that runs), ``default`` when the
    template leaves it out, else read from the running resource (``field`` of its describe record, ``@``
    standing for the record) into ``variable``, or for a type not in ``DESCRIBE_RESOURCE`` a placeholder
    the operator fills: never ``None`` or an intrinsic's text as a value."""
    props = stack.props(logical_id)
    if prop not in props and default is not None:
        return Handle(default)
    resolved = stack.resolve(props.get(prop))
    if resolved is not None:
        return Handle(resolved)
    if stack.type_of(logical_id) not in DESCRIBE_RESOURCE:
        return placeholder_handle(variable, f"{prop} of {logical_id} as deployed")
    resource = ref_handle(stack, logical_id)
    command = describe_command(stack, resource, stack.type_of(logical_id), field)
    return Handle(f"${variable}", (*resource.setup, assign(variable, command)))


def placeholder_handle(variable: str, what: str) -> Handle:
    """A value the operator fills in (``VARIABLE="<what>"``). ``what`` holds no ``!``, which an
    interactive shell would expand inside double quotes, so no intrinsic's short form."""
    return Handle(f"${variable}", (f'{variable}="<{what.replace("!", "")}>"',))


def derived_identifier(name: str, tag: str, limit: int) -> str:
    """A new resource's identifier next to ``name`` (a restore, a snapshot), within ``limit``."""
    candidate = f"{name}-{tag}"
    if len(candidate) <= limit:
        return candidate
    return f"{name[: limit - len(tag) - 1].rstrip('-')}-{tag}"


def derived_handle(handle: Handle, tag: str, limit: int, variable: str | None = None) -> Handle:
    """A new resource's identifier next to ``handle``'s (``derived_identifier``): literal when the name is,
    else derived in shell from the variable read from the stack, cut to ``limit`` the same way (an
    identifier may not end in a hyphen, so one left at the cut is dropped before the tag)."""
    if not handle.is_variable:
        return Handle(derived_identifier(handle.value, tag, limit))
    source = handle.value.lstrip("$")
    variable = variable or f"{source}_{tag.upper()}"
    keep = limit - len(tag) - 1
    derive = f'{variable}="${{{source}:0:{keep}}}"; {variable}="${{{variable}%-}}-{tag}"'
    return Handle(f"${variable}", (*handle.setup, derive))


def setup_lines(*handles: Handle | None) -> list[str]:
    """The lines that define the handles' shell variables, each once, in order."""
    lines: list[str] = []
    for handle in handles:
        if handle is not None:
            lines += [line for line in handle.setup if line not in lines]
    return lines
