"""Assertions on rendered templates for your own tests, in the spirit of AWS CDK's
``aws_cdk.assertions``.

    from streamflix.testing import Match, Template

    t = Template.from_file("out/prod/ha-database.yaml")
    t.resource_count_is("AWS::RDS::DBCluster", 1)
    t.has_resource_properties("AWS::RDS::DBCluster", {"StorageEncrypted": True,
                                                      "KmsKeyId": {"Ref": "DataKey"}})
    t.has_resource("AWS::RDS::DBCluster", {"DeletionPolicy": "Snapshot"})
    t.has_output("DatabaseWriterEndpoint", {"Export": {"Name": Match.any_value()}})

Templates are read with the CloudFormation-aware loader, so ``!Ref x`` is
matched as ``{"Ref": "x"}``. Plain dicts match *object-like* (the listed keys
must match, others may exist) at every depth; lists match element by element
unless wrapped in ``Match.array_with``. A failed assertion says what was
closest, so the diff is readable.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from streamflix.render import RenderedStack, load_template

__all__ = ["Match", "Matcher", "Template"]


class Matcher:
    """A pattern: ``test(actual)`` returns None on success, else why it failed."""

    def __init__(self, name: str, test: Callable[[Any, str], str | None]):
        self.name = name
        self._test = test

    def test(self, actual: Any, path: str = "") -> str | None:
        return self._test(actual, path)

    def __repr__(self) -> str:
        return self.name


_ABSENT = object()


class Match:
    """Factories for matchers (the same vocabulary as CDK's ``Match``)."""

    @staticmethod
    def object_like(pattern: Mapping[str, Any]) -> Matcher:
        return Matcher(f"object_like({dict(pattern)!r})", lambda a, p: _object(pattern, a, p, exact=False))

    @staticmethod
    def object_equals(pattern: Mapping[str, Any]) -> Matcher:
        return Matcher(f"object_equals({dict(pattern)!r})", lambda a, p: _object(pattern, a, p, exact=True))

    @staticmethod
    def array_with(items: list[Any]) -> Matcher:
        """The actual list contains these items, in this order, perhaps with others between."""

        def test(actual: Any, path: str) -> str | None:
            if not isinstance(actual, list):
                return f"{path or '<root>'}: expected a list, got {_short(actual)}"
            position = 0
            for wanted in items:
                while position < len(actual) and _match(wanted, actual[position], path) is not None:
                    position += 1
                if position == len(actual):
                    return f"{path or '<root>'}: no element matches {wanted!r} (in order) among {_short(actual)}"
                position += 1
            return None

        return Matcher(f"array_with({items!r})", test)

    @staticmethod
    def any_value() -> Matcher:
        return Matcher(
            "any_value()", lambda a, p: None if a is not _ABSENT and a is not None else f"{p}: expected a value"
        )

    @staticmethod
    def absent() -> Matcher:
        return Matcher("absent()", lambda a, p: None if a is _ABSENT else f"{p}: expected absent, got {_short(a)}")

    @staticmethod
    def string_like_regexp(pattern: str) -> Matcher:
        regex = re.compile(pattern)

        def test(actual: Any, path: str) -> str | None:
            if isinstance(actual, str) and regex.search(actual):
                return None
            return f"{path}: {_short(actual)} does not match /{pattern}/"

        return Matcher(f"string_like_regexp({pattern!r})", test)

    @staticmethod
    def not_(pattern: Any) -> Matcher:
        return Matcher(
            f"not({pattern!r})",
            lambda a, p: f"{p}: {_short(a)} must not match {pattern!r}" if _match(pattern, a, p) is None else None,
        )


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _match(pattern: Any, actual: Any, path: str) -> str | None:
    if isinstance(pattern, Matcher):
        return pattern.test(actual, path)
    if actual is _ABSENT:
        return f"{path}: missing (expected {_short(pattern)})"
    if isinstance(pattern, Mapping):
        return _object(pattern, actual, path, exact=False)
    if isinstance(pattern, list):
        if not isinstance(actual, list) or len(actual) != len(pattern):
            return f"{path}: expected {_short(pattern)}, got {_short(actual)}"
        for index, (want, got) in enumerate(zip(pattern, actual)):
            problem = _match(want, got, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if not _same_scalar(pattern, actual):
        return f"{path}: expected {_short(pattern)}, got {_short(actual)}"
    return None


def _same_scalar(pattern: Any, actual: Any) -> bool:
    """Equal, with True never equal to 1 and '1' never equal to 1 (the loader's
    str/int subclasses still compare as their base types)."""
    for kind in (bool, str, int, float):
        if isinstance(pattern, kind) or isinstance(actual, kind):
            return isinstance(pattern, kind) and isinstance(actual, kind) and pattern == actual
    return pattern == actual


def _object(pattern: Mapping[str, Any], actual: Any, path: str, *, exact: bool) -> str | None:
    if not isinstance(actual, Mapping):
        return f"{path or '<root>'}: expected an object, got {_short(actual)}"
    for key, want in pattern.items():
        problem = _match(want, actual.get(key, _ABSENT), f"{path}.{key}" if path else key)
        if problem:
            return problem
    if exact:
        extra = sorted(set(actual) - set(pattern))
        if extra:
            return f"{path or '<root>'}: unexpected keys {extra}"
    return None


@dataclass
class Template:
    """A parsed template with assertion helpers."""

    body: dict[str, Any]

    @classmethod
    def from_text(cls, text: str) -> "Template":
        return cls(load_template(text))

    @classmethod
    def from_file(cls, path: str | Path) -> "Template":
        return cls.from_text(Path(path).read_text("utf-8"))

    @classmethod
    def from_stack(cls, stack: RenderedStack) -> "Template":
        return cls.from_text(stack.text)

    # -- queries ---------------------------------------------------------

    def find_resources(self, resource_type: str, props: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Resources of ``resource_type`` whose whole definition matches ``props`` (object-like)."""
        found = {}
        for logical_id, resource in (self.body.get("Resources") or {}).items():
            if resource.get("Type") != resource_type:
                continue
            if props is None or _match(dict(props), resource, logical_id) is None:
                found[logical_id] = resource
        return found

    def find_outputs(self, name_pattern: str = "*", props: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Outputs whose name matches the glob and whose body matches ``props``."""
        return {
            name: output
            for name, output in (self.body.get("Outputs") or {}).items()
            if fnmatch.fnmatchcase(name, name_pattern) and (props is None or _match(dict(props), output, name) is None)
        }

    # -- assertions ------------------------------------------------------

    def resource_count_is(self, resource_type: str, count: int) -> None:
        actual = len(self.find_resources(resource_type))
        assert actual == count, f"expected {count} {resource_type}, found {actual}"

    def has_resource_properties(self, resource_type: str, props: Mapping[str, Any] | Matcher) -> None:
        """Some resource of the type has Properties matching ``props``."""
        self._has(resource_type, {"Properties": props})

    def has_resource(self, resource_type: str, definition: Mapping[str, Any]) -> None:
        """Some resource of the type matches ``definition`` (Properties, DeletionPolicy, ...)."""
        self._has(resource_type, definition)

    def all_resources_properties(self, resource_type: str, props: Mapping[str, Any]) -> None:
        """Every resource of the type has Properties matching ``props`` (and there is one at least)."""
        candidates = self.find_resources(resource_type)
        assert candidates, f"no {resource_type} in the template"
        problems = [
            problem
            for logical_id, resource in candidates.items()
            if (problem := _match({"Properties": dict(props)}, resource, logical_id))
        ]
        assert not problems, "\n".join(problems)

    def has_output(self, name: str, props: Mapping[str, Any]) -> None:
        outputs = self.body.get("Outputs") or {}
        assert name in outputs, f"no output {name!r}; outputs: {sorted(outputs)}"
        problem = _match(dict(props), outputs[name], f"Outputs.{name}")
        assert problem is None, problem

    def has_parameter(self, name: str, props: Mapping[str, Any]) -> None:
        parameters = self.body.get("Parameters") or {}
        assert name in parameters, f"no parameter {name!r}; parameters: {sorted(parameters)}"
        problem = _match(dict(props), parameters[name], f"Parameters.{name}")
        assert problem is None, problem

    def template_matches(self, pattern: Mapping[str, Any]) -> None:
        problem = _match(dict(pattern), self.body, "")
        assert problem is None, problem

    def _has(self, resource_type: str, pattern: Mapping[str, Any]) -> None:
        candidates = self.find_resources(resource_type)
        assert candidates, f"no {resource_type} in the template"
        problems = {logical_id: _match(dict(pattern), resource, logical_id) for logical_id, resource in candidates.items()}
        if any(problem is None for problem in problems.values()):
            return
        listing = "\n  ".join(str(problem) for problem in problems.values())
        raise AssertionError(f"no {resource_type} matches; closest mismatches:\n  {listing}")
