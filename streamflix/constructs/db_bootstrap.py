"""The application database role: created by a one-off ECS task, the runbook's first step after deploy.

The service connects as ``app_username`` with IAM database authentication, which
needs a PostgreSQL role that is a member of ``rds_iam`` (RDS user guide, "Creating a
database account using IAM authentication": ``CREATE USER db_userx; GRANT rds_iam TO
db_userx;``). RDS creates only the master user, so nothing else would. The database
sits in isolated subnets an operator cannot reach, so the SQL runs from inside the
VPC: a Fargate task definition in the service's cluster that runs ``psql`` as the
RDS-managed master user (its secret injected by ECS, never printed), with the
service's subnets and security group. ``aws ecs run-task`` starts it; it prints one
NOTICE per step and exits 0, or exits non-zero on the first error (the whole script
is one transaction, so a failure changes nothing).

The SQL is idempotent (run it after every deploy, restore or promotion; a second run
changes nothing) and least-privilege: LOGIN and ``rds_iam``, no other role
membership, no CREATEDB/CREATEROLE, CONNECT on the application database, USAGE on
one schema and DML on its tables and sequences (present ones, and those the master
user creates later), nothing in ``public``. tests/test_db_bootstrap.py runs the
exact command the template renders against a real PostgreSQL server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from awacs import kms as kms_actions
from awacs import logs as logs_actions
from awacs import secretsmanager as secrets_actions
from troposphere import GetAtt, Ref, Sub, ecs, iam

from streamflix.config.naming import NAMES
from streamflix.constructs.compute import awslogs, locked_down_container
from streamflix.constructs.iam_policies import allow, inline_policy, service_trust
from streamflix.constructs.keys import Key
from streamflix.template import StackTemplate

BOOTSTRAP_EXECUTION_ROLE = "DatabaseBootstrapExecutionRole"
BOOTSTRAP_TASK_DEFINITION = "DatabaseBootstrapTaskDefinition"
BOOTSTRAP_CONTAINER = "db-bootstrap"
#: The schema the application's tables live in (owned by the master user, who runs migrations).
APP_SCHEMA = "app"

#: PostgreSQL's client in the Docker official image, mirrored on ECR Public. From
#: github.com/docker-library/postgres (commit 6edb0a8c4d, 2026-02-26): versions.json lists
#: 16 -> 16.13 with variant alpine3.23; 16/alpine3.23/Dockerfile creates the user
#: "postgres" with uid/gid 70 ("70 is the standard uid/gid for "postgres" in Alpine"); its
#: docker-entrypoint.sh only initialises a server when the command is "postgres", so the
#: psql entry point below starts no server and writes nothing (history is interactive only).
#: A psql 16 client speaks to every server version the catalogue offers. Pinned by tag, not
#: digest, for the reason DEFAULT_CONTAINER_IMAGE gives (the registry is not reachable here).
BOOTSTRAP_IMAGE = "public.ecr.aws/docker/library/postgres:16.13-alpine3.23"
BOOTSTRAP_USER = "70:70"

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class BootstrapTarget:
    """The database the role is created in, and how the task reaches it as the master user."""

    host: Any
    port: int
    database: str
    app_username: str
    master_secret_arn: Any


def _ident(name: str) -> str:
    """A PostgreSQL identifier the config models already restricted; refuse anything else."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain lower-case identifier")
    return name


def app_role_sql(*, database: str, app_username: str, schema: str = APP_SCHEMA) -> str:
    """The idempotent, least-privilege bootstrap of the application role, run as the master user."""
    db, app, sch = _ident(database), _ident(app_username), _ident(schema)
    return f"""\
-- StreamFlix application role bootstrap: idempotent, one transaction, run as the RDS master user.
DO $create$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{app}') THEN
    CREATE ROLE {app} LOGIN;
    RAISE NOTICE 'created role {app}';
  ELSE
    RAISE NOTICE 'role {app} exists';
  END IF;
END
$create$;
ALTER ROLE {app} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT CONNECTION LIMIT -1;
GRANT rds_iam TO {app};
GRANT CONNECT ON DATABASE {db} TO {app};
CREATE SCHEMA IF NOT EXISTS {sch};
REVOKE ALL ON SCHEMA {sch} FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA {sch} TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {sch} TO {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {sch} TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {sch} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA {sch} GRANT USAGE, SELECT ON SEQUENCES TO {app};
ALTER ROLE {app} IN DATABASE {db} SET search_path = {sch};
DO $verify$
DECLARE
  role pg_catalog.pg_roles%ROWTYPE;
BEGIN
  SELECT * INTO role FROM pg_catalog.pg_roles WHERE rolname = '{app}';
  IF role.rolsuper OR role.rolreplication OR role.rolbypassrls OR role.rolcreatedb OR role.rolcreaterole THEN
    RAISE EXCEPTION 'role {app} has privileges beyond an application role; fix it by hand as an administrator';
  END IF;
  IF NOT pg_catalog.pg_has_role('{app}', 'rds_iam', 'MEMBER') THEN
    RAISE EXCEPTION 'role {app} is not a member of rds_iam';
  END IF;
  IF EXISTS (
    SELECT FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
    WHERE m.member = role.oid AND g.rolname <> 'rds_iam'
  ) THEN
    RAISE EXCEPTION 'role {app} is a member of roles other than rds_iam; revoke them';
  END IF;
  RAISE NOTICE 'role {app} ready: LOGIN, IAM authentication (rds_iam), DML on schema {sch} of database {db}';
END
$verify$;
"""


