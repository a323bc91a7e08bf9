"""SF3003: a resource kept by a failed create's rollback must not block the retry.

AWS documentation (DeletionPolicy attribute, ``RetainExceptOnCreate``):
"RetainExceptOnCreate behaves like Retain for stack operations, except for the stack
operation that initially created the resource. If the stack operation that created
the resource is rolled back, CloudFormation deletes the resource." So ``Retain`` also
applies when a failed create rolls back: the resource stays. If it has a fixed
physical name (a Kinesis stream ``Name``, a ``LogGroupName``, a ``BucketName``, ...),
the retry's create of the same name fails with "already exists" until someone
deletes it by hand. Use ``RetainExceptOnCreate`` (or let CloudFormation name it).
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.checks.rules.base import EnvironmentRule, StackView, properties, resources

#: The property that fixes each type's physical name, unique per account and region.
NAME_PROPERTY = {
    "AWS::Kinesis::Stream": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::IAM::Role": "RoleName",
}


def fixed_name(resource: dict[str, Any]) -> str | None:
    """The property holding the resource's fixed physical name, or None when CloudFormation names it."""
    key = NAME_PROPERTY.get(resource.get("Type", ""))
    return key if key and key in properties(resource) else None


class RetainedResourcesDoNotBlockRetry(EnvironmentRule):
    id = "SF3003"
    title = "What a failed create keeps does not collide with the retry"
    description = (
        "DeletionPolicy: Retain also applies to a failed create's rollback; with a fixed physical name the "
        "retry fails with 'already exists'. Use RetainExceptOnCreate for resources with fixed names."
    )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        for stack in stacks:
            for logical_id, resource in resources(stack.template):
                key = fixed_name(resource)
                if key and resource.get("DeletionPolicy") == "Retain":
                    yield stack, resource, (
                        f"{logical_id} has a fixed {key} and DeletionPolicy: Retain: a failed create keeps it and "
                        "the retry fails with 'already exists'; use DeletionPolicy: RetainExceptOnCreate"
                    )
