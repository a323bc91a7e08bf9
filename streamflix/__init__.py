"""StreamFlix blueprints: typed config in, deployable lint-clean CloudFormation out.

    import streamflix
    config = streamflix.load_config(env="prod")              # or load_config("my.yaml")
    template = streamflix.build_template(config, "ha-database").template   # troposphere
    stack = streamflix.render_stack(config, "ha-database")   # rendered YAML, in memory
    findings = streamflix.validate(stack.text, region=stack.region, filename=stack.filename)
    report = streamflix.build(config, out_dir="out")         # what `python build.py` does
"""

from streamflix.checks import Finding, validate
from streamflix.config import EnvironmentConfig, load_config, parse_config
from streamflix.errors import ConfigError, StreamflixError
from streamflix.pipeline import build, build_template, render_environment, render_stack
from streamflix.render import load_template, render

__version__ = "0.1.0"

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
