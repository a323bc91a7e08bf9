"""Customer-managed KMS key for a stack's data, with yearly rotation."""

from __future__ import annotations

from dataclasses import dataclass

from awacs import kms as kms_actions
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Sub, kms

from streamflix.constructs.iam_policies import allow
from streamflix.template import StackTemplate, protect

DATA_KEY = "DataKey"
DATA_KEY_ALIAS = "DataKeyAlias"

#: Services that call KMS with their own principal rather than through a caller's grant.
_LOGS_PRINCIPAL = Sub("logs.${AWS::Region}.amazonaws.com")


@dataclass(frozen=True)
class Key:
    """Handle on the stack key: ``ref`` is the key id, ``arn`` its ARN."""

    ref: Ref
    arn: GetAtt

    def grant_use(self) -> Statement:
        """Encrypt and decrypt with the key (needed to read and write its data stores)."""
        return allow([kms_actions.Decrypt, kms_actions.GenerateDataKey], [self.arn])


def add_data_key(t: StackTemplate, *, alias: str, purpose: str) -> Key:
    """A rotating customer-managed key that encrypts every data store of the stack.

    The key policy keeps the account in control (so IAM policies can grant use)
    and lets CloudWatch Logs and CloudWatch alarms (publishing to the encrypted
    topic) use it, scoped to this account.
    """
    key = t.add_resource(
        kms.Key(
            DATA_KEY,
            Description=f"StreamFlix {purpose}: encrypts databases, caches, streams, logs and secrets",
            EnableKeyRotation=True,
            RotationPeriodInDays=365,
            PendingWindowInDays=30,
            KeyPolicy=_data_key_policy(),
        )
    )
    protect(key, "Retain")
    t.add_resource(kms.Alias(DATA_KEY_ALIAS, AliasName=Sub(f"alias/{alias}"), TargetKeyId=Ref(key)))
    t.add_output("DataKeyArn", GetAtt(key, "Arn"), "ARN of the stack's customer-managed data key")
    return Key(ref=Ref(key), arn=GetAtt(key, "Arn"))


def _data_key_policy() -> PolicyDocument:
    """The account administers the key through IAM; CloudWatch Logs (for this account's log groups) and alarms use it."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="AccountAdministersKeyThroughIam",
                Effect=Allow,
                Principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
                Action=[kms_actions.Action("*")],
                Resource=["*"],
            ),
            Statement(
                Sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                Effect=Allow,
                Principal=Principal("Service", _LOGS_PRINCIPAL),
                Action=[
                    kms_actions.Encrypt,
                    kms_actions.Decrypt,
                    kms_actions.ReEncryptFrom,
                    kms_actions.ReEncryptTo,
                    kms_actions.GenerateDataKey,
                    kms_actions.GenerateDataKeyWithoutPlaintext,
                    kms_actions.DescribeKey,
                ],
                Resource=["*"],
                Condition=Condition(
                    ArnLike(
                        "kms:EncryptionContext:aws:logs:arn",
                        Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"),
                    )
                ),
            ),
            Statement(
                Sid="CloudWatchAlarmsPublishToEncryptedTopic",
                Effect=Allow,
                Principal=Principal("Service", "cloudwatch.amazonaws.com"),
                Action=[kms_actions.Decrypt, kms_actions.GenerateDataKey],
                Resource=["*"],
            ),
        ],
    )
