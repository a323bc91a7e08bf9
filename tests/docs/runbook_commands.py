"""Read a generated runbook back: its shell commands, its tables, and whether each command can run.

Two independent checks, used by the runbook tests:

* ``cli_problems``: every ``aws`` command names a real AWS CLI operation (or waiter)
  and only options that operation takes, with its required ones present
  (botocore's service models are the AWS CLI's own definitions);
* ``template_problems``: every stack, region, logical ID, output, parameter,
  export and resource identifier a command names exists in the rendered
  template of that region's stack (with the environment's suffix resolved).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

import botocore.session
from botocore import xform_name

from streamflix.docs.stack import EnvironmentFacts, StackFacts

_SESSION = botocore.session.get_session()

#: Options the CLI adds to every command.
GLOBAL_OPTIONS = {"--region", "--query", "--output", "--profile", "--no-cli-pager", "--debug", "--endpoint-url"}
#: CLI commands that are customizations (no botocore operation), with the options they take.
CUSTOM_COMMANDS = {
    ("cloudformation", "deploy"): {
        "--template-file",
        "--stack-name",
        "--s3-bucket",
        "--s3-prefix",
        "--parameter-overrides",
        "--capabilities",
        "--no-execute-changeset",
        "--no-fail-on-empty-changeset",
        "--kms-key-id",
        "--role-arn",
        "--tags",
        "--force-upload",
        "--disable-rollback",
        "--notification-arns",
    },
    ("s3", "cp"): set(),
    ("s3", "mb"): set(),
    ("logs", "tail"): {"--since", "--follow", "--format", "--filter-pattern", "--log-stream-names"},
}
#: Output-shaping options the CLI adds to paginated operations.
PAGINATION_OPTIONS = {"--max-items", "--starting-token", "--page-size"}
#: Parameters the AWS CLI renames (awscli/customizations/argrename.py): (service, operation, API flag) -> CLI flag.
ARGUMENT_RENAMES = {("sns", "subscribe", "--endpoint"): "--notification-endpoint"}
#: AWS CLI service names that differ from botocore's.
SERVICE_ALIASES = {"s3api": "s3", "configservice": "config"}
#: Suffixes the runbook gives to resources it creates (restores, snapshots, failback copies).
NEW_RESOURCE_TAGS = ("restore", "manual", "failback", "1")

_FENCE = re.compile(r"```bash\n(.*?)```", re.S)
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=")
_VARIABLE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")
_CUT = {"&&", "||", "|", ";", ">", "2>/dev/null", ")"}


@dataclass
class Invocation:
    words: list[str]
    line: str
    service: str = ""
    operation: str = ""
    waiter: str | None = None
    options: dict[str, list[str]] = field(default_factory=dict)

    def value(self, flag: str) -> str | None:
        values = self.options.get(flag)
        return values[0] if values else None


def code_lines(markdown: str) -> list[str]:
    """Logical lines of every bash block (continuations joined, comments dropped)."""
    lines = []
    for block in _FENCE.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                lines.append(re.sub(r"\s+#\s.*$", "", stripped))
    return lines


def invocations(markdown: str) -> list[Invocation]:
    found = []
    for line in code_lines(markdown):
        for start in [m.start() for m in re.finditer(r"(?:(?<=^)|(?<=\$\()|(?<=\s))aws\s", line)]:
            text = line[start:]
            if "$(" in line[:start] and text.count(")") > text.count("("):
                text = text[: _closing(text)]
            words = []
            for word in shlex.split(text):
                if word in _CUT or word.startswith(">"):
                    break
                words.append(word)
            found.append(_parse(words, line))
    return found


def _closing(text: str) -> int:
    depth = 0
    quote = None
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return index
            depth -= 1
    return len(text)


def _parse(words: list[str], line: str) -> Invocation:
    invocation = Invocation(words=words, line=line, service=words[1], operation=words[2])
    rest = words[3:]
    if invocation.operation == "wait":
        invocation.waiter, rest = rest[0], rest[1:]
    flag = None
    for word in rest:
        if word.startswith("--"):
            flag = word
            invocation.options.setdefault(flag, [])
        elif flag is not None:
            invocation.options[flag].append(word)
    return invocation


# -- against the AWS CLI's definitions ----------------------------------------------------


#: What a template value left unresolved looks like once Python's str() has written it into a
#: command: None, or a dict such as {'Ref': 'DbClass'} / {'Fn::If': [...]}.
_NOT_A_VALUE = re.compile(r"^None$|\{'(Ref|Fn::[A-Za-z]+|Condition)'\s*:")


def cli_problems(markdown: str) -> list[str]:
    problems = []
    for call in invocations(markdown):
        for flag, values in call.options.items():
            for value in values or ():
                if isinstance(value, str) and _NOT_A_VALUE.search(value):
                    problems.append(f"{call.line}: {flag} {value} is Python's text of a missing or unresolved value")
        key = (call.service, call.operation)
        if key in CUSTOM_COMMANDS:
            unknown = set(call.options) - CUSTOM_COMMANDS[key] - GLOBAL_OPTIONS
            problems += [
                f"{call.line}: {flag} is not an option of aws {call.service} {call.operation}" for flag in unknown
            ]
            continue
        service = SERVICE_ALIASES.get(call.service, call.service)
        try:
            model = _SESSION.get_service_model(service)
        except Exception:  # noqa: BLE001 - an unknown service is the finding
            problems.append(f"{call.line}: no AWS service {call.service!r}")
            continue
        operations = {xform_name(name, "-"): name for name in model.operation_names}
        if call.waiter is not None:
            waiters = {xform_name(name, "-"): name for name in _SESSION.get_waiter_model(service).waiter_names}
            if call.waiter not in waiters:
                problems.append(f"{call.line}: no waiter {call.waiter!r} for {call.service}")
                continue
            operation_name = _SESSION.get_waiter_model(service).get_waiter(waiters[call.waiter]).operation
        elif call.operation in operations:
            operation_name = operations[call.operation]
        else:
            problems.append(f"{call.line}: no operation aws {call.service} {call.operation}")
            continue
        operation = model.operation_model(operation_name)
        members = operation.input_shape.members if operation.input_shape else {}
        allowed = set(GLOBAL_OPTIONS) | (
            PAGINATION_OPTIONS if _SESSION.get_paginator_model(service).__dict__ else set()
        )
        for name, shape in members.items():
            flag = "--" + xform_name(name, "-")
            allowed.add(ARGUMENT_RENAMES.get((call.service, call.operation, flag), flag))
            if shape.type_name == "boolean":
                allowed.add("--no-" + xform_name(name, "-"))
        unknown = set(call.options) - allowed
        problems += [f"{call.line}: {flag} is not a parameter of {operation_name}" for flag in sorted(unknown)]
        required = operation.input_shape.required_members if operation.input_shape else []
        missing = [
            m
            for m in required
            if ARGUMENT_RENAMES.get(
                (call.service, call.operation, "--" + xform_name(m, "-")), "--" + xform_name(m, "-")
            )
            not in call.options
        ]
        problems += [f"{call.line}: {operation_name} needs --{xform_name(m, '-')}" for m in missing]
    return problems


# -- against the rendered templates ------------------------------------------------------------

#: Options that name an existing resource of one of these types (by its Ref value).
IDENTIFIER_OPTIONS = {
    ("rds", "--db-cluster-identifier"): ("AWS::RDS::DBCluster",),
    ("rds", "--source-db-cluster-identifier"): ("AWS::RDS::DBCluster",),
    ("rds", "--db-instance-identifier"): ("AWS::RDS::DBInstance",),
    ("rds", "--source-db-instance-identifier"): ("AWS::RDS::DBInstance",),
    ("rds", "--target-db-instance-identifier"): ("AWS::RDS::DBInstance",),
    ("elasticache", "--replication-group-id"): ("AWS::ElastiCache::ReplicationGroup",),
    ("elasticache", "--source-identifier"): ("AWS::ElastiCache::ReplicationGroup",),
    ("elasticache", "--user-group-ids"): ("AWS::ElastiCache::UserGroup",),
    ("ecs", "--cluster"): ("AWS::ECS::Cluster",),
    ("cloudwatch", "--dashboard-name"): ("AWS::CloudWatch::Dashboard",),
}


def _stack_in(env: EnvironmentFacts, region: str | None) -> list[StackFacts]:
    return [s for s in env.stacks.values() if s.region == region]


def _names(stacks: list[StackFacts], types: tuple[str, ...]) -> set[str]:
    return {s.physical_name(rid) for s in stacks for rid in s.of_type(*types)} - {None}  # type: ignore[operator]


def _is_new(value: str, existing: set[str]) -> bool:
    return any(
        re.fullmatch(re.escape(name) + r"(-(" + "|".join(NEW_RESOURCE_TAGS) + r"))+(-\$[A-Z_]+)?", value)
        for name in existing
    )


def defined_variables(markdown: str) -> list[tuple[str, int]]:
    """(variable, line index) of every assignment in the bash blocks, in order."""
    found = []
    for index, line in enumerate(code_lines(markdown)):
        for part in line.split(";"):
            match = _ASSIGN.match(part)
            if match:
                found.append((match.group(1), index))
        loop = re.match(r"for ([A-Z_]+) in", line)
        if loop:
            found.append((loop.group(1), index))
    return found


def template_problems(markdown: str, env: EnvironmentFacts) -> list[str]:
    problems = []
    calls = invocations(markdown)
    for call in calls:
        region = call.value("--region")
        here = _stack_in(env, region)
        name = call.value("--stack-name")
        if name is not None:
            owners = [s for s in env.stacks.values() if s.stack_name == name]
            if not owners:
                problems.append(f"{call.line}: no stack named {name}")
                continue
            if owners[0].region != region:
                problems.append(f"{call.line}: {name} lives in {owners[0].region}, not {region}")
            here = owners
        stack = here[0] if here else None
        for flag in ("--logical-resource-id", "--resources-to-skip", "--retain-resources"):
            for logical_id in call.options.get(flag, []):
                if stack is None or logical_id not in stack.resources:
                    problems.append(f"{call.line}: {flag} {logical_id} is not a resource of the stack")
        query = call.value("--query") or ""
        for output in re.findall(r"OutputKey=='([^']+)'", query):
            if stack is None or output not in stack.outputs:
                problems.append(f"{call.line}: output {output} does not exist")
        for parameter in re.findall(r"ParameterKey=='([^']+)'", query):
            if stack is None or stack.parameter(parameter) is None:
                problems.append(f"{call.line}: parameter {parameter} does not exist")
        for value in call.options.get("--parameters", []):
            match = re.match(r"ParameterKey=([^,]+),", value)
            if match and (stack is None or stack.parameter(match.group(1)) is None):
                problems.append(f"{call.line}: parameter {match.group(1)} does not exist")
        export = call.value("--export-name")
        if export and not export.startswith("$"):
            exports = {s.export_name(o) for s in here for o in s.outputs}
            if export not in exports:
                problems.append(f"{call.line}: export {export} does not exist")
        prefix = call.value("--alarm-name-prefix")
        if prefix and prefix.rstrip("-") not in {s.stack_name for s in here}:
            problems.append(f"{call.line}: alarm prefix {prefix} is not a stack of {region}")
        for (service, flag), types in IDENTIFIER_OPTIONS.items():
            if call.service != service or flag not in call.options:
                continue
            for value in call.options[flag]:
                if value.startswith("$"):
                    continue
                existing = _names(here, types)
                anything = {s.physical_name(rid) for s in here for rid in s.resources} - {None}
                if value not in existing and not _is_new(value, anything):  # type: ignore[arg-type]
                    problems.append(f"{call.line}: {flag} {value} is no {'/'.join(types)} of the stack in {region}")
    defined = defined_variables(markdown)
    lines = code_lines(markdown)
    for index, line in enumerate(lines):
        for variable in _VARIABLE.findall(line):
            if not any(name == variable and at <= index for name, at in defined):
                problems.append(f"{line}: ${variable} is used before any line defines it")
    return problems


# -- tables ---------------------------------------------------------------------------------


def section(markdown: str, title: str) -> str:
    """The text of the ``## N. title`` section."""
    match = re.search(rf"^## \d+\. {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in ``text`` as a list of row dicts (cells unescaped, backticks removed)."""
    found, current, headers = [], [], None
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip().replace("\\|", "|").strip("`") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if headers is None:
                headers = cells
            elif set(line.replace("|", "").strip()) <= {"-"}:
                continue
            else:
                current.append(dict(zip(headers, cells, strict=True)))
        elif headers is not None:
            found.append(current)
            current, headers = [], None
    return found


def table_with(text: str, column: str) -> list[dict[str, str]]:
    return next(t for t in tables(text) if t and column in t[0])
