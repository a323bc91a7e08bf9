"""Config: strict models, presets and the loader."""

from streamflix.config.loader import PRESETS, load_config, parse_config
from streamflix.config.models import EnvironmentConfig, HaDatabaseStackConfig, StackConfig

__all__ = ["PRESETS", "EnvironmentConfig", "HaDatabaseStackConfig", "StackConfig", "load_config", "parse_config"]
