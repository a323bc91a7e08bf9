"""SF3001: a read replica's source must not manage its master password in Secrets Manager.

AWS documentation (RDS User Guide, "Password management with Amazon RDS and AWS
Secrets Manager", section "Limitations for Secrets Manager integration with Amazon
RDS"): "Managing master user passwords with Secrets Manager isn't supported for the
following features: Creating a read replica when the source DB or DB cluster manages
credentials with Secrets Manager. This applies to all DB engines except RDS for SQL
Server." (checked against the page's zh-CN and ja-JP editions in the docs corpus).
The API answers ``InvalidParameterValue: Creating read replicas for source instance
... where ManageMasterUserPassword is enabled is not supported``, so the replica's
stack can never be created. The source may be in the same template (``Ref``/
``GetAtt``) or in another stack of the environment, reached through a wired
parameter (``Metadata.StreamFlix.Wiring``) and that stack's output.
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import EnvironmentRule, StackView, is_true, properties, resources, target_of, wired_source

SQL_SERVER_PREFIX = "sqlserver"


class ReplicaSourceOwnsItsPassword(EnvironmentRule):
    id = "SF3001"
    title = "A read replica's source does not manage its master password with Secrets Manager"
    description = (
        "RDS refuses to create a read replica (any engine but SQL Server) of a DB instance or cluster "
        "with ManageMasterUserPassword: true. The source is followed within the template and across "
        "stacks through wired parameters; give the source a template-owned secret with hosted rotation."
    )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        for stack in stacks:
            for logical_id, replica in resources(stack.template, "AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
                props = properties(replica)
                source_value = props.get("SourceDBInstanceIdentifier", props.get("SourceDBClusterIdentifier"))
                if source_value is None:
                    continue
                source = _source(stacks, stack, source_value)
                if source is None:
                    continue
                source_stack, source_id = source
                source_props = properties(source_stack.template["Resources"][source_id])
                if str(source_props.get("Engine", "")).startswith(SQL_SERVER_PREFIX):
                    continue
                if is_true(source_props.get("ManageMasterUserPassword")):
                    where = "" if source_stack is stack else f" in {source_stack.name} ({source_stack.region})"
                    yield stack, replica, (
                        f"{logical_id} is a read replica of {source_id}{where}, which has ManageMasterUserPassword: "
                        "true; RDS refuses to create the replica (InvalidParameterValue). Give the source a "
                        "template-owned secret ({{resolve:secretsmanager:...}}) rotated by the AWS-hosted function"
                    )


def _source(stacks: list[StackView], stack: StackView, value: Any) -> tuple[StackView, str] | None:
    target = target_of(value)
    local = stack.template.get("Resources") or {}
    if target in local:
        return stack, target
    return wired_source(stacks, stack, value)
