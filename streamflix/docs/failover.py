"""Failover sections: in-region drills, and the cross-region procedure when the stacks hold one.

Which steps appear is decided by the resource types in this stack and the
stacks it is wired to (its DR partners):

* a ``AWS::RDS::DBInstance`` with ``SourceDBInstanceIdentifier`` -> promote the read replica;
* a ``AWS::RDS::DBCluster`` with ``GlobalClusterIdentifier`` -> fail the global cluster over;
* a ``AWS::EFS::FileSystem`` with ``ReplicationConfiguration`` -> delete the replication so the
  destination becomes writable;
* a ``AWS::ECS::Service`` in the recovery stack -> scale it to the serving size;
* ``AWS::Route53::RecordSet`` with ``Failover`` -> switch DNS (health check status, forcing it);
* an Aurora cluster or a replication group with automatic failover -> in-region failover drills.

The recovery time objective comes from the templates or the config (default 15
minutes) and is split over the phases detect / promote / scale / DNS / validate
in the proportions 2:5:5:3.

The words of both chapters are templates (``chapters/failover_in_region.md.j2`` and
``chapters/failover_cross_region.md.j2``); this module computes the facts and the
commands they state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from streamflix.cfn import is_true, ref_name
from streamflix.docs.lifecycle import follow_up_update
from streamflix.docs.lookups import (
    Handle,
    attribute_handle,
    output_command,
    parameter_command,
    ref_handle,
    setup_lines,
)
from streamflix.docs.markdown import assign, aws, aws_wait, code, table
from streamflix.docs.operations import deletion_protection_off, shown
from streamflix.docs.prose import render_chapter
from streamflix.docs.stack import RESOLVE_EFS_DESTINATION, StackFacts, parameter_text, replication_of, rto_minutes

#: The recovery stack's failover switch (a parameter the template declares): replica -> standalone.
DATABASE_ROLE_PARAMETER = "DatabaseRole"

if TYPE_CHECKING:
    from streamflix.docs.context import RunbookContext

Section = tuple[str, str]

#: Shares of the RTO for detect / promote / scale / DNS; the fifth phase, validate, ends at the RTO.
#: The phases' names and "done when" criteria are prose: chapters/failover_cross_region.md.j2.
PHASE_WEIGHTS = (2, 5, 5, 3)


def phase_budget(rto: int) -> list[tuple[int, int]]:
    """(start, end) minutes of each phase; the last phase ends at the RTO."""
    total = sum(PHASE_WEIGHTS)
    bounds = [0]
    running = 0
    for weight in PHASE_WEIGHTS:
        running += weight
        bounds.append(round(rto * running / total))
    spans = [(bounds[i], bounds[i + 1]) for i in range(len(PHASE_WEIGHTS))]
    return spans + [(rto, rto)]


def sections(ctx: "RunbookContext") -> list[Section]:
    found = [in_region(ctx), cross_region(ctx)]
    return [s for s in found if s is not None]


# -- in-region --------------------------------------------------------------------------


def in_region(ctx: "RunbookContext") -> Section | None:
    stack = ctx.stack
    facts = {
        "clusters": _cluster_failovers(stack),
        "instances": _multi_az_failovers(stack),
        "caches": _cache_failovers(stack),
        "services": _service_rollovers(stack),
    }
    if not any(facts.values()):
        return None
    return "In-region failover and drills", render_chapter("failover_in_region", **facts)


def _cluster_failovers(stack: StackFacts) -> list[dict[str, str]]:
    """Each Aurora cluster with a reader to fail over to (promotion tier other than 0)."""
    region = stack.region
    found = []
    for rid in stack.of_type("AWS::RDS::DBCluster"):
        members = stack.cluster_members(rid)
        readers = [m for m in members if parameter_text(stack.props(m).get("PromotionTier", 1)) != "0"]
        if not readers:
            continue
        cluster = ref_handle(stack, rid)
        target = ref_handle(stack, readers[0])
        commands = [
            *setup_lines(cluster, target),
            aws("rds", "describe-db-clusters", region=region, options=[
                ("--db-cluster-identifier", cluster.value),
                ("--query", "DBClusters[0].DBClusterMembers[].[DBInstanceIdentifier,IsClusterWriter]"),
                ("--output", "table"),
            ]),
            aws("rds", "failover-db-cluster", region=region, options=[
                ("--db-cluster-identifier", cluster.value),
                ("--target-db-instance-identifier", target.value),
            ]),
            aws_wait("rds", "db-cluster-available", region=region,
                     options=[("--db-cluster-identifier", cluster.value)]),
        ]
        found.append({"id": rid, "reader": readers[0], "commands": code("\n".join(commands))})
    return found


def _multi_az_failovers(stack: StackFacts) -> list[dict[str, str]]:
    """Each standalone Multi-AZ DB instance (neither a cluster member nor a replica)."""
    region = stack.region
    found = []
    for rid in stack.of_type("AWS::RDS::DBInstance"):
        props = stack.props(rid)
        standalone = "DBClusterIdentifier" not in props and "SourceDBInstanceIdentifier" not in props
        if not standalone or not is_true(stack.resolve(props.get("MultiAZ", False))):
            continue
        instance = ref_handle(stack, rid)
        commands = [
            *instance.setup,
            aws("rds", "describe-db-instances", region=region, options=[
                ("--db-instance-identifier", instance.value),
                ("--query", "DBInstances[0].[AvailabilityZone,SecondaryAvailabilityZone]"),
                ("--output", "text"),
            ]),
            aws("rds", "reboot-db-instance", region=region,
                options=[("--db-instance-identifier", instance.value), ("--force-failover", None)]),
            aws_wait("rds", "db-instance-available", region=region,
                     options=[("--db-instance-identifier", instance.value)]),
        ]
        found.append({"id": rid, "commands": code("\n".join(commands))})
    return found


def _cache_failovers(stack: StackFacts) -> list[dict[str, str]]:
    """Each replication group with automatic failover."""
    region = stack.region
    found = []
    for rid in stack.of_type("AWS::ElastiCache::ReplicationGroup"):
        if not is_true(stack.props(rid).get("AutomaticFailoverEnabled")):
            continue
        replication_group = ref_handle(stack, rid)
        group = replication_group.value
        commands = [
            *replication_group.setup,
            aws("elasticache", "test-failover", region=region,
                options=[("--replication-group-id", group), ("--node-group-id", "0001")]),
            aws("elasticache", "describe-events", region=region, options=[
                ("--source-type", "replication-group"),
                ("--source-identifier", group),
                ("--duration", "60"),
                ("--query", "Events[].[Date,Message]"),
                ("--output", "table"),
            ]),
        ]
        found.append({"id": rid, "commands": code("\n".join(commands))})
    return found


def _service_rollovers(stack: StackFacts) -> list[dict[str, str]]:
    """Each ECS service on a cluster this stack holds."""
    region = stack.region
    found = []
    for rid in stack.of_type("AWS::ECS::Service"):
        cluster_id = ref_name(stack.props(rid).get("Cluster"))
        if cluster_id not in stack.resources:
            continue
        cluster = ref_handle(stack, cluster_id)
        service = attribute_handle(stack, rid, "Name", "ECS_SERVICE") or ref_handle(stack, rid, "ECS_SERVICE")
        commands = [
            *setup_lines(cluster, service),
            aws("ecs", "update-service", region=region, options=[
                ("--cluster", cluster.value),
                ("--service", service.value),
                ("--force-new-deployment", None),
            ]),
            aws_wait("ecs", "services-stable", region=region,
                     options=[("--cluster", cluster.value), ("--services", service.value)]),
        ]
        found.append({"id": rid, "commands": code("\n".join(commands))})
    return found


# -- cross-region -------------------------------------------------------------------------


@dataclass
class DrFacts:
    """Where the pieces of a cross-region failover live."""

    recovery: StackFacts
    primary: StackFacts | None
    replica: str | None
    global_cluster: str | None
    file_system: tuple[StackFacts, str] | None
    records: list[tuple[StackFacts, str]]


def dr_facts(ctx: "RunbookContext") -> DrFacts | None:
    group = [ctx.stack, *ctx.env.partners_of(ctx.blueprint)]
    replica = next(
        (
            (s, r)
            for s in group
            for r in s.of_type("AWS::RDS::DBInstance")
            if "SourceDBInstanceIdentifier" in s.props(r)
        ),
        None,
    )
    global_cluster = next(
        ((s, r) for s in group for r in s.of_type("AWS::RDS::DBCluster") if "GlobalClusterIdentifier" in s.props(r)),
        None,
    )
    file_system = next(
        (
            (s, r)
            for s in group
            for r in s.of_type("AWS::EFS::FileSystem")
            if replication_of(s.props(r)).get("Destinations")
        ),
        None,
    )
    records = [(s, r) for s in group for r in s.of_type("AWS::Route53::RecordSet") if "Failover" in s.props(r)]
    if not (replica or global_cluster or file_system or records):
        return None
    recovery = None
    if replica:
        recovery = replica[0]
    elif global_cluster and len(group) > 1:
        recovery = global_cluster[0]
    elif file_system:
        destinations = {
            str(d.get("Region"))
            for d in replication_of(file_system[0].props(file_system[1]))["Destinations"]
        }
        recovery = next((s for s in group if s.region in destinations), None)
    if recovery is None:
        secondary = next(((s, r) for s, r in records if s.props(r).get("Failover") == "SECONDARY"), None)
        recovery = secondary[0] if secondary else ctx.stack
    sources = ctx.env.sources_of(recovery.blueprint)
    others = [s for s in group if s.blueprint != recovery.blueprint]
    primary = sources[0] if sources else (others[0] if others else None)
    return DrFacts(
        recovery=recovery,
        primary=primary,
        replica=replica[1] if replica else None,
        global_cluster=global_cluster[1] if global_cluster and global_cluster[0] is recovery else None,
        file_system=file_system,
        records=records,
    )


def cross_region(ctx: "RunbookContext") -> Section | None:
    dr = dr_facts(ctx)
    if dr is None:
        return None
    rto, rto_source = rto_minutes(ctx.env, dr.recovery.blueprint)
    recovery, primary = dr.recovery, dr.primary
    text = render_chapter(
        "failover_cross_region",
        rto=rto,
        rto_source=rto_source,
        recovery={"stack": recovery.stack_name, "region": recovery.region, "blueprint": recovery.blueprint,
                  "this": recovery.blueprint == ctx.blueprint},
        primary={"stack": primary.stack_name, "region": primary.region} if primary else None,
        spans=phase_budget(rto),
        detect={"replica": bool(dr.replica), "commands": _detect_commands(dr)},
        promote={
            "update": _promotion_by_update(dr),
            "replica": _promotion_by_hand(dr),
            "global_cluster": _global_failover(dr),
            "efs": _efs_failover(dr),
        },
        scale=_scale(ctx, dr),
        dns=_dns(dr),
        validate={"targets": bool(recovery.of_type("AWS::ElasticLoadBalancingV2::TargetGroup")),
                  "commands": _validate_commands(ctx, dr)},
        environment=ctx.environment,
        failback=_failback(dr),
    )
    return "Disaster recovery: cross-region failover", text


def _primary_instance(primary: StackFacts | None) -> str | None:
    if primary is None:
        return None
    return next(
        (
            r
            for r in primary.of_type("AWS::RDS::DBInstance")
            if "SourceDBInstanceIdentifier" not in primary.props(r) and "DBClusterIdentifier" not in primary.props(r)
        ),
        None,
    )


def _health_checks(dr: DrFacts) -> list[tuple[StackFacts, str]]:
    found = []
    for stack, rid in dr.records:
        check = ref_name(stack.props(rid).get("HealthCheckId"))
        if check in stack.resources and (stack, check) not in found:
            found.append((stack, check))
    return found


def _detect_commands(dr: DrFacts) -> str:
    """Phase 1: the primary's alarms and database, the DNS health checks, the replica's lag."""
    recovery, primary = dr.recovery, dr.primary
    commands: list[str] = []
    if primary is not None:
        commands.append(
            aws("cloudwatch", "describe-alarms", region=primary.region, options=[
                ("--alarm-name-prefix", f"{primary.stack_name}-"),
                ("--state-value", "ALARM"),
                ("--query", "MetricAlarms[].[AlarmName,StateReason]"),
                ("--output", "table"),
            ])
        )
        instance = _primary_instance(primary)
        if instance:
            handle = ref_handle(primary, instance)
            commands += [
                *handle.setup,
                aws("rds", "describe-db-instances", region=primary.region, options=[
                    ("--db-instance-identifier", handle.value),
                    ("--query", "DBInstances[0].DBInstanceStatus"),
                    ("--output", "text"),
                ]),
            ]
    for stack, check in _health_checks(dr):
        handle = ref_handle(stack, check, "HEALTH_CHECK_ID")
        commands += [
            *handle.setup,
            aws("route53", "get-health-check-status", region=stack.region, options=[
                ("--health-check-id", handle.value),
                ("--query", "HealthCheckObservations[].[Region,StatusReport.Status]"),
                ("--output", "table"),
            ]),
        ]
    if dr.replica:
        replica = ref_handle(recovery, dr.replica, "REPLICA_ID")
        commands += [
            *replica.setup,
            'START="$(date -u -d "-30 minutes" +%Y-%m-%dT%H:%M:%SZ)"; END="$(date -u +%Y-%m-%dT%H:%M:%SZ)"',
            aws("cloudwatch", "get-metric-statistics", region=recovery.region, options=[
                ("--namespace", "AWS/RDS"),
                ("--metric-name", "ReplicaLag"),
                ("--dimensions", f"Name=DBInstanceIdentifier,Value={replica.value}"),
                ("--start-time", "$START"),
                ("--end-time", "$END"),
                ("--period", "60"),
                ("--statistics", "Maximum"),
                ("--query", "sort_by(Datapoints,&Timestamp)[-5:].[Timestamp,Maximum]"),
                ("--output", "table"),
            ]),
        ]
    return code("\n".join(commands) if commands else "# no primary-side resources in these templates to check")


def _has_failover_switch(recovery: StackFacts) -> bool:
    return any(p.name == DATABASE_ROLE_PARAMETER for p in recovery.parameters)


def _promotion_by_update(dr: DrFacts) -> dict[str, str] | None:
    """Phase 2 when the recovery template declares the failover switch: promote through the stack.

    The lifecycle model (streamflix.lifecycle): CloudFormation then owns a standalone instance
    and its DeletionPolicy applies."""
    recovery = dr.recovery
    if not dr.replica or not _has_failover_switch(recovery):
        return None
    commands = [
        follow_up_update(recovery, DATABASE_ROLE_PARAMETER, "standalone"),
        aws_wait("cloudformation", "stack-update-complete", region=recovery.region,
                 options=[("--stack-name", recovery.stack_name)]),
    ]
    return {"replica": dr.replica, "parameter": DATABASE_ROLE_PARAMETER, "commands": code("\n".join(commands))}


def _promotion_by_hand(dr: DrFacts) -> dict[str, str] | None:
    """Phase 2 for a replica without the failover switch: promote-read-replica, keeping the primary's backups."""
    recovery, primary = dr.recovery, dr.primary
    if not dr.replica or _has_failover_switch(recovery):
        return None
    region = recovery.region
    replica = ref_handle(recovery, dr.replica, "REPLICA_ID")
    source = _primary_instance(primary)
    backup_from = primary.props(source) if primary and source else recovery.props(dr.replica)
    backup_options = [
        *(
            [("--backup-retention-period", parameter_text(backup_from["BackupRetentionPeriod"]))]
            if "BackupRetentionPeriod" in backup_from
            else []
        ),
        *(
            [("--preferred-backup-window", str(backup_from["PreferredBackupWindow"]))]
            if "PreferredBackupWindow" in backup_from
            else []
        ),
    ]
    commands = [
        *replica.setup,
        aws("rds", "promote-read-replica", region=region,
            options=[("--db-instance-identifier", replica.value), *backup_options]),
        aws_wait("rds", "db-instance-available", region=region, options=[("--db-instance-identifier", replica.value)]),
    ]
    return {"id": dr.replica, "commands": code("\n".join(commands))}


