"""The project's own rules, one per file: SF1xxx guard the seed guarantees, SF2xxx security and data
safety, SF3xxx the deploy model (what CloudFormation and AWS do with an environment's stacks together)."""

from streamflix.checks.rules.base import EnvironmentRule, Rule, RuleContext, StackView
from streamflix.checks.rules.container_writable_paths import ContainersCanWriteTheirPaths
from streamflix.checks.rules.egress_dependencies import ServicesDependOnEgress
from streamflix.checks.rules.encryption_at_rest import EncryptionAtRestWithRotatingKeys
from streamflix.checks.rules.encryption_in_transit import EncryptionInTransit
from streamflix.checks.rules.engine_versions import EngineVersionsInCatalogue
from streamflix.checks.rules.explained_suppressions import SuppressionsAreExplained
from streamflix.checks.rules.format_version import FormatVersionFirst
from streamflix.checks.rules.gateway_attachment_dependencies import GatewayAttachmentDependencies
from streamflix.checks.rules.iam_least_privilege import IamLeastPrivilege
from streamflix.checks.rules.ignored_deletion_policy import DeletionPolicyIsHonoured
from streamflix.checks.rules.named_exports import OutputsExportedByName
from streamflix.checks.rules.network_exposure import NetworkExposure
from streamflix.checks.rules.no_credentials import NoCredentialsInTemplates
from streamflix.checks.rules.private_egress import ComputeSubnetsHaveEgress
from streamflix.checks.rules.pinned_minor_versions import PinnedMinorVersionsStayPinned
from streamflix.checks.rules.production_protection import ProductionDataProtection
from streamflix.checks.rules.quotas import CloudFormationQuotas
from streamflix.checks.rules.replica_source_credentials import ReplicaSourceOwnsItsPassword
from streamflix.checks.rules.retry_name_collision import RetainedResourcesDoNotBlockRetry
from streamflix.checks.rules.rollback_deletion_protection import DeletionProtectionLetsRollbackFinish
from streamflix.checks.rules.secret_rotation import CredentialsRotate
from streamflix.checks.rules.stateful_policies import StatefulResourcesKeepData

ALL_RULES: tuple[Rule, ...] = (
    FormatVersionFirst(),
    OutputsExportedByName(),
    ComputeSubnetsHaveEgress(),
    EngineVersionsInCatalogue(),
    CredentialsRotate(),
    StatefulResourcesKeepData(),
    ContainersCanWriteTheirPaths(),
    ProductionDataProtection(),
    NoCredentialsInTemplates(),
    IamLeastPrivilege(),
    NetworkExposure(),
    EncryptionAtRestWithRotatingKeys(),
    EncryptionInTransit(),
    CloudFormationQuotas(),
    SuppressionsAreExplained(),
)

#: The deploy model's rules: each sees every stack of an environment (run by the
#: ``deploy_model_holds`` gate, streamflix.lifecycle).
ENVIRONMENT_RULES: tuple[EnvironmentRule, ...] = (
    ReplicaSourceOwnsItsPassword(),
    DeletionProtectionLetsRollbackFinish(),
    RetainedResourcesDoNotBlockRetry(),
    GatewayAttachmentDependencies(),
    DeletionPolicyIsHonoured(),
    ServicesDependOnEgress(),
    PinnedMinorVersionsStayPinned(),
)

__all__ = ["ALL_RULES", "ENVIRONMENT_RULES", "EnvironmentRule", "Rule", "RuleContext", "StackView"]
