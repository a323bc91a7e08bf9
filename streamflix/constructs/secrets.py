"""Credentials: service-managed, rotated by AWS, never in the template.

Database master passwords are generated, stored and rotated by RDS in Secrets
Manager (``ManageMasterUserPassword``; RDS rotates every 7 days, within our
30-day ceiling). The cache uses IAM authentication, which has no password at
all. There is deliberately no hand-written rotation function anywhere.
"""

from __future__ import annotations

from typing import Any

from troposphere import rds

from streamflix.constructs.keys import Key

#: How often RDS rotates a managed master secret (AWS's fixed default).
RDS_MANAGED_ROTATION_DAYS = 7


def managed_master_credentials(username: str, key: Key) -> dict[str, Any]:
    """Properties for a DB cluster or instance whose master secret RDS owns and rotates."""
    return {
        "MasterUsername": username,
        "ManageMasterUserPassword": True,
        "MasterUserSecret": rds.MasterUserSecret(KmsKeyId=key.ref),
    }