def _global_failover(dr: DrFacts) -> dict[str, str] | None:
    """Phase 2 for an Aurora global-cluster member in the recovery stack."""
    recovery = dr.recovery
    if not dr.global_cluster:
        return None
    region = recovery.region
    global_id = recovery.resolve(recovery.props(dr.global_cluster).get("GlobalClusterIdentifier"))
    cluster = ref_handle(recovery, dr.global_cluster)
    target = f"arn:{recovery.partition}:rds:{region}:${{AWS_ACCOUNT_ID}}:cluster:{cluster.value}"
    commands = [
        *cluster.setup,
        aws("rds", "failover-global-cluster", region=region, options=[
            ("--global-cluster-identifier", str(global_id)),
            ("--target-db-cluster-identifier", target),
            ("--allow-data-loss", None),
        ]),
    ]
    return {"id": dr.global_cluster, "commands": code("\n".join(commands))}


def _efs_failover(dr: DrFacts) -> dict[str, str] | None:
    """Phase 2 for a replicated file system: delete the replication from the recovery side."""
    if not dr.file_system:
        return None
    recovery = dr.recovery
    source_stack, source_id = dr.file_system
    region = recovery.region
    replica = _replica_in_recovery_region(dr)
    lines = []
    if replica is not None:
        lines += [
            f"REPLICA_FILE_SYSTEM=$({replica})",
            "SOURCE_FILE_SYSTEM=$("
            + aws("efs", "describe-replication-configurations", region=region, one_line=True, options=[
                ("--file-system-id", "$REPLICA_FILE_SYSTEM"),
                ("--query", "Replications[0].SourceFileSystemId"),
                ("--output", "text"),
            ])
            + ")",
        ]
    else:
        output = source_stack.output_of(source_id)
        lines.append(
            f"SOURCE_FILE_SYSTEM=$({output_command(source_stack, output)})   # reads the primary region"
            if output
            else "SOURCE_FILE_SYSTEM=<the primary file system id>"
        )
    lines += [
        aws("efs", "delete-replication-configuration", region=region,
            options=[("--source-file-system-id", "$SOURCE_FILE_SYSTEM")]),
        "# if the primary region cannot be reached, delete the local side only:",
        aws("efs", "delete-replication-configuration", region=region, options=[
            ("--source-file-system-id", "$SOURCE_FILE_SYSTEM"),
            ("--deletion-mode", "LOCAL_CONFIGURATION_ONLY"),
        ]),
    ]
    if replica is not None:
        lines.append(
            aws("efs", "describe-file-systems", region=region, options=[
                ("--file-system-id", "$REPLICA_FILE_SYSTEM"),
                ("--query", "FileSystems[0].FileSystemProtection.ReplicationOverwriteProtection"),
                ("--output", "text"),
            ])
        )
    return {"region": region, "source_id": source_id, "source_stack": source_stack.stack_name,
            "commands": code("\n".join(lines))}


