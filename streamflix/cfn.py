"""CloudFormation's own conventions, read the one way the whole code base reads them.

Nothing here knows blueprints, configs or documents: these are facts about the
template language, shared by the rules, the diff, wiring and the documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator


def is_true(value: Any) -> bool:
    """CloudFormation's truthiness of a Boolean property: ``true`` or ``"true"`` (any case)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


# -- references: Ref, Fn::GetAtt and Fn::Sub's ${X} / ${X.Attr} ------------------

#: A ``${...}`` variable of an ``Fn::Sub`` text; ``${!Literal}`` is text, not a variable.
SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass(frozen=True)
class Reference:
    """One use of a logical id, parameter or pseudo parameter in a template value.

    ``kind`` is how CloudFormation resolves it: ``Ref`` for ``{"Ref": X}`` and
    ``${X}`` in a Sub, ``GetAtt`` for ``Fn::GetAtt`` and ``${X.Attr}`` in a Sub
    (the same edge labels cfn-lint's graph uses).
    """

    kind: str
    name: str
    attribute: str | None = None


def sub_parts(argument: Any) -> tuple[Any, dict[str, Any]]:
    """(text, local variables) of an ``Fn::Sub`` argument: a text, or [text, {name: value}]."""
    if isinstance(argument, list):
        text = argument[0] if argument else None
        variables = argument[1] if len(argument) > 1 and isinstance(argument[1], dict) else {}
        return text, variables
    return argument, {}


