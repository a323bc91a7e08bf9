"""StreamFlix stack blueprints. Importing this package registers them all."""

from blueprints import ha_database  # noqa: F401  (registers on import)
