"""Does a folder hold exactly what the config renders now? (``build.py --check``, the committed-out test)

The comparison is byte for byte, on the bytes the build would write (UTF-8,
``\\n`` line ends). Nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from streamflix.manifest import MANIFEST_FILE


@dataclass(frozen=True)
class TreeDrift:
    """How a folder differs from the files that should be in it (paths relative, sorted)."""

    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    #: For a changed manifest: the top-level keys that differ (e.g. ``tools``), so a
    #: tool upgrade that changed no template reads as such.
    manifest_keys: tuple[str, ...] = ()

    @property
    def tools_only(self) -> bool:
        """Only the manifest's tool versions differ: no artifact changed."""
        return self.changed == (MANIFEST_FILE,) and self.manifest_keys == ("tools",) and not (self.missing or self.extra)

    @property
    def clean(self) -> bool:
        """No artifact differs. A tools-only manifest change counts as clean: a patch
        release of a dependency that changes no template must not turn CI red; the
        check still prints it so the next rebuild records the new versions."""
        return self.tools_only or not (self.missing or self.changed or self.extra)

    def lines(self, folder: str | Path | None = None) -> list[str]:
        """One line per differing file, ``changed|missing|extra  path`` (under ``folder`` if given)."""

        def shown(path: str) -> str:
            return str(Path(folder) / path) if folder is not None else path

        out = []
        for path in self.changed:
            note = f"  (differs in: {', '.join(self.manifest_keys)})" if path == MANIFEST_FILE and self.manifest_keys else ""
            out.append(f"changed  {shown(path)}{note}")
        out += [f"missing  {shown(path)}" for path in self.missing]
        out += [f"extra    {shown(path)}" for path in self.extra]
        return out


def files_on_disk(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (recursively) by POSIX-style relative path."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def compare_tree(folder: str | Path, expected: Mapping[str, str], *, report_extra: bool = True) -> TreeDrift:
    """Compare ``folder`` with ``expected`` (relative path -> text).

    ``report_extra=False`` ignores files the expected set does not mention, for
    partial builds (``--stack``) that leave other stacks' files in place.
    """
    on_disk = files_on_disk(Path(folder))
    missing = sorted(path for path in expected if path not in on_disk)
    changed = sorted(
        path for path, text in expected.items() if path in on_disk and on_disk[path] != text.encode("utf-8")
    )
    extra = sorted(path for path in on_disk if path not in expected) if report_extra else []
    manifest_keys: tuple[str, ...] = ()
    if MANIFEST_FILE in changed:
        manifest_keys = _differing_keys(on_disk[MANIFEST_FILE], expected[MANIFEST_FILE])
    return TreeDrift(tuple(missing), tuple(changed), tuple(extra), manifest_keys)


def _differing_keys(old: bytes, new: str) -> tuple[str, ...]:
    try:
        before, after = json.loads(old), json.loads(new)
    except ValueError:
        return ()
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ()
    return tuple(sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key)))
