"""Runbook sections for running the stack: monitoring, backup and restore, troubleshooting, security."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from streamflix.cfn import is_true, ref_name, target_of, text_of
from streamflix.docs.lifecycle import follow_up_update
from streamflix.docs.lookups import (
    Handle,
    attribute_handle,
    derived_handle,
    describe_command,
    ref_handle,
    setting_handle,
    setup_lines,
    variable_name,
)
from streamflix.docs.markdown import assign, aws, aws_wait, code, command, table
from streamflix.docs.prose import render_chapter
from streamflix.docs.stack import StackFacts, parameter_text, replication_of

if TYPE_CHECKING:
    from streamflix.docs.context import RunbookContext

Section = tuple[str, str]

#: AWS identifier limits for the restored copies a runbook names.
DB_IDENTIFIER_LIMIT = 63
CACHE_GROUP_LIMIT = 40


def shown(stack: StackFacts, value: Any) -> str:
    """A template value as the runbook shows it: resolved when possible, else ``text_of`` it."""
    resolved = stack.resolve(value)
    return resolved if resolved is not None else text_of(value)


# -- monitoring ---------------------------------------------------------------------


ALARM_COLUMNS = [
    "Alarm",
    "Metric",
    "Dimensions",
    "Statistic",
    "Comparison",
    "Threshold",
    "Period (s)",
    "Evaluation periods",
    "Datapoints to alarm",
    "Missing data",
    "Actions",
]


def alarm_rows(stack: StackFacts) -> list[list[str]]:
    rows = []
    for rid in stack.of_type("AWS::CloudWatch::Alarm"):
        p = stack.props(rid)
        if "Metrics" in p:
            metric = "metric math: " + "; ".join(str(m.get("Expression") or m.get("Id")) for m in p["Metrics"])
            dimensions = ""
        else:
            metric = f"{p.get('Namespace')}/{p.get('MetricName')}"
            dimensions = ", ".join(f"{d.get('Name')}={shown(stack, d.get('Value'))}" for d in p.get("Dimensions") or [])
        statistic = p.get("Statistic") or p.get("ExtendedStatistic") or ""
        actions = ", ".join(_action(stack, a) for a in p.get("AlarmActions") or [])
        rows.append(
            [
                f"`{rid}`",
                metric,
                dimensions,
                str(statistic),
                str(p.get("ComparisonOperator", "")),
                parameter_text(p.get("Threshold", "")),
                parameter_text(p.get("Period", "")),
                parameter_text(p.get("EvaluationPeriods", "")),
                parameter_text(p.get("DatapointsToAlarm", p.get("EvaluationPeriods", ""))),
                str(p.get("TreatMissingData", "missing")),
                actions,
            ]
        )
    return rows


def _action(stack: StackFacts, value: Any) -> str:
    target = ref_name(value)
    if target in stack.resources:
        return f"{target} ({stack.type_of(target).removeprefix('AWS::')})"
    return shown(stack, value)


def dashboard_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


def _firing_alarms(stack: StackFacts) -> str:
    """The stack's alarms now in ALARM, with why and since when."""
    return code(aws("cloudwatch", "describe-alarms", region=stack.region,
                    options=[("--alarm-name-prefix", f"{stack.stack_name}-"), ("--state-value", "ALARM"),
                             ("--query", "MetricAlarms[].[AlarmName,StateReason,StateUpdatedTimestamp]"),
                             ("--output", "table")]))


def _subscribe_command(stack: StackFacts, topics: list[str]) -> str:
    """An e-mail subscription to the alarm topic; empty unless a topic's ARN is exported to read it from."""
    exported = next((t for t in topics if stack.output_of(t)), None)
    if exported is None:
        return ""
    topic = ref_handle(stack, exported, "ALARM_TOPIC")
    return code("\n".join([
        *topic.setup,
        aws("sns", "subscribe", region=stack.region,
            options=[("--topic-arn", topic.value), ("--protocol", "email"),
                     ("--notification-endpoint", "oncall@example.com")]),
    ]))


def _dashboards(stack: StackFacts, dashboards: list[str]) -> list[dict[str, str]]:
    """Each named dashboard: its console URL and the command that finds it."""
    region = stack.region
    return [
        {"name": name, "url": dashboard_url(region, name),
         "command": code(aws("cloudwatch", "get-dashboard", region=region,
                             options=[("--dashboard-name", name), ("--query", "DashboardArn")]))}
        for name in (stack.physical_name(rid) for rid in dashboards) if name
    ]


def _log_group_table(stack: StackFacts, logs: list[str]) -> str:
    rows = []
    for rid in logs:
        p = stack.props(rid)
        rows.append(
            [
                f"`{rid}`",
                stack.physical_name(rid) or "(generated; see command)",
                parameter_text(p.get("RetentionInDays", "never expires")),
                "yes" if "KmsKeyId" in p else "no",
            ]
        )
    return table(["Log group", "Name", "Retention (days)", "KMS-encrypted"], rows)


def _tail_command(stack: StackFacts, log_group: str) -> str:
    """Follow the first log group's last hour."""
    first = ref_handle(stack, log_group, "LOG_GROUP")
    return code("\n".join([
        *first.setup,
        command("aws", "logs", "tail", first.value, options=[("--region", stack.region), ("--since", "1h"), ("--follow", None)]),
    ]))


def monitoring(ctx: "RunbookContext") -> Section | None:
    """Alarms (what fires, who hears), dashboards and log groups; no section for a stack with none of them."""
    stack = ctx.stack
    alarms = stack.of_type("AWS::CloudWatch::Alarm")
    dashboards = stack.of_type("AWS::CloudWatch::Dashboard")
    logs = stack.of_type("AWS::Logs::LogGroup")
    if not (alarms or dashboards or logs):
        return None
    topics = stack.of_type("AWS::SNS::Topic") if alarms else []
    text = render_chapter(
        "monitoring",
        alarm_count=len(alarms),
        topics=", ".join(f"`{t}`" for t in topics),
        subscribers=[str(s.get("Endpoint")) for t in topics for s in stack.props(t).get("Subscription") or []],
        existing_topic=any(p.name == "ExistingAlarmTopicArn" for p in stack.parameters),
        alarms=table(ALARM_COLUMNS, alarm_rows(stack)) if alarms else "",
        firing=_firing_alarms(stack) if alarms else "",
        subscribe=_subscribe_command(stack, topics) if alarms else "",
        dashboards=_dashboards(stack, dashboards),
        logs=_log_group_table(stack, logs) if logs else "",
        tail=_tail_command(stack, logs[0]) if logs else "",
    )
    return "Monitoring", text