def _replica_in_recovery_region(dr: DrFacts) -> str | None:
    """The command reading the EFS replica's id from the recovery stack, in the recovery region (the
    primary region may be the one that is down), or None when no template says which file system it is:
    the recovery stack's parameter wired to it (``efs-replication-destination``), else the recovery
    stack's output that the source's replication destination is wired from."""
    recovery = dr.recovery
    wired = next((w for w in recovery.wires.values() if w.resolve == RESOLVE_EFS_DESTINATION), None)
    if wired is not None:
        return parameter_command(recovery, wired.parameter)
    source_stack, source_id = dr.file_system  # type: ignore[misc]
    for destination in replication_of(source_stack.props(source_id)).get("Destinations") or []:
        wire = source_stack.wires.get(ref_name(destination.get("FileSystemId")) or "")
        if wire is not None and wire.source_blueprint == recovery.blueprint and wire.output in recovery.outputs:
            return output_command(recovery, wire.output)
    return None


def serving_count(ctx: "RunbookContext", dr: DrFacts) -> tuple[str, str]:
    """How many tasks the recovery service runs when it serves, and where that number comes from."""
    declared = dr.recovery.output_value_literal("FailoverTaskCount")
    if declared is not None and declared.isdigit():
        return declared, f"{dr.recovery.filename}'s FailoverTaskCount output"
    if dr.primary is not None:
        for rid in dr.primary.of_type("AWS::ECS::Service"):
            count = dr.primary.resolve(dr.primary.props(rid).get("DesiredCount"))
            if count and count.isdigit():
                return count, f"what {dr.primary.blueprint}'s {rid} runs"
    for rid in dr.recovery.of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
        maximum = dr.recovery.resolve(dr.recovery.props(rid).get("MaxCapacity"))
        if maximum and maximum.isdigit():
            return maximum, f"{rid}'s MaxCapacity"
    for rid in dr.recovery.of_type("AWS::ECS::Service"):
        parameter = dr.recovery.parameter(ref_name(dr.recovery.props(rid).get("DesiredCount")) or "")
        maximum = (
            (dr.recovery.template.get("Parameters") or {}).get(parameter.name, {}).get("MaxValue")
            if parameter
            else None
        )
        if maximum is not None:
            return parameter_text(maximum), f"the MaxValue of {parameter.name}: no serving size is stated elsewhere"  # type: ignore[union-attr]
    return "$SERVING_TASKS", "SERVING_TASKS: set it to the number of tasks production needs"


