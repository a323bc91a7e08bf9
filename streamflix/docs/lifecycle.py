"""The runbook's lifecycle section: the verdicts of streamflix.lifecycle as a table, and the
follow-up update that switches deletion protection on after the first create."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamflix.checks.rules import StackView
from streamflix.docs.markdown import aws, code, table
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
    body = [
        "What CloudFormation and AWS do with each resource of this stack, modelled offline by "
        "`streamflix.lifecycle` from the rendered templates of the environment (the SF3xxx rules state the AWS "
        "documentation each step rests on): (a) the first create fails at a later resource and rolls back; "
        "(b) the stack, after its follow-up updates, is deleted; (c) it is created again after that delete; "
        "(d) the DR sequence (the failover update promotes the replica in place; fail back rebuilds the pair the "
        "other way round). Resources that are simply deleted and created again are not listed. The build fails on "
        "any outcome that needs a hand unless the config accepts it in `lifecycle_exceptions` (shown as accepted).",
        "",
    ]
    rows = verdict_rows(stack.blueprint, verdicts)
    body.append(table(["resource", "type", *PHASES], rows) if rows else "Every resource is simply deleted and created again.")
    for entry in stack.metadata.get("FollowUpUpdates") or []:
        parameter, value = str(entry.get("Parameter")), str(entry.get("Value"))
        body += [
            "",
            f"**Follow-up update.** The stack is created with `{parameter}={_default(stack, parameter)}` so a failed "
            f"create can roll back ({entry.get('Reason')}). Once it is `CREATE_COMPLETE`, set `{parameter}={value}`:",
            "",
            code(follow_up_update(stack, parameter, value)),
            "",
            f"Before deleting the stack on purpose, run the same update with `{parameter}=false`.",
        ]
    return "Lifecycle: failed create, delete, re-create, failover", "\n".join(body)


def _default(stack: StackFacts, parameter: str) -> str:
    for p in stack.parameters:
        if p.name == parameter:
            return str(p.default)
    return "?"