# -- backup and restore --------------------------------------------------------------------

_BACKUP_PROPERTIES = {
    "AWS::RDS::DBCluster": [
        "BackupRetentionPeriod",
        "PreferredBackupWindow",
        "PreferredMaintenanceWindow",
        "DeletionProtection",
        "CopyTagsToSnapshot",
        "StorageEncrypted",
    ],
    "AWS::RDS::DBInstance": [
        "BackupRetentionPeriod",
        "PreferredBackupWindow",
        "PreferredMaintenanceWindow",
        "DeletionProtection",
        "MultiAZ",
        "CopyTagsToSnapshot",
    ],
    "AWS::ElastiCache::ReplicationGroup": [
        "SnapshotRetentionLimit",
        "SnapshotWindow",
        "PreferredMaintenanceWindow",
        "AutomaticFailoverEnabled",
        "MultiAZEnabled",
    ],
    "AWS::Kinesis::Stream": ["RetentionPeriodHours"],
    "AWS::EFS::FileSystem": ["BackupPolicy", "ReplicationConfiguration"],
    "AWS::KMS::Key": ["EnableKeyRotation", "RotationPeriodInDays", "PendingWindowInDays"],
    "AWS::SecretsManager::Secret": [],
    "AWS::S3::Bucket": ["VersioningConfiguration"],
    "AWS::DynamoDB::Table": ["PointInTimeRecoverySpecification"],
    "AWS::Logs::LogGroup": ["RetentionInDays"],
}


def backup_rows(stack: StackFacts) -> list[list[str]]:
    rows = []
    for rid in stack.stateful:
        resource = stack.resources[rid]
        resource_type = stack.type_of(rid)
        props = stack.props(rid)
        rows.append([f"`{rid}`", "DeletionPolicy", str(resource.get("DeletionPolicy"))])
        rows.append([f"`{rid}`", "UpdateReplacePolicy", str(resource.get("UpdateReplacePolicy", "Delete"))])
        for prop in _BACKUP_PROPERTIES.get(resource_type, []):
            if prop not in props:
                continue
            value = props[prop]
            if prop == "BackupPolicy":
                value = value.get("Status")
            elif prop == "ReplicationConfiguration":
                value = ", ".join(str(d.get("Region")) for d in replication_of(props).get("Destinations") or [])
                value += " (once the recovery side is wired)" if "Fn::If" in props[prop] else ""
            cell = parameter_text(value) if not isinstance(value, dict) else shown(stack, value)
            after = stack.after_follow_up_updates(value)
            if after is not value:
                cell = f"{parameter_text(after)} after the follow-up update ({cell} at create)"
            rows.append([f"`{rid}`", prop, cell])
    return rows


def deletion_protection_off(stack: StackFacts) -> dict[str, Any]:
    """What turns deletion protection off before a delete, for the stack as it stands after its follow-up
    updates: ``parameters`` (the ones protection is taken from, set back to false by a stack update),
    ``direct`` (the direct calls those resources must not be switched off with) and ``commands`` (those updates and their waits, then a direct modify for protection the template writes
    as a literal). A parameter-driven property is switched off through CloudFormation, never behind it: a
    direct ``modify-db-*`` leaves the stack recording protection on (drift), and a delete abandoned
    afterwards leaves the resource unprotected while the stack says it is protected."""
    parameters: list[str] = []
    direct: list[str] = []  # the calls a parameter-driven setting must not be switched off with
    literal: list[tuple[str, str]] = []  # (logical id, type) switched on by the template itself

    def note(rid: str, value: Any) -> None:
        if not stack.switched_on(value):
            return
        name = ref_name(value)
        if name is not None and stack.parameter(name) is not None:
            if name not in parameters:
                parameters.append(name)
            if _PROTECTION_OFF[stack.type_of(rid)][1] not in direct:
                direct.append(_PROTECTION_OFF[stack.type_of(rid)][1])
        else:
            literal.append((rid, stack.type_of(rid)))

    for rid in stack.of_type("AWS::RDS::DBCluster"):
        note(rid, stack.props(rid).get("DeletionProtection"))
    for rid in stack.of_type("AWS::RDS::DBInstance"):
        props = stack.props(rid)
        if "DBClusterIdentifier" not in props:
            note(rid, props.get("DeletionProtection"))
    for rid in stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        attributes = {a.get("Key"): a.get("Value") for a in stack.props(rid).get("LoadBalancerAttributes") or []}
        note(rid, attributes.get("deletion_protection.enabled"))

    commands = []
    for name in parameters:
        commands += [
            follow_up_update(stack, name, "false"),
            aws_wait("cloudformation", "stack-update-complete", region=stack.region,
                     options=[("--stack-name", stack.stack_name)]),
        ]
    for rid, resource_type in literal:
        commands += _modify_protection_off(stack, rid, resource_type)
    return {"parameters": parameters, "direct": direct, "commands": commands}


#: How each type's deletion protection is switched off directly: (service, operation, identifier flag,
#: shell variable for a generated identifier, the options that switch it off).
_PROTECTION_OFF: dict[str, tuple[str, str, str, str | None, list[tuple[str, str | None]]]] = {
    "AWS::RDS::DBCluster": ("rds", "modify-db-cluster", "--db-cluster-identifier", None,
                            [("--no-deletion-protection", None), ("--apply-immediately", None)]),
    "AWS::RDS::DBInstance": ("rds", "modify-db-instance", "--db-instance-identifier", None,
                             [("--no-deletion-protection", None), ("--apply-immediately", None)]),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("elbv2", "modify-load-balancer-attributes", "--load-balancer-arn",
                                                  "LOAD_BALANCER_ARN",
                                                  [("--attributes", "Key=deletion_protection.enabled,Value=false")]),
}


