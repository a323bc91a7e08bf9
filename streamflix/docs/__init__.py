"""What an operator needs beside each template, generated from the rendered template and the config.

Each module is an artifact producer (``streamflix.artifacts.PRODUCERS``) writing
under ``out/<env>/``:

- ``parameters.py``: ``parameters/<stack>.json`` and ``parameters/<stack>.overrides.json``;
- ``costs.py``: ``costs/<stack>.json``, a monthly estimate against ``catalog/prices.json``;
- ``diagram.py``: ``diagrams/<stack>.mmd``, the architecture as Mermaid, from the dependency graph;
- ``runbook.py``: ``runbooks/<stack>.md``: deploy, monitor, restore, fail over, troubleshoot.

They read templates only through ``streamflix.docs.stack`` (the CloudFormation-aware
loader), so every document describes exactly what was rendered.
"""

from streamflix.docs.costs import estimate_stack, produce_costs
from streamflix.docs.diagram import build_diagram, produce_diagrams
from streamflix.docs.parameters import produce_parameter_files
from streamflix.docs.runbook import produce_runbooks
from streamflix.docs.stack import EnvironmentFacts, StackFacts

__all__ = [
    "EnvironmentFacts",
    "StackFacts",
    "build_diagram",
    "estimate_stack",
    "produce_costs",
    "produce_diagrams",
    "produce_parameter_files",
    "produce_runbooks",
]
