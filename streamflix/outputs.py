"""Read a deployed stack's outputs and write them as ``cfn-outputs/flat-outputs.json``.

The integration tests (tests/integration/) read that flat ``{OutputKey: OutputValue}``
file to find what to check. This is real boto3 code: it calls
``cloudformation:DescribeStacks`` in the stack's own region.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from streamflix.errors import StreamflixError

DEFAULT_OUTPUTS_FILE = Path("cfn-outputs") / "flat-outputs.json"


class StackNotFound(StreamflixError):
    """The stack does not exist (or cannot be read) in that region."""


def fetch_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of one deployed stack, sorted by key."""
    try:
        response = cloudformation.describe_stacks(StackName=stack_name)
    except (ClientError, BotoCoreError) as exc:
        raise StackNotFound(f"cannot read stack {stack_name!r}: {exc}") from None
    stacks = response.get("Stacks") or []
    if not stacks:
        raise StackNotFound(f"stack {stack_name!r} not found")
    stack = stacks[0]
    status = stack.get("StackStatus", "")
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        raise StackNotFound(f"stack {stack_name!r} is {status}; outputs are only trusted from a completed deploy")
    return {item["OutputKey"]: item["OutputValue"] for item in sorted(stack.get("Outputs") or [], key=lambda o: o["OutputKey"])}


def write_flat_outputs(outputs: dict[str, str], path: str | Path = DEFAULT_OUTPUTS_FILE) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n", "utf-8")
    return path


def read_flat_outputs(path: str | Path = DEFAULT_OUTPUTS_FILE) -> dict[str, str] | None:
    """The flat outputs, or None when the file does not exist (not deployed yet)."""
    path = Path(path)
    if not path.exists():
        return None
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise StreamflixError(f"{path}: expected a flat JSON object of output names to string values")
    return data
