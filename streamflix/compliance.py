"""A compliance report per stack, derived from the rendered template alone.

For each control (encryption at rest and in transit, backups, Multi-AZ,
logging, least privilege, network isolation, data residency) the report lists
the resources it covers and the evidence read from the template, mapped to
HIPAA Security Rule sections, PCI DSS v4.0 requirements, SOC 2 criteria and
GDPR articles. It parses the rendered text (never the config), so it cannot
drift from what is deployed; the template's sha256 ties the two together.

Each resource is judged against the production floors whatever the tier, so a
dev report shows honestly where dev is weaker than prod.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from streamflix.checks.rules.base import (
    RuleContext,
    as_int,
    as_list,
    audit_log_groups,
    is_true,
    literal_text,
    properties,
    public_subnets,
    resources,
    security_overrides,
    stack_metadata,
    target_of,
)
from streamflix.checks.rules.encryption_at_rest import at_rest_problems
from streamflix.checks.rules.encryption_in_transit import EncryptionInTransit
from streamflix.checks.rules.iam_least_privilege import IamLeastPrivilege
from streamflix.checks.rules.network_exposure import DATA_STORE_GROUPS, NetworkExposure
from streamflix.cfn import text_of
from streamflix.checks.suppressions import suppressions_in
from streamflix.config.models import EU_REGIONS
from streamflix.floors import PROD_MIN_AUDIT_LOG_RETENTION_DAYS, PROD_MIN_BACKUP_RETENTION_DAYS
from streamflix.render import shared_template

if TYPE_CHECKING:
    from streamflix.config.models import EnvironmentConfig
    from streamflix.render import RenderedStack

REPORT_DIR = "compliance"
FRAMEWORKS = ("HIPAA", "PCI DSS v4.0", "SOC 2", "GDPR")


@dataclass(frozen=True)
class Evidence:
    resource: str
    type: str
    evidence: str
    meets: bool


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    criterion: str
    references: dict[str, tuple[str, ...]]
    collect: Callable[[dict[str, Any]], Iterator[Evidence]] = field(repr=False)


# -- reading values ------------------------------------------------------------


def _last_part(value: Any, separator: str) -> str:
    """The name at the end of an ARN or service name (also of a ``!Sub`` one), else the value's text."""
    text = literal_text(value)
    return text.rsplit(separator, 1)[-1] if text is not None else text_of(value)


def _policies(resource: dict[str, Any]) -> str:
    return f"DeletionPolicy {resource.get('DeletionPolicy', 'Delete')}, UpdateReplacePolicy {resource.get('UpdateReplacePolicy', 'Delete')}"


def _problems_by_resource(rule: Any, template: dict[str, Any]) -> dict[str, list[str]]:
    """A rule's messages keyed by the logical id each one starts with."""
    found: dict[str, list[str]] = {}
    ids = set(template.get("Resources") or {})
    context = RuleContext(filename="", region=str(stack_metadata(template).get("Region", "")))
    for _, message in rule.violations(template, context):
        first = message.split(" ", 1)[0]
        if first in ids:
            found.setdefault(first, []).append(message)
    return found


def _holds_data(db: dict[str, Any]) -> bool:
    """A DB cluster, or an instance outside any cluster (members' storage is the cluster's)."""
    return db.get("Type") != "AWS::RDS::DBInstance" or "DBClusterIdentifier" not in properties(db)


# -- controls ------------------------------------------------------------------

