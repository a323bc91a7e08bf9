"""Checks of a deployed HA database stack, driven by its flat outputs.

Each check asks the AWS APIs about what the stack's outputs name and returns
a list of problems (empty when healthy). The integration tests call these with
real clients; the unit tests call them with botocore Stubber responses for a
healthy and a broken stack, so the checks are known to fail on a wrong stack.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

#: Interface endpoints that stand in for a NAT route, per SF1003.
FARGATE_ENDPOINT_SUFFIXES = (".ecr.api", ".ecr.dkr", ".logs")

ClientFactory = Callable[[str], Any]


def check_network(ec2: Any, outputs: Mapping[str, str]) -> list[str]:
    problems = []
    vpc_id = outputs["VpcId"]
    vpcs = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    if not vpcs or vpcs[0].get("State") != "available":
        return [f"VPC {vpc_id} is not available"]
    app_subnets = outputs["AppSubnetIds"].split(",")
    subnets = ec2.describe_subnets(SubnetIds=app_subnets)["Subnets"]
    if {s["VpcId"] for s in subnets} != {vpc_id}:
        problems.append("app subnets are not all in the stack's VPC")
    if len({s["AvailabilityZone"] for s in subnets}) < 2:
        problems.append("app subnets do not span two availability zones")
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    has_endpoints = all(
        any(e["ServiceName"].endswith(suffix) and e.get("State", "").lower() == "available" for e in endpoints)
        for suffix in FARGATE_ENDPOINT_SUFFIXES
    )
    for subnet_id in app_subnets:
        if not (_default_route_via_nat(ec2, subnet_id) or has_endpoints):
            problems.append(f"app subnet {subnet_id} has no route out (no NAT default route, no Fargate endpoints)")
    for subnet_id in outputs["DataSubnetIds"].split(","):
        if _routes_to_internet(ec2, subnet_id):
            problems.append(f"data subnet {subnet_id} has a default route; it must stay isolated")
    return problems


def _route_tables(ec2: Any, subnet_id: str) -> list[dict[str, Any]]:
    return ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"]


def _default_route_via_nat(ec2: Any, subnet_id: str) -> bool:
    return any(
        route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("NatGatewayId") and route.get("State") == "active"
        for table in _route_tables(ec2, subnet_id)
        for route in table.get("Routes", [])
    )


def _routes_to_internet(ec2: Any, subnet_id: str) -> bool:
    return any(
        route.get("DestinationCidrBlock") == "0.0.0.0/0"
        for table in _route_tables(ec2, subnet_id)
        for route in table.get("Routes", [])
    )


def check_database(rds: Any, outputs: Mapping[str, str]) -> list[str]:
    cluster_id = outputs["DatabaseClusterName"]
    clusters = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"]
    if not clusters:
        return [f"Aurora cluster {cluster_id} not found"]
    cluster = clusters[0]
    problems = []
    if cluster.get("Status") != "available":
        problems.append(f"Aurora cluster {cluster_id} is {cluster.get('Status')}, not available")
    if not cluster.get("StorageEncrypted"):
        problems.append(f"Aurora cluster {cluster_id} storage is not encrypted")
    members = cluster.get("DBClusterMembers", [])
    if sum(1 for m in members if m.get("IsClusterWriter")) != 1:
        problems.append(f"Aurora cluster {cluster_id} does not have exactly one writer")
    if not cluster.get("MultiAZ") or len(members) < 2:
        problems.append(f"Aurora cluster {cluster_id} is not Multi-AZ (needs a reader in another AZ)")
    if cluster.get("Endpoint") != outputs.get("DatabaseWriterEndpoint"):
        problems.append("the DatabaseWriterEndpoint output does not match the cluster's endpoint")
    return problems


def check_cache(elasticache: Any, outputs: Mapping[str, str]) -> list[str]:
    group_id = outputs["CacheReplicationGroupId"]
    groups = elasticache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"]
    if not groups:
        return [f"replication group {group_id} not found"]
    group = groups[0]
    expectations = {
        "Status": "available",
        "AutomaticFailover": "enabled",
        "MultiAZ": "enabled",
        "TransitEncryptionEnabled": True,
        "AtRestEncryptionEnabled": True,
    }
    return [
        f"replication group {group_id}: {key} is {group.get(key)!r}, expected {wanted!r}"
        for key, wanted in expectations.items()
        if group.get(key) != wanted
    ]


def check_exports(cloudformation: Any, stack_name: str, outputs: Mapping[str, str]) -> list[str]:
    exported = {}
    for page in cloudformation.get_paginator("list_exports").paginate():
        exported.update({e["Name"]: e["Value"] for e in page.get("Exports", [])})
    return [
        f"output {key} is not exported as {stack_name}-{key}"
        for key, value in sorted(outputs.items())
        if exported.get(f"{stack_name}-{key}") != value
    ]


def check_alarms(cloudwatch: Any, outputs: Mapping[str, str], minimum: int) -> list[str]:
    topic = outputs["AlarmTopicArn"]
    alarms = [
        alarm
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
        for alarm in page.get("MetricAlarms", [])
        if topic in alarm.get("AlarmActions", [])
    ]
    if len(alarms) < minimum:
        return [f"{len(alarms)} alarms notify {topic}; expected at least {minimum}"]
    return []


def verify_ha_database(client: ClientFactory, stack_name: str, outputs: Mapping[str, str], *, min_alarms: int) -> list[str]:
    """Every check of a deployed HA database stack; ``client(service)`` gives a boto3 client."""
    return [
        *check_network(client("ec2"), outputs),
        *check_database(client("rds"), outputs),
        *check_cache(client("elasticache"), outputs),
        *check_exports(client("cloudformation"), stack_name, outputs),
        *check_alarms(client("cloudwatch"), outputs, min_alarms),
    ]
