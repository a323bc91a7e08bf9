"""Template dict -> deterministic text, CloudFormation-aware reading, atomic writes."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

import yaml
from cfn_clean import cfn_literal_parser
from cfn_flip import yaml_dumper as cfn_yaml_dumper
from cfn_tools._config import config as cfn_flip_config

from streamflix.errors import LockTimeout, WriteError

Format = Literal["yaml", "json"]
EXTENSIONS: dict[str, str] = {"yaml": ".yaml", "json": ".json"}


@dataclass(frozen=True)
class RenderedStack:
    """One rendered template and where it belongs under ``out/<env>/``."""

    blueprint: str
    region: str
    filename: str
    text: str
    resource_count: int


def render(template: Mapping[str, Any], fmt: Format = "yaml") -> str:
    """Render a template dict. YAML uses short-form intrinsics (``!Ref``, ``!Sub``).

    Key order is the dict's own order (the template core fixes it), so the same
    config always gives the same bytes.
    """
    as_json = json.dumps(template, indent=2, ensure_ascii=False)
    if fmt == "json":
        return as_json + "\n"
    if fmt == "yaml":
        return to_yaml(as_json)
    raise ValueError(f"unknown format {fmt!r}; allowed: yaml, json")


class _CfnDumper(cfn_yaml_dumper.Dumper):
    """cfn-flip's short-form dumper, minus its per-item class creation.

    cfn-flip keeps key order by wrapping every mapping in an ``ODict`` whose
    ``items()`` builds a new class per item so that PyYAML's key sort cannot
    reorder them (a third of the dump's time). Dumping with ``sort_keys=False``
    keeps the order without it. Everything else (string styles, ``!GetAtt a.b``,
    literal JSON bodies, width) is cfn-flip's own code, so the bytes are the same:
    tests/test_render.py compares both on every preset.
    """

    def analyze_scalar(self, scalar: str) -> Any:
        # A pure function of the text (and of allow_unicode, fixed here), and the
        # emitter only reads the result: analyse each distinct string once per dump.
        if type(scalar) is not str:
            return super().analyze_scalar(scalar)
        cache = self.__dict__.setdefault("_analysis_cache", {})
        analysis = cache.get(scalar)
        if analysis is None:
            analysis = cache[scalar] = super().analyze_scalar(scalar)
        return analysis


def _mapping(dumper: Any, value: Mapping[str, Any]) -> Any:
    """cfn-flip's ``map_representer``: a one-key ``Ref``/``Condition``/``Fn::*`` mapping is a short-form tag."""
    if len(value) == 1:
        key = next(iter(value))
        if key in cfn_yaml_dumper.CONVERTED_SUFFIXES:
            return cfn_yaml_dumper.fn_representer(dumper, key, value[key])
        if key.startswith(cfn_yaml_dumper.FN_PREFIX):
            return cfn_yaml_dumper.fn_representer(dumper, key[len(cfn_yaml_dumper.FN_PREFIX):], value[key])
    return dumper.represent_mapping(cfn_yaml_dumper.TAG_MAP, value, flow_style=False)


_CfnDumper.add_representer(dict, _mapping)


def to_yaml(as_json: str) -> str:
    """``cfn_flip.to_yaml(as_json, clean_up=False, long_form=False)``, byte for byte, about 1.5x faster."""
    data = cfn_literal_parser(json.loads(as_json))
    return yaml.dump(
        data, Dumper=_CfnDumper, default_flow_style=False, allow_unicode=True,
        width=cfn_flip_config.max_col_width, sort_keys=False,
    )


class TemplateParseError(ValueError):
    """The text is not a CloudFormation template."""


def load_template(text: str) -> dict[str, Any]:
    """Parse a CloudFormation template (YAML with short-form tags, or JSON).

    Uses cfn-lint's CloudFormation-aware decoder: ``!Ref``/``!Sub``/``!GetAtt``
    come back in long form (``{"Ref": "Vpc"}``), never as a parser error, and
    every mapping remembers its line (``node.start_mark.line``, 0-based) so
    findings can point at the file.
    """
    from cfnlint.decode import decode_str  # deferred: cfn-lint costs ~0.5 s to import

    template, problems = decode_str(text)
    if problems or not isinstance(template, dict):
        detail = "; ".join(str(p.message) for p in problems) or "not a mapping"
        raise TemplateParseError(f"not a CloudFormation template: {detail}")
    return template


@lru_cache(maxsize=16)
def shared_template(text: str) -> dict[str, Any]:
    """``load_template(text)``, parsed once per process and shared: treat it as READ-ONLY.

    A build reads each template in many places (our rules, wiring, compliance, the
    documents, the suppression list); parsing costs ~0.3 s a template, so they share
    one parse. Mutating the result would change what every later reader sees
    (tests/test_lint_runner.py checks a whole build leaves it equal to a fresh parse);
    call ``load_template`` for a private copy.
    """
    return load_template(text)


#: Seconds a build waits for another build of the same ``out/<env>/`` before giving up.
LOCK_TIMEOUT = 600.0
_STAGING = ".staging-{name}."  # env names hold no dots, so "prod." never matches "prod-eu."
_RETIRED = ".staging-{name}.retired"
_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 0x2  # macOS sys/stdio.h (renamex_np)


def lock_path(target: Path) -> Path:
    """The lock file that serialises writers of ``target``.

    It lives in the temp folder (``streamflix-locks-<uid>/<sha256 of target's real
    path>.lock``), never beside or inside ``target``: ``out/`` holds artifacts
    only. Every writer on this machine resolves the same folder to the same file.
    """
    import hashlib

    real = os.path.realpath(Path(target))
    owner = os.getuid() if hasattr(os, "getuid") else "user"
    folder = Path(tempfile.gettempdir()) / f"streamflix-locks-{owner}"
    return folder / f"{hashlib.sha256(real.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}.lock"


@contextmanager
def target_lock(target: Path, *, timeout: float | None = None, on_wait=None) -> Iterator[None]:
    """Hold the lock of ``target`` for the whole block (see ``lock_path``).

    Two builds of one environment serialise: the second waits (``on_wait`` is
    called once, so the CLI can say why it is waiting) up to ``timeout`` seconds
    (default ``LOCK_TIMEOUT``), then raises LockTimeout. The lock is an OS lock
    (flock), so a killed holder releases it at once. Re-entrant in one thread,
    so ``build`` can hold it across the render and ``write_tree_atomically`` take
    it again. Before waiting, it proves ``target``'s parent writable (a file is
    created and removed there), so an unwritable ``out/`` is reported at once.
    """
    from filelock import FileLock, Timeout  # deferred: only writers need it

    target = Path(target)
    path = lock_path(target)
    limit = LOCK_TIMEOUT if timeout is None else timeout
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target.parent, prefix=_STAGING.format(name=target.name)):
            pass  # the folder takes new files (not read-only, not full of inodes, permitted)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = _LOCKS.setdefault(str(path), FileLock(str(path)))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait(path)
            try:
                lock.acquire(timeout=limit)
            except Timeout:
                raise LockTimeout(
                    f"{target}: another build of this folder has held {path} for over {limit:g} s; "
                    "wait for it to finish (or stop it) and build again"
                ) from None
    except OSError as exc:
        raise WriteError.from_os_error(exc, target) from None
    try:
        yield
    finally:
        lock.release()