def psql_arguments(sql: str) -> list[str]:
    """psql's arguments: no ~/.psqlrc, stop at the first error, the script as one transaction."""
    return ["--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--command", sql]


def add_database_bootstrap(
    t: StackTemplate,
    target: BootstrapTarget,
    *,
    project: str,
    key: Key,
    log_group: str,
) -> ecs.TaskDefinition:
    """The one-off task definition (and its execution role) that creates the application role.

    ``log_group`` is the logical ID of the service's log group; the task writes under
    the ``db-bootstrap`` stream prefix.
    """
    role = _add_execution_role(t, target.master_secret_arn, key=key, log_group=log_group)
    task = _add_task_definition(t, target, project=project, execution_role=role, log_group=log_group)
    t.add_output(
        "DatabaseBootstrapTaskDefinitionArn", Ref(task),
        f"Run once after deploy: creates the {target.app_username} role (rds_iam, least privilege); idempotent",
    )
    return task


def _add_execution_role(t: StackTemplate, secret: Any, *, key: Key, log_group: str) -> iam.Role:
    """The ECS agent's role: it injects the master credentials as secrets and writes the task's logs."""
    return t.add_resource(
        iam.Role(
            BOOTSTRAP_EXECUTION_ROLE,
            Description="ECS agent for the database bootstrap task: read the master secret, write logs",
            AssumeRolePolicyDocument=service_trust("ecs-tasks.amazonaws.com"),
            Policies=[
                inline_policy(
                    "master-secret-and-logs",
                    [
                        allow([secrets_actions.GetSecretValue], [secret]),
                        allow([kms_actions.Decrypt], [key.arn]),
                        allow([logs_actions.CreateLogStream, logs_actions.PutLogEvents], [GetAtt(log_group, "Arn")]),
                    ],
                )
            ],
        )
    )


def _add_task_definition(
    t: StackTemplate, target: BootstrapTarget, *, project: str, execution_role: iam.Role, log_group: str
) -> ecs.TaskDefinition:
    """A small ARM64 Fargate task with no task role: psql needs no AWS API, only the database."""
    return t.add_resource(
        ecs.TaskDefinition(
            BOOTSTRAP_TASK_DEFINITION,
            # psql -c writes nothing (no history outside interactive sessions): no writable paths.
            Metadata={"StreamFlix": {"ContainerContract": {BOOTSTRAP_CONTAINER: {
                "Image": BOOTSTRAP_IMAGE, "User": BOOTSTRAP_USER, "WritablePaths": []}}}},
            Family=Sub(f"{NAMES['ecs_cluster'].sub_pattern(project)}-db-bootstrap"),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            Cpu="256",
            Memory="512",
            RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture="ARM64", OperatingSystemFamily="LINUX"),
            ExecutionRoleArn=GetAtt(execution_role, "Arn"),
            ContainerDefinitions=[_psql_container(target, log_group)],
        )
    )


def _psql_container(target: BootstrapTarget, log_group: str) -> ecs.ContainerDefinition:
    """psql, as the master user, running the app-role script once."""
    sql = app_role_sql(database=target.database, app_username=target.app_username)
    secret = target.master_secret_arn
    return locked_down_container(
        BOOTSTRAP_CONTAINER,
        BOOTSTRAP_IMAGE,
        essential=True,
        user=BOOTSTRAP_USER,
        EntryPoint=["psql"],
        Command=psql_arguments(sql),
        Environment=[ecs.Environment(Name=name, Value=value) for name, value in _libpq_environment(target)],
        Secrets=[
            ecs.Secret(Name="PGUSER", ValueFrom=Sub("${Secret}:username::", Secret=secret)),
            ecs.Secret(Name="PGPASSWORD", ValueFrom=Sub("${Secret}:password::", Secret=secret)),
        ],
        LogConfiguration=awslogs(Ref(log_group), BOOTSTRAP_CONTAINER),
    )


def _libpq_environment(target: BootstrapTarget) -> tuple[tuple[str, Any], ...]:
    """Where psql connects, as libpq's PG* variables (the credentials come as secrets)."""
    return (
        ("PGAPPNAME", "streamflix-db-bootstrap"),
        ("PGCONNECT_TIMEOUT", "10"),
        ("PGDATABASE", target.database),
        ("PGHOST", target.host),
        ("PGPORT", str(target.port)),
        # The image has no RDS CA bundle to verify against; the server
        # refuses plaintext (rds.force_ssl), so the session is encrypted.
        ("PGSSLMODE", "require"),
    )