def _scale(ctx: "RunbookContext", dr: DrFacts) -> dict | None:
    """Phase 3: the recovery service to its serving size (ECS now, the stack's parameter, the scaling minimum)."""
    recovery = dr.recovery
    region = recovery.region
    services = recovery.of_type("AWS::ECS::Service")
    if not services:
        return None
    rid = services[0]
    props = recovery.props(rid)
    cluster_id = ref_name(props.get("Cluster"))
    cluster = (
        ref_handle(recovery, cluster_id) if cluster_id in recovery.resources else Handle(str(props.get("Cluster")))
    )
    service = attribute_handle(recovery, rid, "Name", "ECS_SERVICE") or ref_handle(recovery, rid, "ECS_SERVICE")
    count, count_source = serving_count(ctx, dr)
    commands = [
        *(['SERVING_TASKS="<tasks production needs>"'] if count.startswith("$") else []),
        *setup_lines(cluster, service),
        aws("ecs", "update-service", region=region,
            options=[("--cluster", cluster.value), ("--service", service.value), ("--desired-count", count)]),
    ]
    parameter = ref_name(props.get("DesiredCount"))
    if not (parameter and recovery.parameter(parameter) is not None):
        parameter = None
    if parameter:
        parameters = [
            f"ParameterKey={p.name},ParameterValue={count}"
            if p.name == parameter
            else f"ParameterKey={p.name},UsePreviousValue=true"
            for p in recovery.parameters
        ]
        capabilities = [("--capabilities", recovery.capabilities)] if recovery.capabilities else []
        commands += [
            "# then record it in the stack, so the next update keeps it:",
            aws("cloudformation", "update-stack", region=region, options=[
                ("--stack-name", recovery.stack_name),
                ("--use-previous-template", None),
                ("--parameters", parameters),
                *capabilities,
            ]),
        ]
    raised = False
    for target in recovery.of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
        minimum = recovery.resolve(recovery.props(target).get("MinCapacity"))
        if (
            minimum
            and minimum.isdigit()
            and count.isdigit()
            and int(minimum) < int(count)
            and not ref_name(recovery.props(target).get("MinCapacity"))
        ):
            commands.append(
                aws("application-autoscaling", "register-scalable-target", region=region, options=[
                    ("--service-namespace", "ecs"),
                    ("--scalable-dimension", "ecs:service:DesiredCount"),
                    ("--resource-id", f"service/{cluster.value}/{service.value.split('/')[-1]}"),
                    ("--min-capacity", count),
                ])
            )
            raised = True
    commands.append(
        aws_wait("ecs", "services-stable", region=region,
                 options=[("--cluster", cluster.value), ("--services", service.value)])
    )
    return {"service": rid, "count": count, "count_source": count_source, "parameter": parameter,
            "raises_minimum": raised, "commands": code("\n".join(commands))}


