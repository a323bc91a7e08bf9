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

from streamflix.docs import produce_costs, produce_diagrams, produce_parameter_files, produce_runbooks

if TYPE_CHECKING:
    from streamflix.checks.findings import Finding
    from streamflix.config.models import EnvironmentConfig
    from streamflix.render import RenderedStack

Producer = Callable[["EnvironmentConfig", Sequence["RenderedStack"], Mapping[str, str]], dict[str, str]]
Gate = Callable[["EnvironmentConfig", Sequence["RenderedStack"], Path], list["Finding"]]

#: In order; later producers see earlier producers' files. The operator documents
#: come last: the runbook links the parameter files, costs and diagram, and reads
#: any compliance report or wiring file an earlier producer wrote.
PRODUCERS: tuple[Producer, ...] = (
    produce_parameter_files,
    produce_costs,
    produce_diagrams,
    produce_runbooks,
)

#: Environment-wide checks run after the per-template rules and cfn-lint.
ENVIRONMENT_GATES: tuple[Gate, ...] = ()