def _modify_protection_off(stack: StackFacts, rid: str, resource_type: str) -> list[str]:
    """The direct call switching off the deletion protection a template writes as a literal."""
    service, operation, flag, variable, options = _PROTECTION_OFF[resource_type]
    handle = ref_handle(stack, rid, variable)
    return [*handle.setup, aws(service, operation, region=stack.region, options=[(flag, handle.value), *options])]


def backup_and_restore(ctx: "RunbookContext") -> Section | None:
    stack = ctx.stack
    if not stack.stateful:
        return None
    restores = [_aurora_restore(stack, rid) for rid in stack.of_type("AWS::RDS::DBCluster")]
    restores += [_instance_restore(stack, rid) for rid in stack.of_type("AWS::RDS::DBInstance")
                 if "DBClusterIdentifier" not in stack.props(rid)]
    restores += [_cache_restore(stack, rid) for rid in stack.of_type("AWS::ElastiCache::ReplicationGroup")]
    restores += [_file_system_restore(stack, rid) for rid in stack.of_type("AWS::EFS::FileSystem")]
    streams = [
        {"id": rid, "hours": stack.props(rid).get("RetentionPeriodHours", 24), "replay": _stream_replay(stack, rid)}
        for rid in stack.of_type("AWS::Kinesis::Stream")
    ]
    keys = []
    for rid in stack.of_type("AWS::KMS::Key"):
        key = ref_handle(stack, rid)
        commands = [
            *key.setup,
            aws("kms", "describe-key", region=stack.region,
                options=[("--key-id", key.value), ("--query", "KeyMetadata.[KeyState,DeletionDate]")]),
            aws("kms", "cancel-key-deletion", region=stack.region, options=[("--key-id", key.value)]),
            aws("kms", "enable-key", region=stack.region, options=[("--key-id", key.value)]),
        ]
        keys.append({"id": rid, "window": stack.props(rid).get("PendingWindowInDays", 30),
                     "commands": code("\n".join(commands))})
    text = render_chapter(
        "backup_and_restore",
        settings=table(["Resource", "Setting", "Value"], backup_rows(stack)),
        restores=restores,
        streams=streams,
        keys=keys,
    )
    return "Backup and restore", text


def _placement(
    stack: StackFacts, props: dict, subnet_property: str, groups_property: str
) -> tuple[Handle | None, Handle | None, Handle | None]:
    """Handles for the subnet group, the first security group and the KMS key a resource names (None when
    the template does not hold them), so a restored copy is placed like the live one."""
    subnet = ref_name(props.get(subnet_property))
    groups = [ref_name(g) for g in props.get(groups_property) or []]
    key = ref_name(props.get("KmsKeyId"))
    return (
        ref_handle(stack, subnet) if subnet in stack.resources else None,
        ref_handle(stack, groups[0]) if groups and groups[0] in stack.resources else None,
        ref_handle(stack, key) if key in stack.resources else None,
    )


#: The point in time a restore goes back to, as the runbooks set it (the operator edits it).
REPLAY_FROM = 'REPLAY_FROM="$(date -u -d \'1 hour ago\' +%Y-%m-%dT%H:%M:%SZ)"   # UTC: the first record to read again'
RESTORE_TIME = 'RESTORE_TIME="$(date -u -d \'30 minutes ago\' +%Y-%m-%dT%H:%M:%SZ)"   # UTC, inside the {window}: the moment before the incident'


def _stream_replay(stack: StackFacts, rid: str) -> str:
    """The fenced commands giving an ``AT_TIMESTAMP`` iterator on every shard of a stream (its name read
    from the stack when CloudFormation generates it)."""
    stream = ref_handle(stack, rid, "STREAM_NAME")
    shards = aws("kinesis", "list-shards", region=stack.region, one_line=True, options=[
        ("--stream-name", stream.value), ("--query", "Shards[].ShardId"), ("--output", "text"),
    ])
    iterator = aws("kinesis", "get-shard-iterator", region=stack.region, one_line=True, options=[
        ("--stream-name", stream.value),
        ("--shard-id", "$SHARD_ID"),
        ("--shard-iterator-type", "AT_TIMESTAMP"),
        ("--timestamp", "$REPLAY_FROM"),
    ])
    return code("\n".join([
        *stream.setup,
        REPLAY_FROM,
        f"for SHARD_ID in $({shards}); do",
        f"  {iterator}",
        "done",
    ]))


def _aurora_restore(stack: StackFacts, rid: str) -> dict[str, Any]:
    """An Aurora cluster: restorable window and manual snapshot, point-in-time and snapshot restores
    into a new cluster placed like the live one, and the clean-up. A name CloudFormation generated is
    read from the stack, and the restored copies' names are derived from it in shell."""
    props = stack.props(rid)
    cluster = ref_handle(stack, rid)
    restored = derived_handle(cluster, "restore", DB_IDENTIFIER_LIMIT)
    instance = derived_handle(restored, "1", DB_IDENTIFIER_LIMIT)
    handles, placement = _cluster_placement(stack, props)
    engine = setting_handle(stack, rid, "Engine", "Engine", variable_name(rid, "ENGINE"))
    version = setting_handle(stack, rid, "EngineVersion", "EngineVersion", variable_name(rid, "ENGINE_VERSION"))
    members = stack.cluster_members(rid)
    instance_class = (
        setting_handle(stack, members[0], "DBInstanceClass", "DBInstanceClass", variable_name(members[0], "CLASS"))
        if members
        else Handle("db.r6g.large")
    )
    add_instance = _restored_instance_steps(stack, restored.value, instance.value, engine.value, instance_class.value)
    cleanup = [
        *setup_lines(restored, instance),
        aws("rds", "delete-db-instance", region=stack.region, options=[("--db-instance-identifier", instance.value)]),
        aws("rds", "delete-db-cluster", region=stack.region,
            options=[("--db-cluster-identifier", restored.value), ("--skip-final-snapshot", None)]),
    ]
    # Either restore may be the one an operator runs, so each block sets what it uses.
    return {
        "kind": "aurora",
        "id": rid,
        "cluster": None if cluster.is_variable else cluster.value,
        "retention": props.get("BackupRetentionPeriod", 1),
        "window": props.get("PreferredBackupWindow"),
        "snapshot": code("\n".join(_cluster_snapshot_steps(stack, cluster))),
        "point_in_time": code("\n".join([
            *setup_lines(restored, instance, *handles, engine, instance_class),
            *_cluster_point_in_time_steps(stack, cluster.value, restored.value, placement),
            *add_instance,
        ])),
        "from_snapshot": code("\n".join([
            *setup_lines(restored, instance, *handles, engine, version, instance_class),
            *_cluster_from_snapshot_steps(stack, cluster, restored.value, (engine, version), placement),
            *add_instance,
        ])),
        "cleanup": code("\n".join(cleanup)),
    }


