"""The application-role bootstrap (issue 11, finding 2), run against a real PostgreSQL server.

The tests start a throwaway server (tests/postgres_server.py) and stand in for RDS:
- ``rds_iam`` is created first, as a NOLOGIN role, standing in for RDS's built-in role of that
  name (IAM database authentication checks membership in it);
- the master user is NOT a superuser, as on RDS: a LOGIN role with CREATEROLE and CREATEDB that
  owns the application database and holds ``rds_iam`` WITH ADMIN OPTION (RDS's master user,
  through rds_superuser, may grant it);
then run the exact psql command the rendered template's bootstrap task runs, twice.
"""

from __future__ import annotations

import os

import pytest
from postgres_server import REQUIRE_ENV, ServerUnavailable, start_server

from streamflix.constructs.db_bootstrap import APP_SCHEMA, BOOTSTRAP_CONTAINER, app_role_sql, psql_arguments
from streamflix.testing import Template

MASTER = "streamflix_admin"
APP = "streamflix_app"
DATABASE = "streamflix"


@pytest.fixture(scope="module")
def server():
    try:
        pg = start_server()
    except ServerUnavailable as reason:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no PostgreSQL server could be started: {reason}")
        pytest.skip(f"no PostgreSQL server for the bootstrap SQL tests: {reason}")
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture()
def rds_like(server):
    """A fresh 'RDS instance': rds_iam, a non-superuser master, its database. Dropped afterwards."""
    for statement in (
        "CREATE ROLE rds_iam NOLOGIN",
        f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB",
        f"GRANT rds_iam TO {MASTER} WITH ADMIN OPTION",
        f"CREATE DATABASE {DATABASE} OWNER {MASTER}",
    ):
        server.sql(statement)
    yield server
    for statement in (
        f"DROP DATABASE IF EXISTS {DATABASE}",
        f"DROP OWNED BY {APP}",
        f"DROP ROLE IF EXISTS {APP}",
        f"DROP ROLE IF EXISTS {MASTER}",
        "DROP ROLE IF EXISTS rds_iam",
    ):
        server.psql("--no-psqlrc", "-c", statement, user="postgres", check=False)


