"""Blueprint registry: the core finds stacks here, never by importing them by name.

Blueprints register through the ``streamflix.blueprints`` entry-point group,
so a team can ship its own blueprint package; when this project runs from a
source checkout that is not installed, the bundled ``blueprints`` package is
imported instead.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Callable

from streamflix.config.models import EnvironmentConfig, StackConfig
from streamflix.template import StackTemplate

ENTRY_POINT_GROUP = "streamflix.blueprints"


@dataclass(frozen=True)
class Blueprint:
    """A stack family member: which config section it reads and how it builds.

    ``config_field`` is the EnvironmentConfig field holding this blueprint's
    variables (like a stacker blueprint's declared VARIABLES); the type of that
    field documents every variable it takes.
    """

    name: str
    config_field: str
    description: str
    build: Callable[[EnvironmentConfig, StackConfig], StackTemplate]
    region_of: Callable[[StackConfig], str] = lambda section: section.region  # type: ignore[attr-defined]

    def section(self, config: EnvironmentConfig) -> StackConfig | None:
        return getattr(config, self.config_field, None)

    def region(self, config: EnvironmentConfig) -> str:
        section = self.section(config)
        if section is None:
            raise KeyError(f"{config.name} has no {self.config_field} section")
        return self.region_of(section)


_REGISTRY: dict[str, Blueprint] = {}


def register(blueprint: Blueprint) -> Blueprint:
    existing = _REGISTRY.get(blueprint.name)
    if existing is not None and existing is not blueprint:
        raise ValueError(f"two blueprints are named {blueprint.name!r}")
    _REGISTRY[blueprint.name] = blueprint
    return blueprint


def discover() -> dict[str, Blueprint]:
    """All registered blueprints, by name, in a stable order."""
    entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    for entry_point in entry_points:
        register(entry_point.load())
    if not entry_points:
        importlib.import_module("blueprints")
    return dict(sorted(_REGISTRY.items()))


def blueprints_for(config: EnvironmentConfig) -> list[Blueprint]:
    """The blueprints whose config section is present in this environment."""
    return [bp for bp in discover().values() if bp.section(config) is not None]
