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
    text = [
        f"The service connects to `{database}` as `{app_user}` with IAM database authentication. RDS creates only "
        f"the master user, so until this step runs the tasks cannot connect. Run it once after the first deploy, and "
        "again after a restore into a new instance; it is idempotent, so running it twice changes nothing.",
        "",
        f"It starts the one-off task `{BOOTSTRAP_TASK_DEFINITION}` in the service's subnets and security group "
        "(the database is not reachable from outside the VPC). The task runs `psql` as the RDS-managed master user "
        "(ECS injects the secret; it is never printed) and, in one transaction: creates the role if it is missing, "
        "grants `rds_iam`, `CONNECT` on the database, `USAGE` on schema `app` and `SELECT/INSERT/UPDATE/DELETE` on "
        "its tables and sequences (also those the master user creates later), and nothing else; then it checks the "
        "role has no other membership or administrative attribute.",
        "",
        code("\n".join(lines)),
        "",
        "What you see: `describe-tasks` prints `0` (the exit code) and `None`; the log shows `created role "
        f"{app_user}` the first time (`role {app_user} exists` afterwards) and ends with `role {app_user} ready: "
        "LOGIN, IAM authentication (rds_iam), ...`. A non-zero exit code changed nothing (the transaction rolled "
        "back): read the log's `ERROR:` line. `could not translate host name` or a timeout means the task could "
        "not reach the database (security group, or the instance not `available` yet); `is a member of roles other "
        "than rds_iam` means someone widened the role by hand: revoke that membership as the master user and run "
        "the step again. Then the service's tasks connect; `ServiceRunningTasksAlarm` and the target health "
        "settle within a few minutes.",
    ]
    if stack.blueprint.startswith("dr-"):
        text += [
            "",
            "The cross-region replica receives the role through replication, and keeps it when promoted: "
            "never run this against the replica (it is read-only until promotion).",
        ]
    return TITLE, "\n".join(text)


def _app_user(container: dict) -> str:
    for argument in container.get("Command") or []:
        if isinstance(argument, str) and "CREATE ROLE " in argument:
            return argument.split("CREATE ROLE ", 1)[1].split()[0]
    return "the application user"
