#!/usr/bin/env python3
"""StreamFlix blueprints CLI. `python build.py --help` lists what it does."""

from streamflix.cli import main

if __name__ == "__main__":
    main()