def _dns(dr: DrFacts) -> dict[str, str]:
    """Phase 4: the failover records' table and the commands that check and force the switch;
    without records, the command that reads the recovery load balancer's name."""
    if not dr.records:
        balancer = next(
            (
                output
                for rid in dr.recovery.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
                if (output := dr.recovery.output_of(rid, "DNSName"))
            ),
            None,
        )
        return {"records": "", "commands": "",
                "balancer": code(output_command(dr.recovery, balancer)) if balancer else ""}
    rows, commands = [], []
    for stack, rid in dr.records:
        p = stack.props(rid)
        zone = p["HostedZoneId"] if "HostedZoneId" in p else p.get("HostedZoneName")
        rows.append(
            [
                f"`{rid}`",
                f"`{shown(stack, p.get('Name'))}`",  # a deploy-time parameter (prod) shows as Ref NAME
                str(p.get("Type")),
                str(p.get("Failover")),
                f"`{shown(stack, zone)}`",
                f"`{ref_name(p.get('HealthCheckId'))}`" if ref_name(p.get("HealthCheckId")) else "",
            ]
        )
    for stack, check in _health_checks(dr):
        handle = ref_handle(stack, check, "HEALTH_CHECK_ID")
        commands += [
            *handle.setup,
            aws("route53", "get-health-check-status", region=stack.region, options=[
                ("--health-check-id", handle.value),
                ("--query", "HealthCheckObservations[].StatusReport.Status"),
                ("--output", "text"),
            ]),
            "# only if the primary still looks healthy but must not serve: invert the check to force the failover",
            aws("route53", "update-health-check", region=stack.region,
                options=[("--health-check-id", handle.value), ("--inverted", None)]),
        ]
    stack, rid = dr.records[0]
    name, zone, setup = _record_name_and_zone(stack, rid)
    commands += setup
    if zone and name:
        commands.append(
            aws("route53", "list-resource-record-sets", region=stack.region, options=[
                ("--hosted-zone-id", zone),
                ("--query", f"ResourceRecordSets[?Name=='{name.rstrip('.')}.']"),
                ("--output", "table"),
            ])
        )
    if name:
        commands.append(f"dig +short {name.rstrip('.')}")
    return {"records": table(["Record", "Name", "Type", "Failover", "Hosted zone", "Health check"], rows),
            "commands": code("\n".join(commands)), "balancer": ""}


