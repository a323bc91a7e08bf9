"""Checks of a deployed DR pair, driven by each stack's flat outputs (like ``streamflix.verify``).

``python build.py outputs --env E --stack dr-primary --file cfn-outputs/dr-primary.json`` and
the same for ``dr-recovery`` write the files; tests/integration/test_dr_pair_deployed.py calls
these checks with real clients, in each stack's region, and the unit tests call them with
botocore Stubber responses of a healthy and a broken pair. Each returns a list of problems.

``promoted`` says which side of a failover is being checked: before it, the recovery
database is a read replica of the primary; after the drill's promotion it is a standalone
writer, and the file system replica is writable.
"""

from __future__ import annotations

from typing import Any, Mapping

from streamflix.outputs import DEFAULT_OUTPUTS_FILE

#: Where the runbooks and the integration tests keep each DR stack's flat outputs.
DR_OUTPUT_FILES = {
    "dr-primary": DEFAULT_OUTPUTS_FILE.parent / "dr-primary.json",
    "dr-recovery": DEFAULT_OUTPUTS_FILE.parent / "dr-recovery.json",
}


def _available_instance(rds: Any, identifier: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The DB instance and, if it is missing or not available, the problem found."""
    instances = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    if not instances:
        return None, [f"DB instance {identifier} not found"]
    instance = instances[0]
    if instance.get("DBInstanceStatus") != "available":
        return instance, [f"DB instance {identifier} is {instance.get('DBInstanceStatus')}, not available"]
    return instance, []


def check_primary_database(rds: Any, outputs: Mapping[str, str]) -> list[str]:
    identifier = outputs["DatabaseInstanceIdentifier"]
    instance, problems = _available_instance(rds, identifier)
    if instance is None:
        return problems
    for key, what in (("MultiAZ", "Multi-AZ"), ("StorageEncrypted", "encrypted"),
                      ("IAMDatabaseAuthenticationEnabled", "IAM database authentication")):
        if not instance.get(key):
            problems.append(f"DB instance {identifier} is not {what}" if key != "IAMDatabaseAuthenticationEnabled"
                            else f"DB instance {identifier} has no {what}")
    if not instance.get("ReadReplicaDBInstanceIdentifiers"):
        problems.append(f"DB instance {identifier} has no cross-region read replica")
    return problems


def check_recovery_database(rds: Any, outputs: Mapping[str, str], *, promoted: bool = False) -> list[str]:
    identifier = outputs["ReplicaInstanceIdentifier"]
    instance, problems = _available_instance(rds, identifier)
    if instance is None:
        return problems
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    if promoted and source:
        problems.append(f"DB instance {identifier} still replicates from {source}: it was not promoted")
    if not promoted and not source:
        problems.append(f"DB instance {identifier} is not a read replica: the pair is not protected")
    if outputs.get("ReplicaEndpoint") and (instance.get("Endpoint") or {}).get("Address") != outputs["ReplicaEndpoint"]:
        problems.append("the ReplicaEndpoint output does not match the instance's endpoint")
    return problems


def check_file_replication(efs: Any, primary_outputs: Mapping[str, str], *, promoted: bool = False) -> list[str]:
    """The primary's EFS replication: ENABLED before a failover, gone after it (the replica is writable)."""
    source = primary_outputs["FileSystemId"]
    replications = efs.describe_replication_configurations(FileSystemId=source).get("Replications", [])
    destinations = [d for r in replications for d in r.get("Destinations", [])]
    if promoted:
        return [f"{source} still replicates: the recovery file system is read-only"] if destinations else []
    if not destinations:
        return [f"{source} has no replication: files are not copied to the recovery region"]
    return [
        f"{source} replication to {d.get('Region')} is {d.get('Status')}, not ENABLED"
        for d in destinations
        if d.get("Status") != "ENABLED"
    ]


def check_service(ecs: Any, outputs: Mapping[str, str], *, minimum: int = 1) -> list[str]:
    cluster, service_name = outputs["EcsClusterName"], outputs["EcsServiceName"]
    services = ecs.describe_services(cluster=cluster, services=[service_name])["services"]
    if not services:
        return [f"ECS service {service_name} not found in {cluster}"]
    service = services[0]
    problems = []
    if service.get("runningCount", 0) < minimum:
        problems.append(f"ECS service {service_name} runs {service.get('runningCount', 0)} task(s), expected >= {minimum}")
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY" and deployment.get("rolloutState") == "FAILED":
            problems.append(f"ECS service {service_name}: the last deployment failed ({deployment.get('rolloutStateReason')})")
    return problems


def check_targets(elbv2: Any, outputs: Mapping[str, str]) -> list[str]:
    balancer = outputs["LoadBalancerArn"]
    groups = elbv2.describe_target_groups(LoadBalancerArn=balancer)["TargetGroups"]
    if not groups:
        return [f"load balancer {balancer} has no target group"]
    problems = []
    for group in groups:
        health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
        if not any(t.get("TargetHealth", {}).get("State") == "healthy" for t in health):
            problems.append(f"target group {group.get('TargetGroupName')} has no healthy target")
    return problems


def check_failover_health_check(route53: Any, recovery_outputs: Mapping[str, str], *, promoted: bool = False) -> list[str]:
    """With DNS failover: the primary's health check passes before a failover and fails after it."""
    check_id = recovery_outputs.get("PrimaryHealthCheckId")
    if not check_id:
        return []
    observations = route53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    healthy = sum(1 for o in observations if o.get("StatusReport", {}).get("Status", "").startswith("Success"))
    majority = healthy * 2 > len(observations)
    name = recovery_outputs.get("FailoverRecordName", "the failover record")
    if promoted and majority:
        return [f"the primary still looks healthy to Route 53 ({healthy}/{len(observations)}): {name} still answers PRIMARY"]
    if not promoted and not majority:
        return [f"the primary fails its Route 53 health check ({healthy}/{len(observations)}): {name} answers SECONDARY"]
    return []
