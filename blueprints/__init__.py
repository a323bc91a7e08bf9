"""StreamFlix stack blueprints. Importing this package registers them all."""

from blueprints import dr_primary, dr_recovery, ha_database  # noqa: F401  (registers on import)
