"""StreamFlix blueprints: typed config in, deployable lint-clean CloudFormation out.

    import streamflix
    config = streamflix.load_config(env="prod")              # or load_config("my.yaml")
    template = streamflix.build_template(config, "ha-database").template   # troposphere
    stack = streamflix.render_stack(config, "ha-database")   # rendered YAML, in memory
    findings = streamflix.validate(stack.text, region=stack.region, filename=stack.filename)
    report = streamflix.build(config, out_dir="out")         # what `python build.py` does
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from streamflix.errors import ConfigError, StreamflixError

# Eager: the submodule ``streamflix.render`` shares its name with the function, and
# an import of the submodule would otherwise rebind ``streamflix.render`` to it.
from streamflix.render import load_template, render

if TYPE_CHECKING:
    from streamflix.checks import Finding, validate
    from streamflix.config import EnvironmentConfig, load_config, parse_config
    from streamflix.pipeline import build, build_template, render_environment, render_stack

__version__ = "0.1.0"

#: Imported on first use (PEP 562), so ``import streamflix`` (or ``streamflix.testing``)
#: does not load the whole pipeline: pydantic models, troposphere, the documents.
_LAZY = {
    "Finding": "streamflix.checks",
    "validate": "streamflix.checks",
    "EnvironmentConfig": "streamflix.config",
    "load_config": "streamflix.config",
    "parse_config": "streamflix.config",
    "build": "streamflix.pipeline",
    "build_template": "streamflix.pipeline",
    "render_environment": "streamflix.pipeline",
    "render_stack": "streamflix.pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'streamflix' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "ConfigError",
    "EnvironmentConfig",
    "Finding",
    "StreamflixError",
    "build",
    "build_template",
    "load_config",
    "load_template",
    "parse_config",
    "render",
    "render_environment",
    "render_stack",
    "validate",
]
