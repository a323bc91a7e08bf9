"""Production security floors: the numbers the config models refuse to go below
and the rules re-check on the rendered template, kept in one place so the two
can never disagree.

A floor can only be lowered in prod by an explicit ``security_overrides`` entry
naming one of ``OVERRIDABLE`` with a reason; the override is rendered into the
template's ``Metadata.StreamFlix.SecurityOverrides``, so the rules and the
compliance report see it in the template itself.
"""

from __future__ import annotations

from typing import Literal

#: Days of automated database backups (point-in-time recovery) prod keeps at least.
PROD_MIN_BACKUP_RETENTION_DAYS = 7
#: Days prod keeps audit logs (VPC flow logs, trails): PCI DSS 10.5.1 asks for 12 months.
PROD_MIN_AUDIT_LOG_RETENTION_DAYS = 365

OverridableFloor = Literal["deletion-protection", "backup-retention", "audit-log-retention", "plaintext-listener"]

#: What each overridable floor protects, for messages and the compliance report.
OVERRIDABLE: dict[str, str] = {
    "deletion-protection": "deletion protection on databases and load balancers",
    "backup-retention": f"automated database backups kept at least {PROD_MIN_BACKUP_RETENTION_DAYS} days",
    "audit-log-retention": f"audit logs kept at least {PROD_MIN_AUDIT_LOG_RETENTION_DAYS} days",
    "plaintext-listener": "HTTPS (an ACM certificate) on internet-facing load balancers",
}