def _record_name_and_zone(stack: StackFacts, rid: str) -> tuple[str | None, str | None, list[str]]:
    """The failover record's name and hosted zone: as the template states them, or, when they are
    deploy-time parameters (prod), read from the deployed stack into shell variables."""
    props = stack.props(rid)
    setup: list[str] = []
    values = []
    for key, variable in (("Name", "FAILOVER_RECORD_NAME"), ("HostedZoneId", "HOSTED_ZONE_ID")):
        value = stack.resolve(props.get(key))
        parameter = ref_name(props.get(key))
        if value is None and parameter is not None and stack.parameter(parameter) is not None:
            setup.append(assign(variable, parameter_command(stack, parameter)))
            value = f"${variable}"
        values.append(value)
    return values[0], values[1], setup


def _validate_commands(ctx: "RunbookContext", dr: DrFacts) -> str:
    """Phase 5: the recovery stack's outputs, the database's role, the targets' health, the alarms."""
    recovery = dr.recovery
    region = recovery.region
    commands = [
        f"python build.py outputs {ctx.build_command()} --stack {recovery.blueprint} --file cfn-outputs/{recovery.blueprint}.json"
    ]
    if dr.replica:
        replica = ref_handle(recovery, dr.replica, "REPLICA_ID")
        commands += [
            *replica.setup,
            aws("rds", "describe-db-instances", region=region, options=[
                ("--db-instance-identifier", replica.value),
                ("--query", "DBInstances[0].[DBInstanceStatus,ReadReplicaSourceDBInstanceIdentifier]"),
                ("--output", "text"),
            ]),
        ]
    for group in recovery.of_type("AWS::ElasticLoadBalancingV2::TargetGroup"):
        handle = ref_handle(recovery, group, "TARGET_GROUP_ARN")
        commands += [
            *handle.setup,
            aws("elbv2", "describe-target-health", region=region, options=[
                ("--target-group-arn", handle.value),
                ("--query", "TargetHealthDescriptions[].TargetHealth.State"),
                ("--output", "text"),
            ]),
        ]
        path = recovery.props(group).get("HealthCheckPath")
        name, setup = None, []
        if dr.records:
            name, _, setup = _record_name_and_zone(*dr.records[0])
        commands += setup
        if path and name:
            commands.append(f"curl -fsS https://{name.rstrip('.')}{path}")
    commands.append(
        aws("cloudwatch", "describe-alarms", region=region, options=[
            ("--alarm-name-prefix", f"{recovery.stack_name}-"),
            ("--state-value", "ALARM"),
            ("--query", "MetricAlarms[].AlarmName"),
            ("--output", "text"),
        ])
    )
    return code("\n".join(commands))


