#!/usr/bin/env python3
"""StreamFlix blueprints CLI. `python build.py --help` lists what it does."""

import blueprints  # noqa: F401  (the bundled stacks: registered also when this checkout is not pip-installed)
from streamflix.cli import main

if __name__ == "__main__":
    main()