def walk_references(value: Any) -> Iterator[Reference]:
    """Every reference in ``value``, in document order, at any depth.

    A Sub's own variables (``!Sub ["${Name}", {Name: ...}]``) are not references;
    what their values refer to is.
    """
    if isinstance(value, list):
        for item in value:
            yield from walk_references(item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield Reference("Ref", inner)
            elif key == "Fn::GetAtt":
                if isinstance(inner, list) and inner and isinstance(inner[0], str):
                    yield Reference("GetAtt", inner[0], ".".join(str(part) for part in inner[1:]) or None)
                elif isinstance(inner, str):
                    name, _, attribute = inner.partition(".")
                    yield Reference("GetAtt", name, attribute or None)
                else:
                    yield from walk_references(inner)
            elif key == "Fn::Sub":
                text, variables = sub_parts(inner)
                if isinstance(text, str):
                    for variable in SUB_VARIABLE.findall(text):
                        name, _, attribute = variable.partition(".")
                        if variable not in variables and name not in variables:
                            yield Reference("GetAtt" if attribute else "Ref", name, attribute or None)
                else:
                    yield from walk_references(text)
                yield from walk_references(variables)
            else:
                yield from walk_references(inner)


def references(value: Any) -> set[str]:
    """The logical ids and parameter names ``value`` refers to; pseudo parameters (``AWS::...``) left out."""
    return {r.name for r in walk_references(value) if not r.name.startswith("AWS::")}


def ref_name(value: Any) -> str | None:
    """X for ``{"Ref": X}`` (a parameter or a resource), else None."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return value["Ref"]
    return None


def target_of(value: Any) -> str | None:
    """X for ``{"Ref": X}`` or ``{"Fn::GetAtt": [X, attribute]}``: what the value is taken from, else None."""
    name = ref_name(value)
    if name is not None:
        return name
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        found = next(walk_references({"Fn::GetAtt": value["Fn::GetAtt"]}), None)
        return found.name if found else None
    return None


#: ``!Ref AWS::NoValue``: the property is removed, as if never written.
NO_VALUE = {"Ref": "AWS::NoValue"}


def removable_value(value: Any) -> Any:
    """``X`` when ``value`` is ``Fn::If [condition, X, !Ref AWS::NoValue]`` (either branch order): a
    property present only while the condition holds, so a stack update that flips the condition
    removes it (a read replica's source: the failover promotes it in place). None otherwise."""
    if not (isinstance(value, dict) and set(value) == {"Fn::If"}):
        return None
    branches = value["Fn::If"]
    if not (isinstance(branches, list) and len(branches) == 3 and NO_VALUE in branches[1:]):
        return None
    present = branches[1] if branches[2] == NO_VALUE else branches[2]
    return None if present == NO_VALUE else present


def value_when_present(value: Any) -> Any:
    """A property as it stands while present: the kept branch of ``removable_value``, else ``value``."""
    present = removable_value(value)
    return value if present is None else present


def depends_on(resource: dict[str, Any]) -> list[str]:
    """A resource's ``DependsOn``, always as a list of names."""
    named = resource.get("DependsOn")
    if named is None:
        return []
    return [str(d) for d in (named if isinstance(named, list) else [named])]


def resource_dependencies(template: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """{logical id: {resource it is created after: how (Ref, GetAtt, DependsOn)}}, every resource present.

    The edges CloudFormation orders creation by: ``DependsOn`` and every reference
    to another resource anywhere in the resource's body. A resource's reference to
    itself is not an edge.
    """
    all_resources = template.get("Resources") or {}
    graph: dict[str, dict[str, set[str]]] = {}
    for logical_id, resource in all_resources.items():
        if not isinstance(resource, dict):
            continue
        edges: dict[str, set[str]] = {}
        for name in depends_on(resource):
            edges.setdefault(name, set()).add("DependsOn")
        body = {key: inner for key, inner in resource.items() if key != "DependsOn"}
        for found in walk_references(body):
            edges.setdefault(found.name, set()).add(found.kind)
        graph[logical_id] = {
            name: kinds for name, kinds in edges.items() if name != logical_id and isinstance(all_resources.get(name), dict)
        }
    return graph


# -- showing a template value to a reader ---------------------------------------

#: A string YAML reads back as the same string when written without quotes, in a flow
#: collection too: starts with a letter, ``_`` or ``/``, no spaces, flow indicators or ``#``.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:@-]*")
#: Words YAML 1.1 reads as booleans or null, so a string spelled so must be quoted.
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null"})


def is_intrinsic(value: Any) -> bool:
    """``{"Ref": X}``, ``{"Fn::...": X}`` or ``{"Condition": "Name"}``: one key naming a function."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((key, argument),) = value.items()
    return key == "Ref" or key.startswith("Fn::") or (key == "Condition" and isinstance(argument, str))


def _scalar(value: Any) -> str:
    """A scalar as a YAML flow collection holds it: plain when YAML reads it back unchanged, else quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and not text.endswith(":") and text.lower() not in _YAML_WORDS:
        return text
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return '"' + "".join(_escaped(c) for c in text) + '"'


def _escaped(char: str) -> str:
    """One character of a YAML double-quoted scalar: the unprintable ones as ``\\n``, ``\\x85``, ``\\u2028``, ..."""
    if char in '"\\':
        return "\\" + char
    if char.isprintable():
        return char
    short = {"\n": "n", "\t": "t", "\r": "r"}.get(char)
    if short:
        return "\\" + short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _flow(value: Any) -> str:
    """``value`` in YAML flow style, intrinsics in CloudFormation's short form (``!Ref X``)."""
    if is_intrinsic(value):
        ((key, argument),) = value.items()
        tag = "!" + key.removeprefix("Fn::")
        if key == "Fn::GetAtt" and isinstance(argument, list) and all(isinstance(p, str) for p in argument):
            argument = ".".join(argument)
        if is_intrinsic(argument):
            # YAML gives a node one tag: `!ImportValue !Sub x` is not YAML, the outer one goes long form
            return "{" + f"{_scalar(key)}: {_flow(argument)}" + "}"
        return f"{tag} {_flow(argument)}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return _scalar(value)


def text_of(value: Any) -> str:
    """A template value as a reader sees it: the one notation every report, runbook and diff uses.

    A literal is written as CloudFormation receives it: a string bare, a boolean
    ``true``/``false``, a number as written. Anything else is the compact YAML the
    rendered template holds, intrinsics in short form: ``!Ref Vpc``,
    ``!GetAtt DataKey.Arn``, ``!Sub 'streamflix-${EnvironmentSuffix}-app'``,
    ``!Select [0, !GetAZs '']``, ``!If [IsReadReplica, !Ref AWS::NoValue, 7]``,
    lists as ``[a, b]``. Mappings keep the template's key order, so the text is
    deterministic; it is valid YAML that CloudFormation's loader reads back as
    ``value`` (a literal string only where it needs no quotes). Shortening is the
    caller's business.
    """
    if isinstance(value, str):
        return value
    return _flow(value)


def parameter_text(value: Any) -> str:
    """A parameter value as CloudFormation receives it: one string, a list comma-delimited."""
    if isinstance(value, list):
        return ",".join(text_of(item) for item in value)
    return text_of(value)