def _bootstrap_command(stack) -> tuple[list[str], dict[str, str]]:
    """The bootstrap container's psql arguments and plain environment, as rendered."""
    template = Template.from_stack(stack)
    task = template.find_resources("AWS::ECS::TaskDefinition")["DatabaseBootstrapTaskDefinition"]
    (container,) = task["Properties"]["ContainerDefinitions"]
    assert container["Name"] == BOOTSTRAP_CONTAINER and container["EntryPoint"] == ["psql"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"] if isinstance(e["Value"], str)}
    return container["Command"], environment


def _run_rendered(server, stack):
    arguments, environment = _bootstrap_command(stack)
    # PGHOST/PGPORT come from the socket of the test server; the rest is what the task sets
    # (PGUSER and PGPASSWORD come from the master secret there; trust authentication here).
    environment.pop("PGHOST", None)
    environment.pop("PGPORT", None)
    return server.psql(*arguments, user=MASTER, database=environment.pop("PGDATABASE"), env=environment, check=False)


@pytest.mark.parametrize("stack_name", ["ha-database", "dr-primary"])
def test_rendered_bootstrap_creates_the_role_and_is_idempotent(rds_like, rendered, stack_name):
    stack = rendered["prod"][stack_name]
    first = _run_rendered(rds_like, stack)
    assert first.returncode == 0, first.stderr
    assert f"created role {APP}" in first.stderr and f"role {APP} ready" in first.stderr
    second = _run_rendered(rds_like, stack)
    assert second.returncode == 0, second.stderr
    assert f"role {APP} exists" in second.stderr and f"role {APP} ready" in second.stderr

    attributes = rds_like.sql(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
        f"FROM pg_roles WHERE rolname = '{APP}'"
    )
    assert attributes == "t|f|f|f|f|f"
    assert rds_like.sql(f"SELECT pg_has_role('{APP}', 'rds_iam', 'MEMBER')") == "t"
    memberships = rds_like.sql(
        f"SELECT string_agg(g.rolname, ',') FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        f"JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '{APP}'"
    )
    assert memberships == "rds_iam"
    assert rds_like.sql(f"SELECT has_database_privilege('{APP}', '{DATABASE}', 'CONNECT')") == "t"
    assert rds_like.sql(f"SELECT has_database_privilege('{APP}', '{DATABASE}', 'CREATE')") == "f"
    # the role exists once, however often the bootstrap runs
    assert rds_like.sql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{APP}'") == "1"


def test_the_application_role_has_dml_on_its_schema_and_nothing_more(rds_like, rendered):
    assert _run_rendered(rds_like, rendered["prod"]["ha-database"]).returncode == 0
    # A migration run by the master user after the bootstrap: default privileges apply to it.
    rds_like.sql(f"CREATE TABLE {APP_SCHEMA}.titles (id bigserial PRIMARY KEY, name text)", user=MASTER, database=DATABASE)

    def as_app(statement: str):
        return rds_like.psql("--no-psqlrc", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement,
                             user=APP, database=DATABASE, check=False)

    inserted = as_app("INSERT INTO titles (name) VALUES ('Metropolis') RETURNING id")  # search_path = app
    assert inserted.returncode == 0, inserted.stderr
    assert as_app("UPDATE titles SET name = 'M' WHERE id = 1").returncode == 0
    assert as_app("SELECT count(*) FROM titles").stdout.strip() == "1"
    assert as_app("DELETE FROM titles").returncode == 0
    for forbidden in (
        f"CREATE TABLE {APP_SCHEMA}.mine (id int)",
        "CREATE TABLE public.mine (id int)",
        f"DROP TABLE {APP_SCHEMA}.titles",
        f"ALTER TABLE {APP_SCHEMA}.titles ADD COLUMN x int",
        f"TRUNCATE {APP_SCHEMA}.titles",
        "CREATE ROLE intruder",
        f"CREATE DATABASE {APP}_own",
    ):
        refused = as_app(forbidden)
        assert refused.returncode != 0, forbidden
        assert "permission denied" in refused.stderr or "must be" in refused.stderr, refused.stderr


def test_a_failure_changes_nothing(rds_like):
    """Without rds_iam the grant fails, and the role created earlier in the script is rolled back."""
    rds_like.sql("DROP ROLE rds_iam")
    failed = rds_like.psql(*psql_arguments(app_role_sql(database=DATABASE, app_username=APP)),
                           user=MASTER, database=DATABASE, check=False)
    assert failed.returncode != 0 and 'role "rds_iam" does not exist' in failed.stderr
    assert rds_like.sql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{APP}'") == "0"
    rds_like.sql("CREATE ROLE rds_iam NOLOGIN")


def test_an_over_privileged_existing_role_is_refused(rds_like):
    """A role someone made a member of another role is reported, not silently accepted."""
    rds_like.sql(f"CREATE ROLE {APP} LOGIN")
    rds_like.sql(f"GRANT pg_read_all_data TO {APP}")
    result = rds_like.psql(*psql_arguments(app_role_sql(database=DATABASE, app_username=APP)),
                           user=MASTER, database=DATABASE, check=False)
    assert result.returncode != 0 and "member of roles other than rds_iam" in result.stderr
    rds_like.sql(f"REVOKE pg_read_all_data FROM {APP}")


def test_identifiers_outside_the_config_pattern_are_refused():
    with pytest.raises(ValueError, match="not a plain lower-case identifier"):
        app_role_sql(database=DATABASE, app_username="app'; DROP TABLE x; --")


def test_bootstrap_task_reads_the_master_secret_and_runs_least_privileged(rendered):
    for stack_name, host in (("ha-database", "AuroraCluster"), ("dr-primary", "PostgresPrimaryInstance")):
        template = Template.from_stack(rendered["prod"][stack_name])
        task = template.find_resources("AWS::ECS::TaskDefinition")["DatabaseBootstrapTaskDefinition"]["Properties"]
        (container,) = task["ContainerDefinitions"]
        assert container["User"] == "70:70" and container["ReadonlyRootFilesystem"] is True
        assert {s["Name"] for s in container["Secrets"]} == {"PGUSER", "PGPASSWORD"}
        secret_arn = {"Fn::GetAtt": [host, "MasterUserSecret.SecretArn"]}
        assert all(s["ValueFrom"]["Fn::Sub"][1]["Secret"] == secret_arn for s in container["Secrets"])
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert environment["PGSSLMODE"] == "require" and environment["PGDATABASE"] == "streamflix"
        assert "TaskRoleArn" not in task  # it calls no AWS API
        role = template.find_resources("AWS::IAM::Role")["DatabaseBootstrapExecutionRole"]["Properties"]
        (policy,) = role["Policies"]
        actions = sorted(a for s in policy["PolicyDocument"]["Statement"] for a in s["Action"])
        assert actions == ["kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"]
    assert "DatabaseBootstrapTaskDefinition" not in Template.from_stack(rendered["prod"]["dr-recovery"]).body["Resources"]
