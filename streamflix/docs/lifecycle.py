"""The runbook's lifecycle section: the verdicts of streamflix.lifecycle as a table, and the
follow-up update that switches deletion protection on after the first create."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamflix.checks.rules import StackView
from streamflix.checks.rules.base import follow_up_updates
from streamflix.docs.markdown import aws, code, table
from streamflix.docs.prose import render_chapter
from streamflix.docs.stack import StackFacts
from streamflix.lifecycle import PHASES, simulate, verdict_rows

if TYPE_CHECKING:
    from streamflix.docs.context import RunbookContext

Section = tuple[str, str]


def follow_up_update(stack: StackFacts, parameter: str, value: str) -> str:
    """``update-stack`` that sets one parameter and keeps every other value and the template."""
    parameters = [
        f"ParameterKey={p.name},ParameterValue={value}" if p.name == parameter else f"ParameterKey={p.name},UsePreviousValue=true"
        for p in stack.parameters
    ]
    options = [("--stack-name", stack.stack_name), ("--use-previous-template", None), ("--parameters", parameters)]
    if stack.capabilities:
        options.append(("--capabilities", stack.capabilities))
    return aws("cloudformation", "update-stack", region=stack.region, options=options)


def section(ctx: "RunbookContext") -> Section:
    stacks = [
        StackView(facts.blueprint, facts.region, facts.filename, facts.template)
        for facts in ctx.env.stacks.values()
    ]
    verdicts = simulate(stacks)
    stack = ctx.stack
    rows = verdict_rows(stack.blueprint, verdicts)
    follow_ups = []
    for entry in follow_up_updates(stack.template):
        parameter, value = str(entry.get("Parameter")), str(entry.get("Value"))
        follow_ups.append({
            "parameter": parameter,
            "default": _default(stack, parameter),
            "value": value,
            "reason": entry.get("Reason"),
            "command": code(follow_up_update(stack, parameter, value)),
        })
    text = render_chapter(
        "lifecycle",
        verdicts=table(["resource", "type", *PHASES], rows) if rows else "",
        follow_ups=follow_ups,
    )
    return "Lifecycle: failed create, delete, re-create, failover", text


def _default(stack: StackFacts, parameter: str) -> str:
    for p in stack.parameters:
        if p.name == parameter:
            return str(p.default)
    return "?"