def _failback(dr: DrFacts) -> dict:
    """The failback steps' commands (each None when its step does not apply) and the protection to switch off."""
    recovery, primary = dr.recovery, dr.primary
    region = recovery.region
    facts: dict = {"primary_check": None, "snapshot": None, "copy": None, "traffic": None}
    if primary is not None:
        facts["primary_check"] = code(
            aws("cloudformation", "describe-stacks", region=primary.region, options=[
                ("--stack-name", primary.stack_name),
                ("--query", "Stacks[0].StackStatus"),
                ("--output", "text"),
            ])
        )
    if dr.replica:
        replica = ref_handle(recovery, dr.replica, "REPLICA_ID")
        snapshot = f"{replica.value}-failback-$SNAPSHOT_DATE"
        facts["snapshot"] = code("\n".join([
            *replica.setup,
            'SNAPSHOT_DATE="$(date -u +%Y%m%d%H%M)"',
            aws("rds", "create-db-snapshot", region=region, options=[
                ("--db-instance-identifier", replica.value),
                ("--db-snapshot-identifier", snapshot),
            ]),
        ]))
        primary_key = next(iter(primary.of_type("AWS::KMS::Key")), None) if primary else None
        key = (
            ref_handle(primary, primary_key, "PRIMARY_DATA_KEY")
            if primary and primary_key
            else Handle("$PRIMARY_DATA_KEY")
        )
        facts["copy"] = code("\n".join([
            *key.setup,
            aws("rds", "copy-db-snapshot", region=primary.region if primary else region, options=[
                (
                    "--source-db-snapshot-identifier",
                    f"arn:{recovery.partition}:rds:{region}:${{AWS_ACCOUNT_ID}}:snapshot:{snapshot}",
                ),
                ("--target-db-snapshot-identifier", snapshot),
                ("--source-region", region),
                ("--kms-key-id", key.value),
            ]),
        ]))
    checks = _health_checks(dr) if dr.records else []
    if checks:
        stack, check = checks[0]
        handle = ref_handle(stack, check, "HEALTH_CHECK_ID")
        facts["traffic"] = code("\n".join([
            *handle.setup,
            aws("route53", "update-health-check", region=stack.region,
                options=[("--health-check-id", handle.value), ("--no-inverted", None)]),
        ]))
    protection = deletion_protection_off(recovery)
    facts["protection"] = protection["parameters"]
    facts["recreate"] = code("\n".join([
        *protection["commands"],
        aws("cloudformation", "delete-stack", region=region, options=[("--stack-name", recovery.stack_name)]),
        aws_wait("cloudformation", "stack-delete-complete", region=region,
                 options=[("--stack-name", recovery.stack_name)]),
    ]))
    return facts