def _cluster_placement(stack: StackFacts, props: dict) -> tuple[list[Handle | None], list[tuple[str, str | None]]]:
    """The handles a restored cluster's placement reads (subnet group, security group, key, parameter
    group) and the restore options placing it like the live cluster."""
    subnet, group, key = _placement(stack, props, "DBSubnetGroupName", "VpcSecurityGroupIds")
    parameter_group = ref_name(props.get("DBClusterParameterGroupName"))
    params = ref_handle(stack, parameter_group) if parameter_group in stack.resources else None
    options = [
        *([("--db-subnet-group-name", subnet.value)] if subnet else []),
        *([("--vpc-security-group-ids", group.value)] if group else []),
        *([("--kms-key-id", key.value)] if key else []),
        *([("--db-cluster-parameter-group-name", params.value)] if params else []),
        *(
            [("--enable-iam-database-authentication", None)]
            if is_true(props.get("EnableIAMDatabaseAuthentication"))
            else []
        ),
    ]
    return [subnet, group, key, params], options


def _cluster_snapshot_steps(stack: StackFacts, cluster: Handle) -> list[str]:
    """The cluster's restorable window, and a manual snapshot before risky work."""
    manual = derived_handle(cluster, "manual", 48)
    return [
        *setup_lines(cluster, manual),
        aws("rds", "describe-db-clusters", region=stack.region, options=[
            ("--db-cluster-identifier", cluster.value),
            ("--query", "DBClusters[0].[EarliestRestorableTime,LatestRestorableTime]"),
            ("--output", "text"),
        ]),
        'SNAPSHOT_DATE="$(date -u +%Y%m%d%H%M)"',
        aws("rds", "create-db-cluster-snapshot", region=stack.region, options=[
            ("--db-cluster-identifier", cluster.value),
            ("--db-cluster-snapshot-identifier", f"{manual.value}-$SNAPSHOT_DATE"),
        ]),
    ]


def _cluster_point_in_time_steps(stack: StackFacts, cluster: str, restored: str, placement: list) -> list[str]:
    return [
        RESTORE_TIME.format(window="restorable window"),
        aws("rds", "restore-db-cluster-to-point-in-time", region=stack.region, options=[
            ("--source-db-cluster-identifier", cluster),
            ("--db-cluster-identifier", restored),
            ("--restore-to-time", "$RESTORE_TIME"),
            *placement,
        ]),
    ]


def _cluster_from_snapshot_steps(
    stack: StackFacts, cluster: Handle, restored: str, engine: tuple[Handle, Handle], placement: list
) -> list[str]:
    """Pick one of the cluster's snapshots and restore it (a snapshot restore names the engine and version again)."""
    return [
        aws("rds", "describe-db-cluster-snapshots", region=stack.region, options=[
            ("--db-cluster-identifier", cluster.value),
            ("--query", "DBClusterSnapshots[].[DBClusterSnapshotIdentifier,SnapshotCreateTime,SnapshotType]"),
            ("--output", "table"),
        ]),
        'SNAPSHOT="<identifier from the list>"',
        aws("rds", "restore-db-cluster-from-snapshot", region=stack.region, options=[
            ("--db-cluster-identifier", restored),
            ("--snapshot-identifier", "$SNAPSHOT"),
            ("--engine", engine[0].value),
            ("--engine-version", engine[1].value),
            *placement,
        ]),
    ]


def _restored_instance_steps(stack: StackFacts, restored: str, instance: str, engine: str, instance_class: str) -> list[str]:
    """A restored cluster has no instance: add one (of the live cluster's first member's class), wait for it,
    and print the endpoint."""
    return [
        aws("rds", "create-db-instance", region=stack.region, options=[
            ("--db-instance-identifier", instance),
            ("--db-cluster-identifier", restored),
            ("--engine", engine),
            ("--db-instance-class", instance_class),
        ]),
        aws_wait("rds", "db-instance-available", region=stack.region, options=[("--db-instance-identifier", instance)]),
        aws("rds", "describe-db-clusters", region=stack.region, options=[
            ("--db-cluster-identifier", restored),
            ("--query", "DBClusters[0].Endpoint"),
            ("--output", "text"),
        ]),
    ]


def _instance_restore(stack: StackFacts, rid: str) -> dict[str, Any]:
    """A DB instance: a point-in-time restore next to it; a read replica: its backup settings after a promotion."""
    props = stack.props(rid)
    instance = ref_handle(stack, rid, "DB_INSTANCE")
    name = None if instance.is_variable else instance.value
    if "SourceDBInstanceIdentifier" in props:
        commands = _replica_backup_steps(stack, instance)
        return {"kind": "replica", "id": rid, "name": name, "commands": code("\n".join(commands))}
    return {
        "kind": "instance",
        "id": rid,
        "name": name,
        "retention": props.get("BackupRetentionPeriod", 1),
        "window": props.get("PreferredBackupWindow"),
        "commands": code("\n".join(_instance_point_in_time_steps(stack, props, instance))),
    }


