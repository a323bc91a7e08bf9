"""Runbook sections an operator needs between deploys and during a DR event (issue 11).

Each section is derived from the rendered template (and, for the DR sections, from the
pair's facts), so it names only what exists:

* before an update: a manual snapshot of every database the stack holds;
* verifying and forcing the rotation of RDS-managed secrets;
* when to start investigating a resource that is still creating (per resource type);
* maintenance: pending actions, minor and major engine upgrades, CA rotation;
* DR only: what to do when a failover stalls half-way, and who says what to whom.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from streamflix.docs import failover
from streamflix.docs.prose import render_chapter
from streamflix.docs.lookups import output_command, ref_handle, setup_lines
from streamflix.docs.markdown import assign, aws, aws_wait, code, table
from streamflix.docs.provisioning import resource_time

if TYPE_CHECKING:
    from streamflix.docs.context import RunbookContext
    from streamflix.docs.stack import StackFacts

Section = tuple[str, str]

#: How much longer than its usual worst case a resource may take before someone looks:
#: AWS load varies, so the threshold is the planning figure's high end times this, rounded up.
INVESTIGATE_FACTOR = 1.5
#: Never page anyone about a resource before this many minutes.
INVESTIGATE_FLOOR_MINUTES = 5


def _databases(stack: "StackFacts") -> tuple[list[str], list[str], list[str]]:
    """(Aurora clusters, primary DB instances, read replicas) of the stack, by logical ID."""
    clusters = stack.of_type("AWS::RDS::DBCluster")
    instances = [r for r in stack.of_type("AWS::RDS::DBInstance") if "DBClusterIdentifier" not in stack.props(r)]
    primaries = [r for r in instances if "SourceDBInstanceIdentifier" not in stack.props(r)]
    replicas = [r for r in instances if "SourceDBInstanceIdentifier" in stack.props(r)]
    return clusters, primaries, replicas


def before_update(ctx: "RunbookContext") -> Section | None:
    stack = ctx.stack
    region = stack.region
    clusters, primaries, replicas = _databases(stack)
    if not (clusters or primaries or replicas):
        return None
    lines: list[str] = ['STAMP=$(date -u +%Y%m%d%H%M)']
    # Aurora clusters take cluster snapshots, DB instances instance snapshots.
    kinds = (
        (clusters, "CLUSTER_ID", "--db-cluster-identifier", "db-cluster-snapshot"),
        (primaries, "DB_INSTANCE_ID", "--db-instance-identifier", "db-snapshot"),
    )
    for ids, variable, identifier_option, snapshot_kind in kinds:
        for rid in ids:
            handle = ref_handle(stack, rid, variable)
            snapshot = (f"--{snapshot_kind}-identifier", f"{handle.value}-pre-update-$STAMP")
            lines += [
                *handle.setup,
                aws("rds", f"create-{snapshot_kind}", region=region,
                    options=[(identifier_option, handle.value), snapshot]),
                aws_wait("rds", f"{snapshot_kind}-available", region=region, options=[snapshot]),
            ]
    primary = next((s for s in ctx.env.sources_of(stack.blueprint) if _databases(s)[1]), None) if replicas else None
    text = render_chapter(
        "before_update",
        commands=code("\n".join(lines)) if clusters or primaries else "",
        replicas=", ".join(replicas),
        primary_blueprint=primary.blueprint if primary else None,
        primary_region=primary.region if primary else None,
    )
    return "Before every update: a manual snapshot", text


def secret_rotation(ctx: "RunbookContext") -> Section | None:
    stack = ctx.stack
    if "DatabaseMasterSecretArn" not in stack.outputs:
        return None
    region = stack.region
    lines = [
        assign("SECRET_ARN", output_command(stack, "DatabaseMasterSecretArn")),
        "# verify: rotation on, when it last ran and when it runs next",
        aws("secretsmanager", "describe-secret", region=region,
            options=[("--secret-id", "$SECRET_ARN"),
                     ("--query", "[RotationEnabled,LastRotatedDate,NextRotationDate,RotationRules]"),
                     ("--output", "json")]),
        "# force a rotation now (after a suspected leak, or to prove it works)",
        aws("secretsmanager", "rotate-secret", region=region, options=[("--secret-id", "$SECRET_ARN")]),
        "# the new version is AWSCURRENT once rotation finished (usually within a minute)",
        aws("secretsmanager", "list-secret-version-ids", region=region,
            options=[("--secret-id", "$SECRET_ARN"),
                     ("--query", "Versions[].[VersionId,VersionStages,CreatedDate]"), ("--output", "table")]),
    ]
    text = render_chapter("secret_rotation", commands=code("\n".join(lines)))
    return "Verify or force a secret rotation", text


def investigate_after(high_minutes: float) -> int:
    return max(INVESTIGATE_FLOOR_MINUTES, math.ceil(high_minutes * INVESTIGATE_FACTOR))


def stuck_resources(ctx: "RunbookContext") -> Section:
    stack = ctx.stack
    region, name = stack.region, stack.stack_name
    worst: dict[str, tuple[float, float, str]] = {}
    for rid, resource_type, _ in stack.iter_resources():
        timing = resource_time(stack, rid)
        if resource_type not in worst or timing.high > worst[resource_type][1]:
            worst[resource_type] = (timing.low, timing.high, timing.variant)
    rows = [
        [f"`{resource_type}`" + (f" ({variant})" if variant != "default" else ""), f"{low:g}-{high:g}",
         str(investigate_after(high))]
        for resource_type, (low, high, variant) in sorted(worst.items(), key=lambda item: (-item[1][1], item[0]))
        if high >= 1
    ]
    commands = code("\n".join([
        aws("cloudformation", "describe-stack-resources", region=region,
            options=[("--stack-name", name),
                     ("--query", "StackResources[?ends_with(ResourceStatus, 'IN_PROGRESS')].[LogicalResourceId,ResourceType,Timestamp]"),
                     ("--output", "table")]),
        aws("cloudformation", "describe-stack-events", region=region,
            options=[("--stack-name", name), ("--max-items", "20"),
                     ("--query", "StackEvents[].[Timestamp,LogicalResourceId,ResourceStatus,ResourceStatusReason]"),
                     ("--output", "table")]),
    ]))
    text = render_chapter(
        "stuck_resources",
        factor=f"{INVESTIGATE_FACTOR:g}",
        floor=INVESTIGATE_FLOOR_MINUTES,
        thresholds=table(["Resource type", "Usual minutes", "Investigate after (minutes)"], rows),
        commands=commands,
    )
    return "When a resource takes too long", text


def maintenance(ctx: "RunbookContext") -> Section | None:
    stack = ctx.stack
    region = stack.region
    clusters, primaries, replicas = _databases(stack)
    caches = stack.of_type("AWS::ElastiCache::ReplicationGroup")
    if not (clusters or primaries or replicas or caches):
        return None
    windows = []
    for rid in clusters + primaries + replicas:
        window = stack.props(rid).get("PreferredMaintenanceWindow")
        if window:
            windows.append(f"`{rid}` {window}")
    for rid in caches:
        window = stack.props(rid).get("PreferredMaintenanceWindow")
        if window:
            windows.append(f"`{rid}` {window}")
    pending = [
        aws("rds", "describe-pending-maintenance-actions", region=region,
            options=[("--query", "PendingMaintenanceActions[].[ResourceIdentifier,PendingMaintenanceActionDetails[].[Action,AutoAppliedAfterDate,CurrentApplyDate,Description]]"),
                     ("--output", "json")]),
    ]
    if caches:
        pending.append(aws("elasticache", "describe-update-actions", region=region,
                           options=[("--service-update-status", ["available"]),
                                    ("--query", "UpdateActions[].[ReplicationGroupId,ServiceUpdateName,UpdateActionStatus,ServiceUpdateSeverity]"),
                                    ("--output", "table")]))
    databases = clusters + primaries
    apply_now: list[str] = []
    if databases:
        handle = ref_handle(stack, databases[0], "DB_ID")
        kind = "cluster" if databases[0] in clusters else "db"
        apply_now = [
            *handle.setup,
            "# the resource ARN pending-maintenance lists; apply one action now instead of in the window:",
            assign("DB_ARN", aws("rds", "describe-db-" + ("clusters" if kind == "cluster" else "instances"),
                                 region=region,
                                 options=[("--db-" + ("cluster" if kind == "cluster" else "instance") + "-identifier", handle.value),
                                          ("--query", "DBClusters[0].DBClusterArn" if kind == "cluster" else "DBInstances[0].DBInstanceArn"),
                                          ("--output", "text")], one_line=True)),
            aws("rds", "apply-pending-maintenance-action", region=region,
                options=[("--resource-identifier", "$DB_ARN"), ("--apply-action", "system-update"),
                         ("--opt-in-type", "immediate")]),
        ]
    ca = sorted({str(stack.props(r).get("CACertificateIdentifier")) for r in stack.of_type("AWS::RDS::DBInstance")
                 if stack.props(r).get("CACertificateIdentifier")})
    text = render_chapter(
        "maintenance",
        windows="; ".join(windows),
        commands=code("\n".join(pending + ([""] + apply_now if apply_now else []))),
        dr_pair=bool(replicas or ctx.env.partners_of(stack.blueprint)),
        ca=", ".join(f"`{c}`" for c in ca),
    )
    return "Maintenance: upgrades, pending actions, CA rotation", text


def stalled_failover(ctx: "RunbookContext") -> Section | None:
    dr = failover.dr_facts(ctx)
    if dr is None:
        return None
    recovery = dr.recovery
    region = recovery.region
    lines: list[str] = []
    if dr.replica:
        replica = ref_handle(recovery, dr.replica, "REPLICA_ID")
        lines += [
            *replica.setup,
            "# promotion: state and the last events",
            aws("rds", "describe-db-instances", region=region,
                options=[("--db-instance-identifier", replica.value),
                         ("--query", "DBInstances[0].[DBInstanceStatus,ReadReplicaSourceDBInstanceIdentifier]"),
                         ("--output", "text")]),
            aws("rds", "describe-events", region=region,
                options=[("--source-type", "db-instance"), ("--source-identifier", replica.value),
                         ("--duration", "60"), ("--query", "Events[].[Date,Message]"), ("--output", "table")]),
        ]
    if recovery.of_type("AWS::ECS::Service"):
        cluster = ref_handle(recovery, "EcsCluster", "CLUSTER")
        service = ref_handle(recovery, "Service", "SERVICE")
        lines += [
            *setup_lines(cluster, service),
            "# scale-out: why tasks stop or do not start",
            aws("ecs", "describe-services", region=region,
                options=[("--cluster", cluster.value), ("--services", service.value),
                         ("--query", "services[0].[runningCount,desiredCount,events[:5].message]"),
                         ("--output", "json")]),
        ]
    text = render_chapter("stalled_failover", commands=code("\n".join(lines)) if lines else "")
    return "When a failover stalls", text


def communication(ctx: "RunbookContext") -> Section | None:
    dr = failover.dr_facts(ctx)
    if dr is None:
        return None
    rto, _ = failover.rto_minutes(ctx.env, dr.recovery.blueprint)
    primary_region = dr.primary.region if dr.primary is not None else "the primary region"
    text = render_chapter("communication", primary_region=primary_region, recovery_region=dr.recovery.region, rto=rto)
    return "Communication during a DR event", text
