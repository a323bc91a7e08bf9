"""What a build writes besides templates, and the gates that judge a whole environment.

Both lists are the pipeline's extension points. A producer receives the config,
the rendered stacks and the files so far (templates, then earlier producers'
output, so a manifest can come last) and returns new files relative to
``out/<env>/``. A gate receives the config, the rendered stacks and the target
folder and returns findings; any finding fails the build like a lint error.
Producers must be deterministic: no timestamps, no absolute paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from streamflix.checks.scan import security_scan
from streamflix.compliance import compliance_reports
from streamflix.lifecycle import deploy_model_holds
from streamflix.docs import produce_costs, produce_diagrams, produce_parameter_files, produce_runbooks
from streamflix.manifest import produce_manifest
from streamflix.wiring import produce_wiring, wired_outputs_exist

if TYPE_CHECKING:
    from streamflix.checks.findings import Finding
    from streamflix.config.models import EnvironmentConfig
    from streamflix.render import RenderedStack

Producer = Callable[["EnvironmentConfig", Sequence["RenderedStack"], Mapping[str, str]], dict[str, str]]
Gate = Callable[["EnvironmentConfig", Sequence["RenderedStack"], Path], list["Finding"]]

#: In order; later producers see earlier producers' files. Wiring and compliance
#: come before the operator documents (the runbook reads both); the manifest
#: hashes every other file, so it stays LAST: add new producers before it.
PRODUCERS: tuple[Producer, ...] = (
    produce_wiring,
    compliance_reports,
    produce_parameter_files,
    produce_costs,
    produce_diagrams,
    produce_runbooks,
    produce_manifest,
)

#: Environment-wide checks run after the per-template rules and cfn-lint. A gate is
#: named by its function's ``__name__`` (``build(skip_gates=...)``, the summary's timings).
ENVIRONMENT_GATES: tuple[Gate, ...] = (wired_outputs_exist, deploy_model_holds, security_scan)

#: The checkov gate's name: ``--no-scan`` skips it for a quick local build; CI never does.
SECURITY_SCAN_GATE = security_scan.__name__