def _replica_backup_steps(stack: StackFacts, replica: Handle) -> list[str]:
    """A read replica's backup settings and source: what a promotion leaves it with."""
    return [
        *replica.setup,
        aws("rds", "describe-db-instances", region=stack.region, options=[
            ("--db-instance-identifier", replica.value),
            (
                "--query",
                "DBInstances[0].[BackupRetentionPeriod,PreferredBackupWindow,ReadReplicaSourceDBInstanceIdentifier]",
            ),
            ("--output", "text"),
        ]),
    ]


def _instance_point_in_time_steps(stack: StackFacts, props: dict, instance: Handle) -> list[str]:
    """The instance's restorable window, and a point-in-time restore into a new instance placed like it."""
    restored = derived_handle(instance, "restore", DB_IDENTIFIER_LIMIT)
    subnet, group, _ = _placement(stack, props, "DBSubnetGroupName", "VPCSecurityGroups")
    placement = [
        *([("--db-subnet-group-name", subnet.value)] if subnet else []),
        *([("--vpc-security-group-ids", group.value)] if group else []),
        *([("--multi-az", None)] if is_true(props.get("MultiAZ")) else []),
    ]
    return [
        *setup_lines(instance, restored),
        aws("rds", "describe-db-instances", region=stack.region, options=[
            ("--db-instance-identifier", instance.value),
            ("--query", "DBInstances[0].[LatestRestorableTime,BackupRetentionPeriod]"),
            ("--output", "text"),
        ]),
        *setup_lines(subnet, group),
        RESTORE_TIME.format(window="retention window"),
        aws("rds", "restore-db-instance-to-point-in-time", region=stack.region, options=[
            ("--source-db-instance-identifier", instance.value),
            ("--target-db-instance-identifier", restored.value),
            ("--restore-time", "$RESTORE_TIME"),
            *placement,
        ]),
        aws_wait("rds", "db-instance-available", region=stack.region, options=[("--db-instance-identifier", restored.value)]),
    ]


def _cache_restore(stack: StackFacts, rid: str) -> dict[str, Any]:
    """A replication group: its snapshots, a manual one, and a restore into a new group with the same settings."""
    props = stack.props(rid)
    replication_group = ref_handle(stack, rid)
    restored = derived_handle(replication_group, "restore", CACHE_GROUP_LIMIT)
    manual = derived_handle(replication_group, "manual", CACHE_GROUP_LIMIT)
    names = setup_lines(replication_group, restored, manual)
    kept = props.get("SnapshotRetentionLimit", 0)  # 0: no automatic snapshots
    commands = [
        *names,
        *_cache_snapshot_steps(stack, replication_group.value, manual),
        *_cache_from_snapshot_steps(stack, rid, replication_group, restored, names),
    ]
    return {
        "kind": "cache",
        "id": rid,
        "group": None if replication_group.is_variable else replication_group.value,
        "snapshots": kept if parameter_text(kept) != "0" else 0,
        "window": props.get("SnapshotWindow"),
        "commands": code("\n".join(commands)),
    }


def _cache_snapshot_steps(stack: StackFacts, group_id: str, manual: Handle) -> list[str]:
    """The group's snapshots, and a manual one before risky work."""
    return [
        aws("elasticache", "describe-snapshots", region=stack.region, options=[
            ("--replication-group-id", group_id),
            ("--query", "Snapshots[].[SnapshotName,SnapshotSource,SnapshotStatus]"),
            ("--output", "table"),
        ]),
        'SNAPSHOT_DATE="$(date -u +%Y%m%d%H%M)"',
        aws("elasticache", "create-snapshot", region=stack.region, options=[
            ("--replication-group-id", group_id),
            ("--snapshot-name", f"{manual.value}-$SNAPSHOT_DATE"),
        ]),
    ]


def _cache_from_snapshot_steps(
    stack: StackFacts, rid: str, replication_group: Handle, restored: Handle, names: list[str]
) -> list[str]:
    """Restore a chosen snapshot into a new group with the live group's settings and placement, and wait for it.
    ``names`` were set already; the setup here skips them."""
    settings = _cache_settings(stack, rid, replication_group)
    handles, placement = _cache_placement(stack, stack.props(rid))
    return [
        *[line for line in setup_lines(*handles, *settings.values()) if line not in names],
        'SNAPSHOT="<snapshot name from the list>"',
        aws("elasticache", "create-replication-group", region=stack.region, options=[
            ("--replication-group-id", restored.value),
            ("--replication-group-description", f"Restore of {replication_group.value}"),
            ("--snapshot-name", "$SNAPSHOT"),
            *[(flag, handle.value) for flag, handle in settings.items()],
            *placement,
        ]),
        aws_wait("elasticache", "replication-group-available", region=stack.region,
                 options=[("--replication-group-id", restored.value)]),
    ]


def _cache_placement(stack: StackFacts, props: dict) -> tuple[list[Handle | None], list[tuple[str, str | None]]]:
    """The handles a restored group's placement reads (subnet group, security group, key, user groups) and the
    options that place and protect it like the live group."""
    subnet, group, key = _placement(stack, props, "CacheSubnetGroupName", "SecurityGroupIds")
    user_groups = [
        ref_handle(stack, g) for g in (ref_name(v) for v in props.get("UserGroupIds") or []) if g in stack.resources
    ]
    options = [
        *([("--multi-az-enabled", None)] if is_true(props.get("MultiAZEnabled")) else []),
        *([("--automatic-failover-enabled", None)] if is_true(props.get("AutomaticFailoverEnabled")) else []),
        *([("--transit-encryption-enabled", None)] if is_true(props.get("TransitEncryptionEnabled")) else []),
        *([("--at-rest-encryption-enabled", None)] if is_true(props.get("AtRestEncryptionEnabled")) else []),
        *([("--kms-key-id", key.value)] if key else []),
        *([("--cache-subnet-group-name", subnet.value)] if subnet else []),
        *([("--security-group-ids", group.value)] if group else []),
        *([("--user-group-ids", user_groups[0].value)] if user_groups else []),
    ]
    return [subnet, group, key, *user_groups], options


