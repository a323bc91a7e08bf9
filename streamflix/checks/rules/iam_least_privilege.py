"""IAM least privilege, with action access levels from Policy Sentry's IAM database.

Policy Sentry (a dependency of checkov's IAM checks) ships AWS's Service
Authorization Reference as data: every action's access level (List, Read,
Write, Permissions management, Tagging) and the resource types it can be
scoped to. Actions whose only resource is ``*`` (for example
``ecr:GetAuthorizationToken``, ``xray:PutTraceSegments``) cannot be scoped,
so ``*`` is the least privilege there.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from typing import Any, Iterator

from streamflix.checks.rules.base import Rule, RuleContext, as_list, literal_text, properties, resources

READ_LEVELS = frozenset({"List", "Read"})
#: AWS managed policies that grant administration or a whole service.
BROAD_MANAGED_POLICY = re.compile(r":policy/(AdministratorAccess|PowerUserAccess|IAMFullAccess|[A-Za-z0-9]*FullAccess)$")
#: Resource policies: statements whose Principal is judged.
RESOURCE_POLICIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
}
_ACCOUNT_ROOT = re.compile(r"^arn:(\$\{AWS::Partition\}|aws[a-z-]*):iam::(\$\{AWS::AccountId\}|\d{12}):root$")


class IamLeastPrivilege(Rule):
    id = "SF2003"
    title = "IAM grants least privilege"
    description = (
        "Identity policies (roles, users, groups, policies) allow no '*' or 'service:*' action, no "
        "NotAction/NotResource, and no '*' resource on an action above Read/List (access levels from "
        "Policy Sentry's IAM database; actions that only accept '*' are exempt); no broad AWS managed "
        "policy (AdministratorAccess, PowerUserAccess, *FullAccess). Every role's trust policy names "
        "service principals only. Resource policies (key, bucket, topic, queue, secret policies): "
        "Resource '*' means the resource itself and is not judged; 'kms:*'/'*' is allowed only in "
        "AWS's standard statement that delegates a key to its own account root; a '*' principal "
        "needs a Condition."
    )

    def violations(self, template: dict[str, Any], ctx: RuleContext) -> Iterator[tuple[Any, str]]:
        for logical_id, resource in resources(template, "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            props = properties(resource)
            for policy in as_list(props.get("Policies")):
                if isinstance(policy, dict):
                    name = policy.get("PolicyName", "?")
                    yield from _identity_policy(resource, f"{logical_id} policy {name}", policy.get("PolicyDocument"))
            for arn in as_list(props.get("ManagedPolicyArns")):
                text = literal_text(arn) or ""
                if BROAD_MANAGED_POLICY.search(text):
                    yield resource, f"{logical_id} attaches the broad managed policy {text.rsplit('/', 1)[-1]}"
            if resource["Type"] == "AWS::IAM::Role":
                yield from _trust_policy(resource, logical_id, props.get("AssumeRolePolicyDocument"))
        for logical_id, resource in resources(template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield from _identity_policy(resource, logical_id, properties(resource).get("PolicyDocument"))
        for logical_id, resource in resources(template, *RESOURCE_POLICIES):
            document = properties(resource).get(RESOURCE_POLICIES[resource["Type"]])
            yield from _resource_policy(resource, logical_id, document)


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def _allows(statement: dict[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def _identity_policy(node: Any, where: str, document: Any) -> Iterator[tuple[Any, str]]:
    for statement in filter(_allows, _statements(document)):
        for key in ("NotAction", "NotResource"):
            if key in statement:
                yield statement, f"{where} allows with {key}, which grants everything not listed"
        actions = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
        resources_ = as_list(statement.get("Resource"))
        if "*" in actions and "*" in resources_:
            yield statement, f"{where} is an inline administrator policy (Action '*' on Resource '*')"
            continue
        for action in actions:
            if action == "*" or action.endswith(":*"):
                yield statement, f"{where} allows every action of {action.split(':')[0] if ':' in action else 'every service'} ({action})"
        if "*" in resources_:
            too_broad = sorted(a for a in actions if a != "*" and not a.endswith(":*") and _needs_scoping(a))
            if too_broad:
                yield statement, (
                    f"{where} allows {', '.join(too_broad)} on Resource '*'; "
                    "actions above Read/List must name their resources"
                )


def _trust_policy(node: Any, logical_id: str, document: Any) -> Iterator[tuple[Any, str]]:
    statements = [s for s in _statements(document) if _allows(s)]
    if not statements:
        yield node, f"{logical_id} has no trust policy statement naming who may assume it"
    for statement in statements:
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        others = sorted(k for k in principal if k != "Service") if isinstance(principal, dict) else ["*"]
        if not services or others:
            yield statement, (
                f"{logical_id} trust policy must name only service principals "
                f"(found {', '.join(others) if others else 'no Service'})"
            )


def _resource_policy(node: Any, logical_id: str, document: Any) -> Iterator[tuple[Any, str]]:
    for statement in filter(_allows, _statements(document)):
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
        if anyone and not statement.get("Condition"):
            yield statement, f"{logical_id} policy allows any principal ('*') without a Condition"
        actions = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
        if any(a == "*" or a.endswith(":*") for a in actions) and not _is_account_root(principal):
            yield statement, (
                f"{logical_id} policy allows {', '.join(a for a in actions if a == '*' or a.endswith(':*'))} "
                "to a principal other than the account root"
            )


def _is_account_root(principal: Any) -> bool:
    """AWS's default key policy statement: the account itself, so IAM policies decide."""
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        return False
    values = as_list(principal["AWS"])
    return len(values) == 1 and bool(_ACCOUNT_ROOT.match(literal_text(values[0]) or ""))


def _needs_scoping(action: str) -> bool:
    """True when the action (or any action a wildcard matches) is above Read/List and can be scoped."""
    levels = action_levels(action)
    if not levels:
        return True  # unknown to the IAM database: treat as the most powerful
    return any(level not in READ_LEVELS and not wildcard_only for level, wildcard_only in levels)


@functools.lru_cache(maxsize=None)
def action_levels(action: str) -> tuple[tuple[str, bool], ...]:
    """(access level, accepts only '*') for the action, or every action its wildcard matches."""
    from policy_sentry.querying.actions import get_action_data, get_actions_for_service
    from policy_sentry.querying.all import get_all_service_prefixes

    service, _, name = action.partition(":")
    if not name or service.lower() not in get_all_service_prefixes():
        return ()
    names = [name]
    if "*" in name or "?" in name:
        names = [
            full.split(":", 1)[1]
            for full in get_actions_for_service(service.lower())
            if fnmatch.fnmatchcase(full.lower(), action.lower())
        ]
    levels = []
    for one in names:
        data = get_action_data(service.lower(), one) or {}
        entries = next(iter(data.values()), []) if isinstance(data, dict) else []
        if entries:
            wildcard_only = all(e.get("resource_arn_format") == "*" for e in entries)
            levels.append((entries[0]["access_level"], wildcard_only))
    return tuple(levels)
