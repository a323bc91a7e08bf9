"""CloudFormation's own conventions, read the one way the whole code base reads them.

Nothing here knows blueprints, configs or documents: these are facts about the
template language, shared by the rules, the diff, wiring and the documents.
"""

from __future__ import annotations

from typing import Any


def is_true(value: Any) -> bool:
    """CloudFormation's truthiness of a Boolean property: ``true`` or ``"true"`` (any case)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")