def _cache_settings(stack: StackFacts, rid: str, replication_group: Handle) -> dict[str, Handle]:
    """What a replication group restored from a snapshot states again, by option: engine, version (when the
    template pins one), node type and node count (when set), each as deployed (``setting_handle``). A
    group's record has no engine version: it is read from the group's first member cluster."""
    props = stack.props(rid)
    settings = {"--engine": setting_handle(stack, rid, "Engine", "Engine", variable_name(rid, "ENGINE"), "redis")}
    if "EngineVersion" in props:
        version = setting_handle(stack, rid, "EngineVersion", "EngineVersion", variable_name(rid, "ENGINE_VERSION"))
        if version.is_variable and stack.type_of(rid) == "AWS::ElastiCache::ReplicationGroup":
            member, variable = variable_name(rid, "MEMBER"), variable_name(rid, "ENGINE_VERSION")
            version = Handle(f"${variable}", (
                *replication_group.setup,
                assign(member, describe_command(stack, replication_group, stack.type_of(rid), "MemberClusters[0]")),
                assign(variable, aws("elasticache", "describe-cache-clusters", region=stack.region, one_line=True, options=[
                    ("--cache-cluster-id", f"${member}"),
                    ("--query", "CacheClusters[0].EngineVersion"),
                    ("--output", "text"),
                ])),
            ))
        settings["--engine-version"] = version
    settings["--cache-node-type"] = setting_handle(stack, rid, "CacheNodeType", "CacheNodeType", variable_name(rid, "NODE_TYPE"))
    if "NumCacheClusters" in props:
        settings["--num-cache-clusters"] = setting_handle(
            stack, rid, "NumCacheClusters", "length(@.MemberClusters)", variable_name(rid, "NODES")
        )
    return settings


def _file_system_restore(stack: StackFacts, rid: str) -> dict[str, Any]:
    """A file system with automatic backups: its recovery points and a restore job into the same file system."""
    props = stack.props(rid)
    region = stack.region
    backups = (props.get("BackupPolicy") or {}).get("Status", "DISABLED") == "ENABLED"
    if not backups:
        return {"kind": "efs", "id": rid, "backups": False, "commands": ""}
    file_system = ref_handle(stack, rid, "FILE_SYSTEM_ID")
    arn = f"arn:{stack.partition}:elasticfilesystem:{region}:${{AWS_ACCOUNT_ID}}:file-system/${{FILE_SYSTEM_ID}}"
    commands = [
        *file_system.setup,
        aws("backup", "list-recovery-points-by-resource", region=region, options=[
            ("--resource-arn", arn),
            ("--query", "RecoveryPoints[].[RecoveryPointArn,CreationDate,Status]"),
            ("--output", "table"),
        ]),
        'RECOVERY_POINT="<recovery point ARN from the list>"',
        aws("backup", "start-restore-job", region=region, options=[
            ("--recovery-point-arn", "$RECOVERY_POINT"),
            (
                "--iam-role-arn",
                f"arn:{stack.partition}:iam::${{AWS_ACCOUNT_ID}}:role/service-role/AWSBackupDefaultServiceRole",
            ),
            (
                "--metadata",
                "file-system-id=${FILE_SYSTEM_ID},newFileSystem=false,Encrypted=true,PerformanceMode=generalPurpose,"
                "CreationToken=restore-${FILE_SYSTEM_ID}",
            ),
        ]),
    ]
    return {"kind": "efs", "id": rid, "backups": True, "commands": code("\n".join(commands))}


# -- troubleshooting ------------------------------------------------------------------------


def troubleshooting(ctx: "RunbookContext") -> Section:
    stack = ctx.stack
    engines = _engine_resources(stack)
    checks = [line for rid, resource_type, _ in engines for line in _engine_versions(stack, rid, resource_type)]
    groups = stack.of_type("AWS::ElastiCache::ReplicationGroup")
    export = next((e for e in (stack.export_name(o) for o in stack.outputs) if e), None)
    service_id, service_commands = _unsettled_service(stack)
    text = render_chapter(
        "troubleshooting",
        engines=[rid for rid, _, _ in engines],
        catalog=stack.metadata.get("CatalogSnapshot", "see the template metadata"),
        engine_checks=code("\n".join(checks)),
        cache_group=groups[0] if groups else None,
        cache_commands=code("\n".join(_stuck_cache_steps(stack, groups[0]))) if groups else "",
        export=export,
        imports=code(aws("cloudformation", "list-imports", region=stack.region, options=[("--export-name", export)]))
        if export
        else "",
        capabilities=stack.capabilities,
        iam_resources=stack.iam_resources,
        size=f"{stack.size_bytes:,}",
        service=service_id,
        service_commands=service_commands,
        linked_roles=stack.has_type(
            "AWS::ECS::Service", "AWS::ElastiCache::ReplicationGroup", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"
        ),
        eips=stack.has_type("AWS::EC2::EIP"),
        replacement=code(_replacements(stack)) if stack.stateful else "",
    )
    return "Troubleshooting", text


def _engine_resources(stack: StackFacts) -> list[tuple[str, str, dict]]:
    """Every resource that pins an engine version: its logical ID, type and properties."""
    return [(rid, t, p) for rid, t, p in stack.iter_resources() if "EngineVersion" in p and "Engine" in p]


def _engine_versions(stack: StackFacts, rid: str, resource_type: str) -> list[str]:
    """The versions of a resource's engine AWS offers in the region, then the ones our catalogue holds
    (an engine known only at deploy time is read from the resource first)."""
    if resource_type.startswith("AWS::ElastiCache::"):
        service, operation, listing = "elasticache", "describe-cache-engine-versions", "CacheEngineVersions"
    else:
        service, operation, listing = "rds", "describe-db-engine-versions", "DBEngineVersions"
    engine = setting_handle(stack, rid, "Engine", "Engine", variable_name(rid, "ENGINE"))
    return [
        *engine.setup,
        aws(
            service,
            operation,
            region=stack.region,
            options=[("--engine", engine.value), ("--query", f"{listing}[].EngineVersion"), ("--output", "text")],
        ),
        f"python build.py catalog show --engine {engine.value} --region {stack.region}",
    ]


