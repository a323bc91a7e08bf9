"""Blueprint registry: the core finds stacks here, never by importing them by name.

Blueprints register through the ``streamflix.blueprints`` entry-point group,
so a team can ship its own blueprint package; the bundled ones are this
project's own entry points. Importing a blueprint module also registers it,
which is how ``build.py`` runs from a source checkout that is not installed.

A blueprint from another package brings its own config section: it names the
top-level key (``config_field``) and the StackConfig model that validates it
(``config_model``). EnvironmentConfig accepts exactly the registered sections
(see ``streamflix.config.models.set_extension_sections``) and still refuses any
other key, naming the allowed ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Callable, Mapping

from streamflix.config.models import EnvironmentConfig, StackConfig, set_extension_sections
from streamflix.template import StackTemplate

ENTRY_POINT_GROUP = "streamflix.blueprints"


@dataclass(frozen=True)
class Blueprint:
    """A stack family member: which config section it reads and how it builds.

    ``config_field`` is the top-level config key holding this blueprint's
    variables (like a stacker blueprint's declared VARIABLES); the model of that
    section documents every variable it takes. The built-in blueprints' sections
    are EnvironmentConfig fields; a blueprint from another package sets
    ``config_model`` to its section's StackConfig subclass, and the config then
    accepts that key.
    """

    name: str
    config_field: str
    description: str
    build: Callable[[EnvironmentConfig, StackConfig], StackTemplate]
    region_of: Callable[[StackConfig], str] = lambda section: section.region  # type: ignore[attr-defined]
    config_model: type[StackConfig] | None = None

    def section(self, config: EnvironmentConfig) -> StackConfig | None:
        return config.section(self.config_field)

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
    builtin = blueprint.config_field in EnvironmentConfig.model_fields
    if blueprint.config_model is None and not builtin:
        raise ValueError(f"blueprint {blueprint.name!r}: {blueprint.config_field!r} is not an EnvironmentConfig field; "
                         "declare the section's model as config_model")
    if blueprint.config_model is not None:
        if builtin:
            raise ValueError(f"blueprint {blueprint.name!r}: {blueprint.config_field!r} is a built-in config field; "
                             "choose another section name")
        if not (isinstance(blueprint.config_model, type) and issubclass(blueprint.config_model, StackConfig)):
            raise ValueError(f"blueprint {blueprint.name!r}: config_model must be a StackConfig subclass")
        for other in _REGISTRY.values():
            if other.config_field == blueprint.config_field and other.config_model is not blueprint.config_model \
                    and other.name != blueprint.name:
                raise ValueError(f"blueprints {other.name!r} and {blueprint.name!r} declare different models "
                                 f"for the section {blueprint.config_field!r}")
    _REGISTRY[blueprint.name] = blueprint
    return blueprint


@lru_cache(maxsize=1)
def _load_entry_points() -> None:
    """Import every installed blueprint once per process (reading entry points costs ~8 ms,
    and every config validation asks for the registered sections)."""
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        register(entry_point.load())


def discover() -> dict[str, Blueprint]:
    """All registered blueprints, by name, in a stable order."""
    _load_entry_points()
    return dict(sorted(_REGISTRY.items()))


def blueprints_for(config: EnvironmentConfig) -> list[Blueprint]:
    """The blueprints whose config section is present in this environment."""
    return [bp for bp in discover().values() if bp.section(config) is not None]


def registered_sections() -> Mapping[str, type[StackConfig]]:
    """Config sections declared by registered blueprints from other packages: key -> model."""
    return {bp.config_field: bp.config_model for bp in discover().values() if bp.config_model is not None}


set_extension_sections(registered_sections)


def config_json_schema() -> dict:
    """EnvironmentConfig's JSON Schema with every registered blueprint's section, other keys refused."""
    schema = EnvironmentConfig.model_json_schema()
    definitions = schema.setdefault("$defs", {})
    for key, model in sorted(registered_sections().items()):
        section = model.model_json_schema(ref_template="#/$defs/{model}")
        definitions.update(section.pop("$defs", {}))
        definitions[model.__name__] = section
        schema["properties"][key] = {
            "anyOf": [{"$ref": f"#/$defs/{model.__name__}"}, {"type": "null"}],
            "default": None,
            "description": (model.__doc__ or key).strip().splitlines()[0],
        }
    schema["additionalProperties"] = False
    return schema