_AT_REST_EVIDENCE = {
    "AWS::KMS::Key": ("EnableKeyRotation", "RotationPeriodInDays"),
    "AWS::RDS::DBCluster": ("StorageEncrypted", "KmsKeyId", "MasterUserSecret.KmsKeyId"),
    "AWS::RDS::DBInstance": ("StorageEncrypted", "KmsKeyId", "PerformanceInsightsKMSKeyId"),
    "AWS::ElastiCache::ReplicationGroup": ("AtRestEncryptionEnabled", "KmsKeyId"),
    "AWS::EFS::FileSystem": ("Encrypted", "KmsKeyId"),
    "AWS::Kinesis::Stream": ("StreamEncryption.EncryptionType", "StreamEncryption.KeyId"),
    "AWS::SNS::Topic": ("KmsMasterKeyId",),
    "AWS::SQS::Queue": ("KmsMasterKeyId",),
    "AWS::Logs::LogGroup": ("KmsKeyId",),
    "AWS::SecretsManager::Secret": ("KmsKeyId",),
    "AWS::DynamoDB::Table": ("SSESpecification.SSEEnabled", "SSESpecification.KMSMasterKeyId"),
    "AWS::S3::Bucket": ("BucketEncryption",),
}


def _lookup(props: dict[str, Any], path: str) -> Any:
    value: Any = props
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _encryption_at_rest(template: dict[str, Any]) -> Iterator[Evidence]:
    for logical_id, resource in resources(template, *_AT_REST_EVIDENCE):
        props = properties(resource)
        if not _holds_data(resource):
            shown = "storage encrypted by its cluster; PerformanceInsightsKMSKeyId: " + text_of(props.get("PerformanceInsightsKMSKeyId", "none"))
        else:
            shown = "; ".join(
                f"{path}: {text_of(value)}"
                for path in _AT_REST_EVIDENCE[resource["Type"]]
                if (value := _lookup(props, path)) is not None
            ) or "no encryption settings"
        problems = list(at_rest_problems(template, resource))
        if resource["Type"] == "AWS::KMS::Key" and not is_true(props.get("EnableKeyRotation")):
            problems.append("no rotation")
        yield Evidence(logical_id, resource["Type"], shown + (f" ({'; '.join(problems)})" if problems else ""), not problems)


