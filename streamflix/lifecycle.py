"""The lifecycle simulation: what CloudFormation and AWS do with each resource of each stack,
offline, from the rendered templates of an environment taken together.

Four phases, one verdict per resource and phase:

* ``create-rollback``: the first create fails at any later resource and rolls back;
  parameters have their defaults (the create values; deletion protection is off, see SF3002);
* ``delete``: the stack, after its follow-up updates (``Metadata.StreamFlix.FollowUpUpdates``),
  is deleted;
* ``second-create``: the stack is created again after that delete, beside whatever the
  delete kept;
* ``failover``: the DR sequence: the recovery stack's failover update
  (``DatabaseRole=standalone``) promotes its replica in place, the primary is gone or
  deleted, and fail back rebuilds the pair the other way round.

An outcome is one of ``deleted``, ``snapshot`` (deleted after a final snapshot),
``retained``, ``protected`` (the delete is refused by deletion protection, by design),
``created``, ``changed`` (failover), or ``blocks`` with the reason. An outcome that
needs someone to clean up by hand (a failed create that keeps something, a rollback
that cannot finish, a retained name that makes the second create fail, a replica
whose deletion policy CloudFormation ignores after promotion) fails the build
(``deploy_model_holds``) unless the config names it in ``lifecycle_exceptions``.
The model encodes the AWS documentation quoted by the SF3xxx rules; what it cannot
see (service quotas, timing, IAM at deploy time) only a real deploy proves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from streamflix.checks.findings import Finding
from streamflix.checks.rules import ENVIRONMENT_RULES, StackView
from streamflix.checks.rules.base import (
    follow_up_updates,
    is_true,
    properties,
    resources,
    stack_metadata,
    target_of,
    value_after_follow_up_updates,
)
from streamflix.checks.rules.ignored_deletion_policy import SNAPSHOT_TYPES, promotable
from streamflix.checks.rules.retry_name_collision import fixed_name
from streamflix.checks.rules.rollback_deletion_protection import protections, value_at_create
from streamflix.render import shared_template

if TYPE_CHECKING:
    from streamflix.config.models import EnvironmentConfig
    from streamflix.render import RenderedStack

PHASES = ("create-rollback", "delete", "second-create", "failover")
#: The rule id of a lifecycle outcome that needs manual cleanup and is not excepted.
LIFECYCLE_RULE = "SF3000"
#: RDS types whose DeletionPolicy defaults to Snapshot (the DeletionPolicy attribute documentation).
_DEFAULT_SNAPSHOT = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance")


@dataclass(frozen=True)
class Verdict:
    stack: str
    resource: str
    type: str
    phase: str
    outcome: str
    why: str
    #: True when someone must act by hand for the stack to be retried or recreated.
    needs_cleanup: bool = False
    #: The config's reason when the outcome is a named lifecycle exception.
    accepted: str | None = None


def _steady(template: dict[str, Any], value: Any) -> Any:
    """A value after the follow-up updates (deletion protection on where the config wants it);
    a parameter no update sets keeps the value it was created with."""
    return value_at_create(template, value_after_follow_up_updates(template, value))


def _policy(resource: dict[str, Any]) -> str:
    return resource.get("DeletionPolicy") or ("Snapshot" if resource["Type"] in _DEFAULT_SNAPSHOT
                                              and "DBClusterIdentifier" not in properties(resource) else "Delete")


def _is_replica(resource: dict[str, Any]) -> bool:
    return resource["Type"] == "AWS::RDS::DBInstance" and "SourceDBInstanceIdentifier" in properties(resource)


def _written_by_service(template: dict[str, Any]) -> set[str]:
    """Buckets a service writes to as soon as it exists (ELB's access-log test object)."""
    found = set()
    for _, balancer in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        for attribute in properties(balancer).get("LoadBalancerAttributes") or []:
            if isinstance(attribute, dict) and attribute.get("Key") == "access_logs.s3.bucket":
                target = target_of(attribute.get("Value"))
                if target:
                    found.add(target)
    return found


def _simulate_stack(stack: StackView) -> list[Verdict]:
    template = stack.template
    verdicts: list[Verdict] = []
    at_create = {lid: value_at_create(template, v) for lid, _, _, v in protections(template)}
    steady = {lid: _steady(template, v) for lid, _, _, v in protections(template)}
    written = _written_by_service(template)
    dr_recovery = any(_is_replica(r) for _, r in resources(template))

    def add(lid: str, resource: dict[str, Any], phase: str, outcome: str, why: str, cleanup: bool = False) -> None:
        verdicts.append(Verdict(stack.name, lid, resource["Type"], phase, outcome, why, cleanup))

    for lid, resource in resources(template):
        policy = _policy(resource)
        name_key = fixed_name(resource)
        # (a) a failed create rolls back: everything created so far is deleted per its policy
        if is_true(at_create.get(lid)):
            add(lid, resource, "create-rollback", "blocks",
                "deletion protection is on at create: the rollback cannot delete it (ROLLBACK_FAILED)", True)
        elif _is_replica(resource):
            add(lid, resource, "create-rollback", "deleted", "a read replica: CloudFormation ignores its DeletionPolicy")
        elif policy == "Retain":
            if lid in written:
                add(lid, resource, "create-rollback", "retained",
                    "Retain (a service has written to it, so it could not be deleted empty); generated name, "
                    "no collision; empty and delete it by hand", True)
            elif name_key:
                add(lid, resource, "create-rollback", "blocks",
                    f"Retain keeps it with its fixed {name_key}: the retry fails with 'already exists'", True)
            else:
                add(lid, resource, "create-rollback", "retained", "Retain keeps it (generated name); delete it by hand", True)
        elif policy == "Snapshot" and resource["Type"] in SNAPSHOT_TYPES:
            add(lid, resource, "create-rollback", "snapshot", "a final snapshot is kept, the resource deleted")
        elif lid in written:
            add(lid, resource, "create-rollback", "blocks",
                "a service wrote to it at create: deleting a non-empty bucket fails (ROLLBACK_FAILED)", True)
        else:
            why = "RetainExceptOnCreate: deleted when the create that made it rolls back" if policy == "RetainExceptOnCreate" else "deleted"
            add(lid, resource, "create-rollback", "deleted", why)
        replication = properties(resource).get("ReplicationConfiguration") if resource["Type"] == "AWS::EFS::FileSystem" else None
        if replication is not None and not (isinstance(replication, dict) and "Fn::If" in replication):
            add(lid, resource, "create-rollback", "blocks",
                "EFS creates the replica file system in the destination region outside CloudFormation; "
                "a failed create leaves it replicating there", True)

        # (b) delete, after the follow-up updates
        if is_true(steady.get(lid)):
            add(lid, resource, "delete", "protected",
                f"deletion protection (by design): update {', '.join(_protection_parameters(template)) or 'it'} "
                "to false first")
        elif _is_replica(resource):
            add(lid, resource, "delete", "deleted",
                "while a replica (policy ignored; the primary holds the data); after the failover update: "
                f"{policy.lower()}")
        elif policy in ("Retain", "RetainExceptOnCreate"):
            add(lid, resource, "delete", "retained", f"{policy}: kept with its data")
        elif policy == "Snapshot" and resource["Type"] in SNAPSHOT_TYPES:
            add(lid, resource, "delete", "snapshot", "a final snapshot is kept, the resource deleted")
        else:
            add(lid, resource, "delete", "deleted", "deleted")

        # (c) create again after the delete, beside what the delete kept
        kept = policy in ("Retain", "RetainExceptOnCreate") and not _is_replica(resource)
        if kept and name_key:
            add(lid, resource, "second-create", "blocks",
                f"the deleted stack kept it and its fixed {name_key}: the create fails with 'already exists' "
                "(import the kept resource or delete it)", True)
        elif kept:
            add(lid, resource, "second-create", "created",
                "a new one under a generated name; the kept one stays beside it")
        else:
            add(lid, resource, "second-create", "created", "created anew")

        # (d) the DR sequence: the failover update promotes in place; fail back rebuilds the other way
        if not dr_recovery:
            continue
        if _is_replica(resource):
            if promotable(properties(resource)["SourceDBInstanceIdentifier"]):
                add(lid, resource, "failover", "changed",
                    "the failover update (DatabaseRole=standalone) removes SourceDBInstanceIdentifier: promoted in "
                    f"place; from then on DeletionPolicy {policy} and deletion protection apply")
            else:
                add(lid, resource, "failover", "blocks",
                    "promotion happens outside CloudFormation, which still treats it as a replica and ignores its "
                    "DeletionPolicy: deleting or replacing this stack deletes the production database", True)
        elif resource["Type"] == "AWS::EFS::FileSystem" and (
            (properties(resource).get("FileSystemProtection") or {}).get("ReplicationOverwriteProtection") == "DISABLED"
        ):
            add(lid, resource, "failover", "changed",
                "replication destination: deleting the replication (runbook) makes it writable, still owned by this "
                "stack; fail back replicates it the other way")
        elif resource.get("Condition") and resource["Type"] == "AWS::CloudWatch::Alarm":
            add(lid, resource, "failover", "deleted", f"exists only while {resource['Condition']}: the failover update removes it")
    return verdicts


def _protection_parameters(template: dict[str, Any]) -> list[str]:
    return [str(entry["Parameter"]) for entry in follow_up_updates(template)]


def simulate(stacks: Sequence[StackView]) -> list[Verdict]:
    """Every resource's verdict in every phase, with the templates' named exceptions applied."""
    verdicts = []
    for stack in stacks:
        accepted = {
            (e.get("Resource"), e.get("Phase")): e.get("Reason")
            for e in stack_metadata(stack.template).get("LifecycleExceptions") or []
            if isinstance(e, dict)
        }
        for verdict in _simulate_stack(stack):
            reason = accepted.get((verdict.resource, verdict.phase)) if verdict.needs_cleanup else None
            verdicts.append(verdict if reason is None else Verdict(**{**verdict.__dict__, "accepted": reason}))
    return verdicts


def stack_views(rendered: Sequence["RenderedStack"], label_dir: Path | None = None) -> list[StackView]:
    """Read-only views: the templates are the build's shared parse (``render.shared_template``)."""
    return [
        StackView(s.blueprint, s.region, str((label_dir / s.filename) if label_dir else s.filename),
                  shared_template(s.text))
        for s in rendered
    ]


def unaccepted(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.needs_cleanup and v.accepted is None]


def summary_line(stack: str, verdicts: Sequence[Verdict]) -> str:
    """One line per stack for the build's summary."""
    own = [v for v in verdicts if v.stack == stack]
    counts = []
    for phase in PHASES:
        mine = [v for v in own if v.phase == phase]
        if not mine:
            continue
        tally: dict[str, int] = {}
        for v in mine:
            tally[v.outcome] = tally.get(v.outcome, 0) + 1
        counts.append(f"{phase}: " + ", ".join(f"{n} {o}" for o, n in sorted(tally.items())))
    accepted = sum(1 for v in own if v.accepted)
    blocked = len(unaccepted(own))
    return (f"lifecycle {stack}: " + "; ".join(counts)
            + f" | manual cleanup: {blocked} unaccepted, {accepted} accepted")


def deploy_model_holds(config: "EnvironmentConfig", rendered: Sequence["RenderedStack"], target: Path) -> list[Finding]:
    """The deploy-model gate: the SF3xxx rules over the environment's templates together, then the
    lifecycle simulation; any outcome needing manual cleanup that the config does not name fails."""
    stacks = stack_views(rendered, target)
    findings = [f for rule in ENVIRONMENT_RULES for f in rule.check(stacks)]
    files = {s.name: s.filename for s in stacks}
    for v in unaccepted(simulate(stacks)):
        findings.append(Finding(
            files[v.stack], 1, LIFECYCLE_RULE, "error",
            f"{v.resource} ({v.type}) on {v.phase}: {v.outcome}: {v.why}; fix the template, or name it in the "
            f"config's lifecycle_exceptions ({{stack: {v.stack}, resource: {v.resource}, phase: {v.phase}, reason: ...}})",
        ))
    return sorted(findings)


def verdict_rows(stack: str, verdicts: Sequence[Verdict]) -> list[list[str]]:
    """The runbook table: one row per resource that does more than get deleted and recreated."""
    by_resource: dict[str, dict[str, Verdict]] = {}
    types: dict[str, str] = {}
    for v in verdicts:
        if v.stack == stack:
            by_resource.setdefault(v.resource, {})[v.phase] = v
            types[v.resource] = v.type
    rows = []
    for resource, phases in by_resource.items():
        plain = all(
            v.outcome in ("deleted", "created") and not v.needs_cleanup for v in phases.values()
        ) and "failover" not in phases
        if plain:
            continue
        cells = []
        for phase in PHASES:
            v = phases.get(phase)
            if v is None:
                cells.append("-")
                continue
            text = f"**{v.outcome}**: {v.why}"
            if v.accepted:
                text += f" (accepted: {v.accepted})"
            cells.append(text.replace("|", "\\|"))
        rows.append([f"`{resource}`", types[resource], *cells])
    return rows
