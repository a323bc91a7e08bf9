"""Everything one runbook is written from, computed once per stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import networkx

from streamflix.docs.costs import CostEstimate, estimate_stack
from streamflix.docs.diagram import Diagram, build_diagram
from streamflix.docs.graph import dependency_graph
from streamflix.docs.provisioning import Estimate, estimate
from streamflix.docs.stack import EnvironmentFacts, StackFacts


@dataclass
class RunbookContext:
    env: EnvironmentFacts
    blueprint: str
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def stack(self) -> StackFacts:
        return self.env[self.blueprint]

    @property
    def environment(self) -> str:
        return self.env.config.name

    @cached_property
    def graph(self) -> networkx.DiGraph:
        return dependency_graph(self.stack)

    @cached_property
    def diagram(self) -> Diagram:
        return build_diagram(self.stack, self.graph)

    @cached_property
    def provisioning(self) -> Estimate:
        return estimate(self.stack, self.graph)

    @cached_property
    def costs(self) -> CostEstimate:
        return estimate_stack(self.stack, env=self.env)

    def build_command(self) -> str:
        """How to name this environment to ``python build.py``."""
        from streamflix.config import PRESETS

        if self.environment in PRESETS:
            return f"--env {self.environment}"
        return "--config <your config file>"