_LOCKS: dict[str, Any] = {}


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one system call; False when the OS or file system cannot.

    Linux ``renameat2(RENAME_EXCHANGE)`` (ext4, xfs, btrfs, tmpfs, overlayfs...)
    or macOS ``renamex_np(RENAME_SWAP)`` (APFS). Either way there is no instant
    at which one of the two names is missing.
    """
    libc = _libc()
    if libc is None:
        return False
    old, new = os.fsencode(a), os.fsencode(b)
    if hasattr(libc, "renameat2"):
        result = libc.renameat2(-100, old, -100, new, _RENAME_EXCHANGE)  # -100: AT_FDCWD
    elif hasattr(libc, "renamex_np"):
        result = libc.renamex_np(old, new, _RENAME_SWAP)
    else:
        return False
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(b))


def _libc() -> Any:
    """The C library, or None where there is none to call (Windows)."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        except (OSError, TypeError):
            _LIBC = False
    return _LIBC or None


_LIBC: Any = None


def _fsync_dir(folder: Path) -> None:
    """Make a folder's entries durable (POSIX; Windows cannot open a folder to fsync it)."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def recover(target: Path) -> None:
    """Repair what a killed writer can leave beside ``target``; call with its lock held.

    A previous files folder parked by the fallback swap (only on systems without
    an atomic exchange) goes back into place; every staging folder of ``target``
    is removed: no writer is using one while we hold the lock.
    """
    target = Path(target)
    parent = target.parent
    retired = parent / _RETIRED.format(name=target.name)
    if retired.is_dir() and not os.path.lexists(target):
        os.rename(retired, target)
    if not parent.is_dir():
        return
    prefix = _STAGING.format(name=target.name)
    for entry in parent.iterdir():
        if entry.name.startswith(prefix):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def write_tree_atomically(target: Path, files: Mapping[str, str], *, prune: bool = False) -> None:
    """Replace ``target`` so that no reader, and no kill at any instant, sees it missing or mixed.

    The protocol (all under ``target_lock``):

    1. ``recover``: remove staging folders of killed builds.
    2. Write every file into a sibling staging folder ``.staging-<name>.XXXX``
       (files of ``target`` that are not being replaced are carried over unless
       ``prune``), fsync each file and folder.
    3. Swap staging and ``target`` with ONE atomic exchange (``renameat2``
       RENAME_EXCHANGE); the staging name then holds the previous files and is
       removed. A first build renames staging into place. ``target`` stays a
       plain folder, so a committed ``out/<env>/`` is an ordinary tree in git.
    4. fsync the parent so the swap itself survives a power cut.

    A kill before 3 leaves ``target`` as it was (plus staging debris the next
    build removes); a kill after 3 leaves the new files. Only where the OS has
    no atomic exchange are two renames used, parking the previous folder at
    ``.staging-<name>.retired``; ``recover`` puts it back if a kill fell between.
    Raises WriteError (previous files whole) when anything cannot be written.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target_lock(target):
            _write_tree_locked(target, files, prune)
    except OSError as exc:
        raise WriteError.from_os_error(exc, target) from None


def _write_tree_locked(target: Path, files: Mapping[str, str], prune: bool) -> None:
    recover(target)
    if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
        raise WriteError(f"{target} exists and is not a folder; move it away and build again (nothing was written)")
    staging = Path(tempfile.mkdtemp(prefix=_STAGING.format(name=target.name), dir=target.parent))
    try:
        if target.is_dir() and not prune:
            for existing in target.rglob("*"):
                relative = existing.relative_to(target)
                if existing.is_file() and relative.as_posix() not in files:
                    (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(existing, staging / relative)
        folders = {staging}
        for relative, content in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(folder)
        os.chmod(staging, 0o755)
        if not os.path.lexists(target):
            os.rename(staging, target)
        elif not _exchange(staging, target):
            _swap_with_two_renames(staging, target)
        _fsync_dir(target.parent)
    finally:
        # After the swap the staging name holds the previous files; before it, the new ones.
        shutil.rmtree(staging, ignore_errors=True)


def _swap_with_two_renames(staging: Path, target: Path) -> None:
    retired = target.parent / _RETIRED.format(name=target.name)
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired, target)  # put the previous files back
        raise
    os.rename(retired, staging)  # so the caller's cleanup removes it
