"""The project's own rules, one per file, each guarding one seed guarantee."""

from streamflix.checks.rules.base import Rule, RuleContext
from streamflix.checks.rules.engine_versions import EngineVersionsInCatalogue
from streamflix.checks.rules.format_version import FormatVersionFirst
from streamflix.checks.rules.named_exports import OutputsExportedByName
from streamflix.checks.rules.private_egress import ComputeSubnetsHaveEgress
from streamflix.checks.rules.secret_rotation import CredentialsRotate
from streamflix.checks.rules.stateful_policies import StatefulResourcesKeepData

ALL_RULES: tuple[Rule, ...] = (
    FormatVersionFirst(),
    OutputsExportedByName(),
    ComputeSubnetsHaveEgress(),
    EngineVersionsInCatalogue(),
    CredentialsRotate(),
    StatefulResourcesKeepData(),
)

__all__ = ["ALL_RULES", "Rule", "RuleContext"]