def _stuck_cache_steps(stack: StackFacts, group_rid: str) -> list[str]:
    """A replication group stuck in create or delete: wait for it or delete it by hand, then let the stack
    roll back past it (an update) or delete the stack keeping the group out (a first create)."""
    region, name = stack.region, stack.stack_name
    replication_group = ref_handle(stack, group_rid)
    group = [("--replication-group-id", replication_group.value)]
    return [
        *replication_group.setup,
        aws(
            "elasticache",
            "describe-replication-groups",
            region=region,
            options=[*group, ("--query", "ReplicationGroups[0].Status"), ("--output", "text")],
        ),
        aws_wait("elasticache", "replication-group-available", region=region, options=group),
        aws("elasticache", "delete-replication-group", region=region, options=group),
        aws_wait("elasticache", "replication-group-deleted", region=region, options=group),
        "# an update that failed (UPDATE_ROLLBACK_FAILED): skip the resource you removed by hand",
        aws(
            "cloudformation",
            "continue-update-rollback",
            region=region,
            options=[("--stack-name", name), ("--resources-to-skip", group_rid)],
        ),
        "# a first create that failed (ROLLBACK_FAILED): delete the stack; if it ends DELETE_FAILED, retain what is gone",
        aws("cloudformation", "delete-stack", region=region, options=[("--stack-name", name)]),
        aws(
            "cloudformation",
            "delete-stack",
            region=region,
            options=[("--stack-name", name), ("--retain-resources", group_rid)],
        ),
    ]


#: The change set's resources CloudFormation would replace (or may: ``Conditional``) and the properties why.
_REPLACEMENTS_QUERY = (
    "Changes[?ResourceChange.Replacement=='True' || ResourceChange.Replacement=='Conditional']"
    ".ResourceChange.[LogicalResourceId,Details[].Target.Name]"
)


def _replacements(stack: StackFacts) -> str:
    change_set = [("--stack-name", stack.stack_name), ("--change-set-name", "$CHANGE_SET")]
    query = [("--query", _REPLACEMENTS_QUERY), ("--output", "json")]
    return aws("cloudformation", "describe-change-set", region=stack.region, options=[*change_set, *query])


def _unsettled_service(stack: StackFacts) -> tuple[str | None, str]:
    """The first ECS service and the fenced commands reading its events and stopped tasks,
    or (None, "") when the stack has no service or its cluster is not in the template."""
    services = stack.of_type("AWS::ECS::Service")
    if not services:
        return None, ""
    cluster_id = ref_name(stack.props(services[0]).get("Cluster"))
    if cluster_id not in stack.resources:
        return None, ""
    cluster = ref_handle(stack, cluster_id, "ECS_CLUSTER")
    service = attribute_handle(stack, services[0], "Name", "ECS_SERVICE") or ref_handle(stack, services[0], "ECS_SERVICE")
    commands = [
        *setup_lines(cluster, service),
        _service_events_command(stack, cluster, service),
        *_stopped_task_commands(stack, cluster),
    ]
    return services[0], code("\n".join(commands))


def _service_events_command(stack: StackFacts, cluster: Handle, service: Handle) -> str:
    """The service's last five events: where ECS says why a deployment does not settle."""
    return aws("ecs", "describe-services", region=stack.region, options=[
        ("--cluster", cluster.value),
        ("--services", service.value),
        ("--query", "services[0].events[:5].[createdAt,message]"),
        ("--output", "table"),
    ])


def _stopped_task_commands(stack: StackFacts, cluster: Handle) -> list[str]:
    """The cluster's last five stopped tasks and why they stopped (a container that cannot start shows here)."""
    list_stopped = aws("ecs", "list-tasks", region=stack.region, one_line=True, options=[
        ("--cluster", cluster.value),
        ("--desired-status", "STOPPED"),
        ("--query", "taskArns[:5]"),
        ("--output", "text"),
    ])
    return [
        f"TASKS=$({list_stopped})",
        aws("ecs", "describe-tasks", region=stack.region, options=[
            ("--cluster", cluster.value),
            ("--tasks", "$TASKS"),
            ("--query", "tasks[].[stoppedReason,containers[0].reason]"),
            ("--output", "table"),
        ]),
    ]


# -- security and compliance ----------------------------------------------------------------------


def compliance_files(files: dict, blueprint: str) -> list[str]:
    return sorted(
        path
        for path in files
        if PurePosixPath(path).parts[:1] == ("compliance",) and PurePosixPath(path).stem.split(".")[0] == blueprint
    )


