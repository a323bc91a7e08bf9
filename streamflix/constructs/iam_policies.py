"""awacs helpers shared by the constructs: trust policies and least-privilege statements."""

from __future__ import annotations

from typing import Any, Sequence

from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from awacs.sts import AssumeRole
from troposphere import Sub, iam

POLICY_VERSION = "2012-10-17"


def service_trust(service: str) -> PolicyDocument:
    """Trust policy that lets exactly one AWS service principal assume the role,
    and only on behalf of this account (confused-deputy guard)."""
    return PolicyDocument(
        Version=POLICY_VERSION,
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", service),
                Action=[AssumeRole],
                Condition=Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            )
        ],
    )


def allow(actions: Sequence[Action], resources: Sequence[Any], condition: Condition | None = None) -> Statement:
    """One Allow statement; resources are required, so nothing is implicitly '*'."""
    if not resources:
        raise ValueError("an Allow statement needs explicit resources")
    kwargs: dict[str, Any] = {"Effect": Allow, "Action": list(actions), "Resource": list(resources)}
    if condition is not None:
        kwargs["Condition"] = condition
    return Statement(**kwargs)


def inline_policy(name: str, statements: Sequence[Statement]) -> iam.Policy:
    return iam.Policy(PolicyName=name, PolicyDocument=PolicyDocument(Version=POLICY_VERSION, Statement=list(statements)))