def _encryption_in_transit(template: dict[str, Any]) -> Iterator[Evidence]:
    problems = _problems_by_resource(EncryptionInTransit(), template)
    groups = {
        logical_id: properties(group).get("Parameters") or {}
        for logical_id, group in resources(template, "AWS::RDS::DBParameterGroup", "AWS::RDS::DBClusterParameterGroup")
    }
    for logical_id, db in resources(template, "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
        props = properties(db)
        if not _holds_data(db):
            continue
        group = target_of(props.get("DBClusterParameterGroupName") or props.get("DBParameterGroupName"))
        params = groups.get(group, {})
        tls = "; ".join(f"{k} = {params[k]}" for k in ("rds.force_ssl", "require_secure_transport") if k in params)
        yield Evidence(logical_id, db["Type"], f"parameter group {group}: {tls or 'no TLS parameter'}", logical_id not in problems)
    for logical_id, group in resources(template, "AWS::ElastiCache::ReplicationGroup"):
        props = properties(group)
        yield Evidence(
            logical_id, group["Type"],
            f"TransitEncryptionEnabled: {text_of(props.get('TransitEncryptionEnabled', False))}; "
            f"TransitEncryptionMode: {props.get('TransitEncryptionMode', 'required (default)')}",
            logical_id not in problems,
        )
    for logical_id, listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener"):
        props = properties(listener)
        # A plain-HTTP listener that serves traffic never meets this control, even when a security
        # override accepts it (the override is listed at the top of the report); one that only
        # redirects to HTTPS does.
        encrypted = props.get("Protocol") in ("HTTPS", "TLS") or _redirects_to_https(props)
        yield Evidence(
            logical_id, listener["Type"],
            f"{props.get('Protocol')} on {props.get('Port')}"
            + (f", SslPolicy {props.get('SslPolicy')}" if props.get("Protocol") == "HTTPS" else "")
            + (" (redirects to HTTPS)" if props.get("Protocol") == "HTTP" and encrypted else "")
            + ("; plain HTTP serves traffic" if not encrypted else ""),
            logical_id not in problems and encrypted,
        )


def _redirects_to_https(props: dict[str, Any]) -> bool:
    actions = props.get("DefaultActions") or []
    return bool(actions) and all(
        isinstance(a, dict) and a.get("Type") == "redirect"
        and (a.get("RedirectConfig") or {}).get("Protocol") == "HTTPS"
        for a in actions
    )


def _backups(template: dict[str, Any]) -> Iterator[Evidence]:
    for logical_id, db in resources(template, "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
        props = properties(db)
        if not _holds_data(db):
            continue
        replica = "SourceDBInstanceIdentifier" in props
        days = as_int(props.get("BackupRetentionPeriod", 1)) or 0
        text = (
            f"read replica of {text_of(props['SourceDBInstanceIdentifier'])}; {_policies(db)}"
            if replica
            else f"automated backups {days} days (production floor {PROD_MIN_BACKUP_RETENTION_DAYS}), "
            f"window {props.get('PreferredBackupWindow', 'AWS-chosen')}; {_policies(db)}"
        )
        yield Evidence(logical_id, db["Type"], text, (replica or days >= PROD_MIN_BACKUP_RETENTION_DAYS) and db.get("DeletionPolicy") == "Snapshot")
    for logical_id, group in resources(template, "AWS::ElastiCache::ReplicationGroup"):
        props = properties(group)
        days = as_int(props.get("SnapshotRetentionLimit", 0)) or 0
        yield Evidence(
            logical_id, group["Type"],
            f"daily snapshots kept {days} days, window {props.get('SnapshotWindow', 'AWS-chosen')}; {_policies(group)}",
            days >= 1 and group.get("DeletionPolicy") == "Snapshot",
        )
    for logical_id, stream in resources(template, "AWS::Kinesis::Stream"):
        hours = properties(stream).get("RetentionPeriodHours", 24)
        yield Evidence(logical_id, stream["Type"], f"records kept {hours} hours; {_policies(stream)}", stream.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"))
    for logical_id, resource in resources(template, "AWS::KMS::Key", "AWS::EFS::FileSystem", "AWS::SecretsManager::Secret", "AWS::DynamoDB::Table", "AWS::S3::Bucket"):
        extra = ""
        if resource["Type"] == "AWS::KMS::Key":
            extra = f"deletion waits {properties(resource).get('PendingWindowInDays', 30)} days; "
        yield Evidence(logical_id, resource["Type"], extra + _policies(resource), resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"))


def _az_index(value: Any) -> Any:
    if isinstance(value, dict) and "Fn::Select" in value:
        return value["Fn::Select"][0]
    return text_of(value) if value is not None else None


def _multi_az(template: dict[str, Any]) -> Iterator[Evidence]:
    members: dict[str, list[Any]] = {}
    for _, instance in resources(template, "AWS::RDS::DBInstance"):
        props = properties(instance)
        if "DBClusterIdentifier" in props:
            members.setdefault(str(target_of(props["DBClusterIdentifier"])), []).append(_az_index(props.get("AvailabilityZone")))
    for logical_id, cluster in resources(template, "AWS::RDS::DBCluster"):
        zones = members.get(logical_id, [])
        distinct = {z for z in zones if z is not None}
        yield Evidence(logical_id, cluster["Type"], f"{len(zones)} instances over {len(distinct)} availability zones", len(distinct) >= 2)
    for logical_id, instance in resources(template, "AWS::RDS::DBInstance"):
        props = properties(instance)
        if _holds_data(instance):
            yield Evidence(logical_id, instance["Type"], f"MultiAZ: {text_of(props.get('MultiAZ', False))}", is_true(props.get("MultiAZ")))
    for logical_id, group in resources(template, "AWS::ElastiCache::ReplicationGroup"):
        props = properties(group)
        nodes = as_int(props.get("NumCacheClusters")) or 0
        ok = is_true(props.get("MultiAZEnabled")) and is_true(props.get("AutomaticFailoverEnabled")) and nodes >= 2
        yield Evidence(
            logical_id, group["Type"],
            f"MultiAZEnabled: {text_of(props.get('MultiAZEnabled', False))}; AutomaticFailoverEnabled: "
            f"{text_of(props.get('AutomaticFailoverEnabled', False))}; {nodes} nodes",
            ok,
        )
    subnets = {logical_id: _az_index(properties(s).get("AvailabilityZone", properties(s).get("AvailabilityZoneId")))
               for logical_id, s in resources(template, "AWS::EC2::Subnet")}
    nat_zones = {subnets.get(str(target_of(properties(n).get("SubnetId")))) for _, n in resources(template, "AWS::EC2::NatGateway")}
    for logical_id, vpc in resources(template, "AWS::EC2::VPC"):
        zones = {z for z in subnets.values() if z is not None}
        nat = f"{len(nat_zones)} NAT gateway zone(s)" if nat_zones else "no NAT gateways (VPC endpoints)"
        yield Evidence(logical_id, vpc["Type"], f"subnets in {len(zones)} availability zones; {nat}", len(zones) >= 2 and (not nat_zones or nat_zones == zones))
    for logical_id, service in resources(template, "AWS::ECS::Service"):
        props = properties(service)
        awsvpc = (props.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}
        count = as_int(props.get("DesiredCount")) or 0
        spread = len(as_list(awsvpc.get("Subnets")))
        yield Evidence(logical_id, service["Type"], f"{count} tasks over {spread} subnets", count >= 2 and spread >= 2)


def _logging(template: dict[str, Any]) -> Iterator[Evidence]:
    audit = audit_log_groups(template)
    writers = {}
    for logical_id, definition in resources(template, "AWS::ECS::TaskDefinition"):
        for container in as_list(properties(definition).get("ContainerDefinitions")):
            group = target_of(((container.get("LogConfiguration") or {}).get("Options") or {}).get("awslogs-group"))
            if group:
                writers[group] = f"container logs of {logical_id}"
    for logical_id, group in resources(template, "AWS::ElastiCache::ReplicationGroup"):
        for delivery in as_list(properties(group).get("LogDeliveryConfigurations")):
            target = target_of((((delivery.get("DestinationDetails") or {}).get("CloudWatchLogsDetails")) or {}).get("LogGroup"))
            if target:
                writers[target] = f"{delivery.get('LogType')} of {logical_id}"
    for logical_id, group in resources(template, "AWS::Logs::LogGroup"):
        props = properties(group)
        retention = props.get("RetentionInDays")
        days = as_int(retention)
        what = audit.get(logical_id) or writers.get(logical_id) or "log group"
        floor = PROD_MIN_AUDIT_LOG_RETENTION_DAYS if logical_id in audit else 1
        ok = "KmsKeyId" in props and (retention is None or (days or 0) >= floor)
        kept = f"kept {retention} days" if retention is not None else "kept forever"
        extra = f" (audit floor {PROD_MIN_AUDIT_LOG_RETENTION_DAYS}); {_policies(group)}" if logical_id in audit else ""
        yield Evidence(logical_id, group["Type"], f"{what}: {kept}{extra}; KmsKeyId: {text_of(props.get('KmsKeyId', 'none'))}", ok)
    for logical_id, flow in resources(template, "AWS::EC2::FlowLog"):
        props = properties(flow)
        yield Evidence(logical_id, flow["Type"], f"{props.get('TrafficType')} traffic of {text_of(props.get('ResourceId'))} to {text_of(props.get('LogGroupName') or props.get('LogDestination'))}", props.get("TrafficType") == "ALL")
    for logical_id, cluster in resources(template, "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
        exports = properties(cluster).get("EnableCloudwatchLogsExports")
        if exports is not None or _holds_data(cluster):
            yield Evidence(logical_id, cluster["Type"], f"log exports: {', '.join(map(text_of, as_list(exports))) or 'none'}", bool(exports))
    alarms = list(resources(template, "AWS::CloudWatch::Alarm"))
    if alarms:
        targets = sorted({text_of(a) for _, alarm in alarms for a in as_list(properties(alarm).get("AlarmActions"))})
        yield Evidence("CloudWatch alarms", "AWS::CloudWatch::Alarm", f"{len(alarms)} alarms notify {', '.join(targets) or 'nobody'}", bool(targets))


def _least_privilege(template: dict[str, Any]) -> Iterator[Evidence]:
    problems = _problems_by_resource(IamLeastPrivilege(), template)
    for logical_id, role in resources(template, "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        props = properties(role)
        trust = [
            text_of(service)
            for statement in as_list((props.get("AssumeRolePolicyDocument") or {}).get("Statement"))
            for service in as_list((statement.get("Principal") or {}).get("Service"))
        ]
        documents = [p.get("PolicyDocument") for p in as_list(props.get("Policies")) if isinstance(p, dict)]
        documents += [props["PolicyDocument"]] if "PolicyDocument" in props else []
        actions = sorted({a for d in documents for s in as_list((d or {}).get("Statement")) for a in as_list(s.get("Action")) if isinstance(a, str)})
        managed = [_last_part(arn, "/") for arn in as_list(props.get("ManagedPolicyArns"))]
        parts = [f"trusted by {', '.join(trust)}"] if trust else []
        parts += [f"actions: {', '.join(actions)}"] if actions else []
        parts += [f"managed: {', '.join(managed)}"] if managed else []
        yield Evidence(logical_id, role["Type"], "; ".join(parts) + _problem_note(problems.get(logical_id)), logical_id not in problems)
    for logical_id, key in resources(template, "AWS::KMS::Key"):
        statements = as_list((properties(key).get("KeyPolicy") or {}).get("Statement"))
        sids = ", ".join(str(s.get("Sid", "?")) for s in statements)
        yield Evidence(logical_id, key["Type"], f"key policy statements: {sids}" + _problem_note(problems.get(logical_id)), logical_id not in problems)
    for logical_id, db in resources(template, "AWS::RDS::DBCluster"):
        props = properties(db)
        yield Evidence(
            logical_id, db["Type"],
            f"IAM database authentication: {text_of(props.get('EnableIAMDatabaseAuthentication', False))}; "
            f"master secret managed by RDS: {text_of(props.get('ManageMasterUserPassword', False))}",
            is_true(props.get("EnableIAMDatabaseAuthentication")) and is_true(props.get("ManageMasterUserPassword")),
        )
    for logical_id, user in resources(template, "AWS::ElastiCache::User"):
        props = properties(user)
        mode = (props.get("AuthenticationMode") or {}).get("Type")
        access = props.get("AccessString", "")
        disabled = isinstance(access, str) and access.startswith("off")
        yield Evidence(logical_id, user["Type"], f"authentication {mode}; access '{access}'", disabled or mode == "iam")


def _problem_note(problems: list[str] | None) -> str:
    return f" ({'; '.join(problems)})" if problems else ""


def _network_isolation(template: dict[str, Any]) -> Iterator[Evidence]:
    problems = _problems_by_resource(NetworkExposure(), template)
    guarded = {
        str(target_of(g)): logical_id
        for logical_id, r in resources(template, *DATA_STORE_GROUPS)
        for g in as_list(properties(r).get(DATA_STORE_GROUPS[r["Type"]]))
    }
    sources: dict[str, list[str]] = {}
    for logical_id, group in resources(template, "AWS::EC2::SecurityGroup"):
        for rule in as_list(properties(group).get("SecurityGroupIngress")):
            sources.setdefault(logical_id, []).append(_source(rule))
    for _, ingress in resources(template, "AWS::EC2::SecurityGroupIngress"):
        props = properties(ingress)
        sources.setdefault(str(target_of(props.get("GroupId"))), []).append(_source(props))
    for logical_id, group in resources(template, "AWS::EC2::SecurityGroup"):
        admits = ", ".join(sources.get(logical_id, [])) or "nothing"
        role = f"guards {guarded[logical_id]}; " if logical_id in guarded else ""
        yield Evidence(logical_id, group["Type"], f"{role}admits {admits}" + _problem_note(problems.get(logical_id)), logical_id not in problems)
    public = public_subnets(template)
    routed = _nat_routed_subnets(template)
    for logical_id, subnet in resources(template, "AWS::EC2::Subnet"):
        kind = "public (internet gateway)" if logical_id in public else "private (NAT egress)" if logical_id in routed else "isolated (no route out)"
        yield Evidence(logical_id, subnet["Type"], f"{kind}; MapPublicIpOnLaunch: {text_of(properties(subnet).get('MapPublicIpOnLaunch', False))}", logical_id not in problems)
    for logical_id, instance in resources(template, "AWS::RDS::DBInstance"):
        yield Evidence(logical_id, instance["Type"], f"PubliclyAccessible: {text_of(properties(instance).get('PubliclyAccessible', 'unset'))}", logical_id not in problems)
    for logical_id, service in resources(template, "AWS::ECS::Service"):
        awsvpc = (properties(service).get("NetworkConfiguration") or {}).get("AwsvpcConfiguration") or {}
        yield Evidence(logical_id, service["Type"], f"AssignPublicIp: {awsvpc.get('AssignPublicIp', 'DISABLED')}", logical_id not in problems)
    endpoints = sorted(_last_part(properties(e).get("ServiceName"), ".") for _, e in resources(template, "AWS::EC2::VPCEndpoint"))
    if endpoints:
        yield Evidence("VPC endpoints", "AWS::EC2::VPCEndpoint", f"AWS APIs reached privately: {', '.join(endpoints)}", True)


def _source(rule: dict[str, Any]) -> str:
    origin = rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("SourcePrefixListId") or rule.get("SourceSecurityGroupId")
    return f"{text_of(origin)} on {rule.get('IpProtocol')} {rule.get('FromPort')}"


def _nat_routed_subnets(template: dict[str, Any]) -> set[str]:
    tables = {
        target_of(properties(r).get("RouteTableId"))
        for _, r in resources(template, "AWS::EC2::Route")
        if properties(r).get("NatGatewayId")
    }
    return {
        str(target_of(properties(a).get("SubnetId")))
        for _, a in resources(template, "AWS::EC2::SubnetRouteTableAssociation")
        if target_of(properties(a).get("RouteTableId")) in tables
    }


def _data_residency(template: dict[str, Any]) -> Iterator[Evidence]:
    region = str(stack_metadata(template).get("Region", "unknown"))
    others = sorted(set(_regions_named(template.get("Resources") or {})) - {region})
    outside = [r for r in [region, *others] if r not in EU_REGIONS]
    text = f"deployed to {region} ({'EU' if region in EU_REGIONS else 'outside the EU'})"
    if others:
        text += f"; references other regions: {', '.join(others)}"
    if outside:
        text += " - a transfer outside the EU needs an Art. 45 adequacy decision or Art. 46 safeguards"
    stores = [logical_id for logical_id, r in resources(template) if r.get("Type") in _DATA_STORES]
    yield Evidence("Stack", "AWS::CloudFormation::Stack", f"{text}; data stores: {', '.join(stores) or 'none'}", not outside)


_DATA_STORES = {
    "AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::EFS::FileSystem",
    "AWS::Kinesis::Stream", "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret",
}


def _regions_named(node: Any) -> Iterator[str]:
    """Regions a template names literally (ARNs, SourceRegion, ReplicaRegions)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("SourceRegion", "Region", "DestinationRegion") and isinstance(value, str):
                yield value
            yield from _regions_named(value)
    elif isinstance(node, list):
        for item in node:
            yield from _regions_named(item)
    elif isinstance(node, str):
        yield from re.findall(r"arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-gov)?-[a-z]+-\d):", node)


CONTROLS: tuple[Control, ...] = (
    Control(
        "encryption-at-rest", "Encryption at rest",
        "Every data store is encrypted with a customer-managed KMS key that rotates.",
        {"HIPAA": ("164.312(a)(2)(iv)",), "PCI DSS v4.0": ("3.5.1",), "SOC 2": ("CC6.1",), "GDPR": ("Art. 32(1)(a)",)},
        _encryption_at_rest,
    ),
    Control(
        "encryption-in-transit", "Encryption in transit",
        "Databases refuse plaintext connections, caches require TLS, listeners use TLS 1.2+.",
        {"HIPAA": ("164.312(e)(1)", "164.312(e)(2)(ii)"), "PCI DSS v4.0": ("4.2.1",), "SOC 2": ("CC6.7",), "GDPR": ("Art. 32(1)(a)",)},
        _encryption_in_transit,
    ),
    Control(
        "backups-and-retention", "Backups and retention",
        f"Databases keep automated backups at least {PROD_MIN_BACKUP_RETENTION_DAYS} days and are snapshotted on "
        "delete and replace; other stateful resources are retained.",
        {"HIPAA": ("164.308(a)(7)(ii)(A)", "164.310(d)(2)(iv)"), "PCI DSS v4.0": ("12.10.1",), "SOC 2": ("A1.2",), "GDPR": ("Art. 32(1)(c)",)},
        _backups,
    ),
    Control(
        "multi-az", "Multi-AZ",
        "Databases, caches, egress and the service survive the loss of one availability zone.",
        {"HIPAA": ("164.308(a)(7)(ii)(B)", "164.308(a)(7)(ii)(C)"), "PCI DSS v4.0": ("12.10.1",), "SOC 2": ("A1.2",), "GDPR": ("Art. 32(1)(b)",)},
        _multi_az,
    ),
    Control(
        "logging-and-retention", "Logging and retention",
        f"Logs are encrypted and kept; audit logs (flow logs, trails) at least {PROD_MIN_AUDIT_LOG_RETENTION_DAYS} days "
        "and retained on delete; alarms notify someone.",
        {"HIPAA": ("164.312(b)", "164.308(a)(1)(ii)(D)"), "PCI DSS v4.0": ("10.2.1", "10.5.1"), "SOC 2": ("CC7.2",), "GDPR": ("Art. 32(1)(d)", "Art. 33")},
        _logging,
    ),
    Control(
        "least-privilege", "Least privilege",
        "Roles trust only service principals and allow only the actions and resources they need; "
        "people and services authenticate to data stores with IAM, not passwords.",
        {"HIPAA": ("164.312(a)(1)", "164.308(a)(4)(ii)(B)", "164.312(d)"), "PCI DSS v4.0": ("7.2.1", "7.2.2", "8.6.3"), "SOC 2": ("CC6.1", "CC6.3"), "GDPR": ("Art. 25(2)", "Art. 32(4)")},
        _least_privilege,
    ),
    Control(
        "network-isolation", "Network isolation",
        "Data stores sit in isolated subnets behind security groups that admit only the service; nothing is public.",
        {"HIPAA": ("164.312(a)(1)", "164.312(e)(1)"), "PCI DSS v4.0": ("1.3.1", "1.3.2", "1.4.4"), "SOC 2": ("CC6.6",), "GDPR": ("Art. 32(1)(b)",)},
        _network_isolation,
    ),
    Control(
        "data-residency", "Data residency",
        "Personal data stays in the EU unless a transfer has a legal basis.",
        {"HIPAA": (), "PCI DSS v4.0": (), "SOC 2": ("C1.1",), "GDPR": ("Art. 44", "Art. 45", "Art. 46")},
        _data_residency,
    ),
)


# -- the report --------------------------------------------------------------


def compliance_report(text: str, filename: str) -> dict[str, Any]:
    """The report of one rendered template, as plain data (what the JSON file holds)."""
    template = shared_template(text)
    own = stack_metadata(template)
    controls = []
    for control in CONTROLS:
        evidence = list(control.collect(template))
        status = "not applicable" if not evidence else "met" if all(e.meets for e in evidence) else "gaps"
        controls.append(
            {
                "id": control.id,
                "title": control.title,
                "criterion": control.criterion,
                "status": status,
                "references": {name: list(control.references.get(name, ())) for name in FRAMEWORKS},
                "resources": [asdict(e) for e in evidence],
            }
        )
    return {
        "stack": own.get("Blueprint"),
        "file": filename,
        "environment": own.get("Environment"),
        "tier": own.get("Tier"),
        "region": own.get("Region"),
        "template_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "security_overrides": [{"rule": r, "reason": why} for r, why in security_overrides(template).items()],
        "lifecycle_exceptions": [
            {"resource": e.get("Resource"), "phase": e.get("Phase"), "reason": e.get("Reason")}
            for e in own.get("LifecycleExceptions") or []
        ],
        "suppressions": [
            {"resource": s.resource, "tool": s.tool, "check": s.check, "reason": s.reason}
            for s in suppressions_in(template, filename)
        ],
        "controls": controls,
    }


def to_markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"# Compliance report: {report['stack']} ({report['environment']})",
        "",
        f"- Security overrides: {_overrides_line(report)}",
        f"- Suppressions: {_suppressions_line(report)}",
        f"- Lifecycle exceptions (outcomes needing manual cleanup, accepted): {_lifecycle_line(report)}",
        f"- Template: `{report['file']}` (sha256 `{report['template_sha256']}`)",
        f"- Tier: {report['tier']}; region: {report['region']}",
        "",
        "Derived from the rendered template by `python build.py`; regenerate it, never edit it. Every resource is "
        "judged against the production floors, so dev and staging show where they are weaker than prod.",
        "",
        "| control | status | resources | " + " | ".join(FRAMEWORKS) + " |",
        "|---|---|---|" + "---|" * len(FRAMEWORKS),
    ]
    for control in report["controls"]:
        refs = " | ".join(", ".join(control["references"][name]) or "-" for name in FRAMEWORKS)
        lines.append(f"| {control['title']} | {control['status']} | {len(control['resources'])} | {refs} |")
    for control in report["controls"]:
        lines += ["", f"## {control['title']}", "", control["criterion"], ""]
        lines += [f"- {name}: {', '.join(control['references'][name]) or 'no specific requirement'}" for name in FRAMEWORKS]
        lines += ["", "| resource | type | evidence | meets |", "|---|---|---|---|"]
        for item in control["resources"]:
            evidence = str(item["evidence"]).replace("|", "\\|")
            lines.append(f"| {item['resource']} | {item['type']} | {evidence} | {'yes' if item['meets'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def _overrides_line(report: Mapping[str, Any]) -> str:
    overrides = report["security_overrides"]
    if not overrides:
        return "none"
    return "; ".join(f"**{o['rule']}** ({o['reason']})" for o in overrides)


def _lifecycle_line(report: Mapping[str, Any]) -> str:
    accepted = report.get("lifecycle_exceptions") or []
    if not accepted:
        return "none"
    return "; ".join(f"**{e['resource']}** on {e['phase']} ({e['reason']})" for e in accepted)


def _suppressions_line(report: Mapping[str, Any]) -> str:
    found = report["suppressions"]
    if not found:
        return "none"
    return "; ".join(f"{s['tool']} {s['check']} on {s['resource']} ({s['reason']})" for s in found)


def compliance_reports(
    config: "EnvironmentConfig", rendered: Sequence["RenderedStack"], files: Mapping[str, str]
) -> dict[str, str]:
    """The artifacts producer: ``compliance/<stack>.md`` and ``.json`` for every rendered template."""
    produced = {}
    for stack in rendered:
        report = compliance_report(stack.text, stack.filename)
        produced[f"{REPORT_DIR}/{stack.blueprint}.json"] = json.dumps(report, indent=2, sort_keys=True) + "\n"
        produced[f"{REPORT_DIR}/{stack.blueprint}.md"] = to_markdown(report)
    return produced
