"""Runbook section: the first step after a deploy, creating the application's database role.

Present when the template holds the bootstrap task definition
(``streamflix.constructs.db_bootstrap``); every identifier is read from the
deployed stack's outputs, and the section says what the operator sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamflix.constructs.db_bootstrap import BOOTSTRAP_CONTAINER, BOOTSTRAP_TASK_DEFINITION
from streamflix.docs.lookups import output_command, ref_handle, setup_lines
from streamflix.docs.markdown import assign, aws, aws_wait, code
from streamflix.docs.prose import render_chapter

if TYPE_CHECKING:
    from streamflix.docs.context import RunbookContext

#: The runbook section's title (other sections and the README point at it).
TITLE = "First step after deploy: the application database role"


def database_bootstrap(ctx: "RunbookContext") -> tuple[str, str] | None:
    stack = ctx.stack
    if BOOTSTRAP_TASK_DEFINITION not in stack.resources:
        return None
    region = stack.region
    container = next(
        (c for c in stack.props(BOOTSTRAP_TASK_DEFINITION).get("ContainerDefinitions") or []
         if c.get("Name") == BOOTSTRAP_CONTAINER),
        {},
    )
    environment = {e.get("Name"): e.get("Value") for e in container.get("Environment") or []}
    database = environment.get("PGDATABASE", "the application database")
    app_user = _app_user(container)
    cluster = ref_handle(stack, "EcsCluster", "CLUSTER")
    task_definition = ref_handle(stack, BOOTSTRAP_TASK_DEFINITION, "BOOTSTRAP_TASK_DEFINITION")
    log_group = ref_handle(stack, "ServiceLogGroup", "LOG_GROUP")
    run = aws(
        "ecs", "run-task", region=region,
        options=[
            ("--cluster", cluster.value),
            ("--task-definition", task_definition.value),
            ("--launch-type", "FARGATE"),
            ("--count", "1"),
            ("--network-configuration",
             "awsvpcConfiguration={subnets=[$APP_SUBNETS],securityGroups=[$SERVICE_SG],assignPublicIp=DISABLED}"),
            ("--query", "tasks[0].taskArn"),
            ("--output", "text"),
        ],
        one_line=True,
    )
    lines = [
        *setup_lines(cluster, task_definition, log_group),
        assign("APP_SUBNETS", output_command(stack, "AppSubnetIds")),
        assign("SERVICE_SG", output_command(stack, "ServiceSecurityGroupId")),
        assign("TASK_ARN", run),
        aws_wait("ecs", "tasks-stopped", region=region, options=[("--cluster", cluster.value), ("--tasks", "$TASK_ARN")]),
        aws("ecs", "describe-tasks", region=region,
            options=[("--cluster", cluster.value), ("--tasks", "$TASK_ARN"),
                     ("--query", "tasks[0].containers[0].[exitCode,reason]"), ("--output", "text")]),
        aws("logs", "filter-log-events", region=region,
            options=[("--log-group-name", log_group.value), ("--log-stream-name-prefix", BOOTSTRAP_CONTAINER),
                     ("--query", "events[].message"), ("--output", "text")]),
    ]
    text = render_chapter(
        "database_bootstrap",
        database=database,
        app_user=app_user,
        task_definition=BOOTSTRAP_TASK_DEFINITION,
        commands=code("\n".join(lines)),
        dr=stack.blueprint.startswith("dr-"),
    )
    return TITLE, text


def _app_user(container: dict) -> str:
    for argument in container.get("Command") or []:
        if isinstance(argument, str) and "CREATE ROLE " in argument:
            return argument.split("CREATE ROLE ", 1)[1].split()[0]
    return "the application user"