def _summarise_report(text: str) -> list[dict] | None:
    """Scalars of the report (and of its ``summary``) and the size of its lists, whatever its schema:
    each a mapping of key and value, or key and count (a list's length). None when it is not JSON."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return []
    summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
    facts: list[dict] = []
    for key, value in [*summary.items(), *((k, v) for k, v in data.items() if k != "summary")]:
        if isinstance(value, (str, int, float, bool)):
            facts.append({"key": key, "value": value})
        elif isinstance(value, list):
            facts.append({"key": key, "count": len(value)})
    return facts[:15]


def security(ctx: "RunbookContext") -> Section:
    stack = ctx.stack
    reports = compliance_files(dict(ctx.files), stack.blueprint)
    json_report = next((p for p in reports if p.endswith(".json")), None)
    text = render_chapter(
        "security",
        reports=reports,
        json_report=json_report,
        summary=_summarise_report(ctx.files[json_report]) if json_report else [],
        encryption=table(["Resource", "Type", "Encrypted", "Key"], _encryption_rows(stack)),
        transit=_in_transit(stack),
        exposure=_exposure(stack),
        iam=_iam(stack),
        notes=stack.metadata.get("SecurityNotes") or [],
    )
    return "Security and compliance", text


_ENCRYPTION = {
    "AWS::RDS::DBCluster": ("StorageEncrypted", "KmsKeyId"),
    "AWS::RDS::DBInstance": ("StorageEncrypted", "KmsKeyId"),
    "AWS::ElastiCache::ReplicationGroup": ("AtRestEncryptionEnabled", "KmsKeyId"),
    "AWS::EFS::FileSystem": ("Encrypted", "KmsKeyId"),
    "AWS::Logs::LogGroup": (None, "KmsKeyId"),
    "AWS::SNS::Topic": (None, "KmsMasterKeyId"),
    "AWS::SecretsManager::Secret": (None, "KmsKeyId"),
}


def _encryption_rows(stack: StackFacts) -> list[list[str]]:
    rows = []
    for rid, resource_type, props in stack.iter_resources():
        if resource_type == "AWS::Kinesis::Stream":
            encryption = props.get("StreamEncryption") or {}
            rows.append(
                [f"`{rid}`", resource_type, "yes" if encryption else "no", _key(stack, encryption.get("KeyId"))]
            )
        elif resource_type == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in props:
            continue  # encrypted with its cluster
        elif resource_type in _ENCRYPTION:
            flag, key_property = _ENCRYPTION[resource_type]
            key = props.get(key_property)
            if flag is None:
                encrypted = "yes (customer key)" if key else "AWS-owned key"
            elif "SourceDBInstanceIdentifier" in props and flag not in props:
                encrypted = "inherited from the source" + (" (re-encrypted with the key)" if key else "")
            else:
                encrypted = "yes" if is_true(props.get(flag)) else "**no**"
            rows.append([f"`{rid}`", resource_type, encrypted, _key(stack, key)])
    return rows


def _key(stack: StackFacts, value: Any) -> str:
    if value is None:
        return ""
    target = target_of(value)
    if target in stack.resources:
        rotation = is_true(stack.props(target).get("EnableKeyRotation"))
        return f"`{target}`" + (" (rotated)" if rotation else "")
    return shown(stack, value)


def _in_transit(stack: StackFacts) -> list[dict]:
    """What the template says about encryption in transit, one mapping per resource (its ``kind`` and facts)."""
    facts: list[dict] = []
    for rid in stack.of_type("AWS::RDS::DBClusterParameterGroup", "AWS::RDS::DBParameterGroup"):
        force = (stack.props(rid).get("Parameters") or {}).get("rds.force_ssl")
        if force is not None:
            facts.append({"kind": "force_ssl", "id": rid, "value": force, "refuses": str(force) == "1"})
    for rid in stack.of_type("AWS::ElastiCache::ReplicationGroup"):
        p = stack.props(rid)
        facts.append(
            {
                "kind": "cache",
                "id": rid,
                "enabled": is_true(p.get("TransitEncryptionEnabled")),
                "mode": p.get("TransitEncryptionMode", "preferred"),
            }
        )
    for rid in stack.of_type("AWS::ElasticLoadBalancingV2::Listener"):
        p = stack.props(rid)
        facts.append(
            {
                "kind": "listener",
                "id": rid,
                "protocol": p.get("Protocol"),
                "port": p.get("Port"),
                "policy": p["SslPolicy"] if "SslPolicy" in p else None,
            }
        )
    return facts


def _exposure(stack: StackFacts) -> list[dict]:
    """What is reachable from the internet, one mapping per finding (its ``kind``, the resource and facts)."""
    facts: list[dict] = []
    for rid, resource_type, props in stack.iter_resources():
        rules = []
        if resource_type == "AWS::EC2::SecurityGroup":
            rules = props.get("SecurityGroupIngress") or []
        elif resource_type == "AWS::EC2::SecurityGroupIngress":
            rules = [props]
        for rule in rules:
            if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                facts.append(
                    {
                        "kind": "open_ingress",
                        "id": rid,
                        "protocol": rule.get("IpProtocol"),
                        "from_port": rule.get("FromPort"),
                        "to_port": rule.get("ToPort"),
                    }
                )
        if resource_type == "AWS::RDS::DBInstance" and is_true(props.get("PubliclyAccessible")):
            facts.append({"kind": "public_database", "id": rid})
        if resource_type == "AWS::EC2::Subnet" and is_true(props.get("MapPublicIpOnLaunch")):
            facts.append({"kind": "public_subnet", "id": rid})
        if (
            resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer"
            and props.get("Scheme", "internet-facing") == "internet-facing"
        ):
            facts.append({"kind": "internet_facing", "id": rid})
        if resource_type == "AWS::ECS::Service":
            assign_ip = ((props.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}).get(
                "AssignPublicIp"
            )
            if assign_ip == "ENABLED":
                facts.append({"kind": "public_tasks", "id": rid})
    return facts


def _iam(stack: StackFacts) -> dict:
    """Identity and access facts: the roles, their managed policies and wildcard inline policies (each a
    mapping of role and policy), the databases' password and IAM-authentication settings, the cache users."""
    roles = stack.of_type("AWS::IAM::Role")
    managed, wildcards = [], []
    for rid in roles:
        props = stack.props(rid)
        for policy in props.get("Policies") or []:
            for statement in (policy.get("PolicyDocument") or {}).get("Statement") or []:
                actions = statement.get("Action")
                resources = statement.get("Resource")
                actions = actions if isinstance(actions, list) else [actions]
                resources = resources if isinstance(resources, list) else [resources]
                if any(a == "*" or str(a).endswith(":*") for a in actions) or "*" in resources:
                    wildcards.append({"role": rid, "policy": policy.get("PolicyName")})
        for arn in props.get("ManagedPolicyArns") or []:
            managed.append({"role": rid, "policy": shown(stack, arn).split(":policy/")[-1]})
    databases = [
        {
            "id": rid,
            "managed_password": is_true(stack.props(rid).get("ManageMasterUserPassword")),
            "iam_authentication": is_true(stack.props(rid).get("EnableIAMDatabaseAuthentication")),
        }
        for rid in stack.of_type("AWS::RDS::DBCluster", "AWS::RDS::DBInstance")
    ]
    cache_users = [
        {
            "id": rid,
            "mode": (stack.props(rid).get("AuthenticationMode") or {}).get("Type"),
            "access": stack.props(rid).get("AccessString"),
        }
        for rid in stack.of_type("AWS::ElastiCache::User")
    ]
    return {
        "roles": roles,
        "managed_policies": managed,
        "wildcards": wildcards,
        "databases": databases,
        "cache_users": cache_users,
    }
