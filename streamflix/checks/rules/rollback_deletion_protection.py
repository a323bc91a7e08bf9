"""SF3002: deletion protection must not be on while a stack is first created.

AWS documentation (AWS::RDS::DBInstance and AWS::RDS::DBCluster, property
``DeletionProtection``): "The database can't be deleted when deletion protection is
enabled." The same holds for a load balancer with the attribute
``deletion_protection.enabled`` and a DynamoDB table with
``DeletionProtectionEnabled``. When a create fails at any later resource,
CloudFormation rolls back by deleting what it created; a protected resource refuses,
and the stack ends in ROLLBACK_FAILED with the resource left behind. Deletion
protection therefore comes from a stack parameter whose default (the value a create
uses) is ``false``, switched on by a follow-up update once the stack is
CREATE_COMPLETE (``Metadata.StreamFlix.FollowUpUpdates`` says so).
"""

from __future__ import annotations

from typing import Any, Iterator

from streamflix.cfn import ref_name
from streamflix.checks.rules.base import EnvironmentRule, StackView, is_true, properties, resources

#: Types whose delete a property can forbid, and that property.
PROTECTION_PROPERTY = {
    "AWS::RDS::DBCluster": "DeletionProtection",
    "AWS::RDS::DBInstance": "DeletionProtection",
    "AWS::DynamoDB::Table": "DeletionProtectionEnabled",
}
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LOAD_BALANCER_ATTRIBUTE = "deletion_protection.enabled"


def value_at_create(template: dict[str, Any], value: Any) -> Any:
    """A property's value when the stack is created: a literal, or a parameter's default."""
    name = ref_name(value)
    parameters = template.get("Parameters") or {}
    if name in parameters:
        return (parameters[name] or {}).get("Default")
    return value



def protections(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str, Any]]:
    """(logical id, resource, what, value) for every deletion-protection setting of a template."""
    for logical_id, resource in resources(template, *PROTECTION_PROPERTY):
        key = PROTECTION_PROPERTY[resource["Type"]]
        props = properties(resource)
        if key in props:
            yield logical_id, resource, key, props[key]
    for logical_id, balancer in resources(template, LOAD_BALANCER):
        for attribute in properties(balancer).get("LoadBalancerAttributes") or []:
            if isinstance(attribute, dict) and attribute.get("Key") == LOAD_BALANCER_ATTRIBUTE:
                yield logical_id, balancer, f"attribute {LOAD_BALANCER_ATTRIBUTE}", attribute.get("Value")


class DeletionProtectionLetsRollbackFinish(EnvironmentRule):
    id = "SF3002"
    title = "Deletion protection is switched on after the create, never during it"
    description = (
        "A resource created with deletion protection on cannot be deleted by a failed create's rollback "
        "(ROLLBACK_FAILED, resource left behind). Take it from a parameter whose default is false and "
        "turn it on with a follow-up update (Metadata.StreamFlix.FollowUpUpdates)."
    )

    def violations(self, stacks: list[StackView]) -> Iterator[tuple[StackView, Any, str]]:
        for stack in stacks:
            for logical_id, resource, what, value in protections(stack.template):
                if is_true(value_at_create(stack.template, value)):
                    yield stack, resource, (
                        f"{logical_id} is created with {what} on: if the create fails, the rollback cannot delete "
                        "it (ROLLBACK_FAILED, manual cleanup before a retry); take it from a parameter that "
                        "defaults to false and switch it on in a follow-up update"
                    )
