"""Fault injection into the write protocol (issue 12 items 4-7, 11).

A child process (os.fork) writes ``out/<env>/`` and is SIGKILLed at each rename,
exchange and fsync in turn; after each kill the folder must be wholly the old or
wholly the new tree, and the next write must leave no debris. Full disks are
os calls patched to raise ENOSPC. Concurrent builds, a held lock, a file where the
folder belongs and SIGTERM go through the CLI, in process.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamflix import pipeline
from streamflix.cli import main
from streamflix.errors import LockTimeout, WriteError

render = importlib.import_module("streamflix.render")  # the package exports a function of that name

OLD = {"a.yaml": "old a\n", "b.yaml": "old b\n", "runbooks/a.md": "old runbook\n"}
NEW = {"a.yaml": "new a\n", "c.yaml": "new c\n", "runbooks/a.md": "new runbook\n"}


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}


def debris(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".staging-"))


def _count_calls(tmp_path: Path, exchange: bool) -> int:
    """How many fault points (renames, exchanges, fsyncs) one write goes through."""
    target = tmp_path / "count" / "env"
    render.write_tree_atomically(target, OLD, prune=True)
    counter = {"n": 0}
    originals = {name: getattr(os, name) for name in ("rename", "fsync")}
    real_exchange = render._exchange

    def counting(original):
        def wrapper(*args):
            counter["n"] += 1
            return original(*args)
        return wrapper

    try:
        for name, original in originals.items():
            setattr(os, name, counting(original))
        render._exchange = counting(real_exchange if exchange else (lambda a, b: False))
        render.write_tree_atomically(target, NEW, prune=True)
    finally:
        for name, original in originals.items():
            setattr(os, name, original)
        render._exchange = real_exchange
    return counter["n"]


def _write_and_die_at(target: Path, kill_at: int, exchange: bool) -> None:
    """In a forked child: write NEW, SIGKILL ourselves at the kill_at-th fault point."""
    pid = os.fork()
    if pid == 0:
        try:
            counter = {"n": 0}

            def dying(original):
                def wrapper(*args):
                    counter["n"] += 1
                    if counter["n"] == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return original(*args)
                return wrapper

            os.rename = dying(os.rename)
            os.fsync = dying(os.fsync)
            render._exchange = dying(render._exchange if exchange else (lambda a, b: False))
            render.write_tree_atomically(target, NEW, prune=True)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 0


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic-exchange", "two-rename-fallback"])
def test_a_kill_at_any_rename_or_fsync_leaves_the_old_or_the_new_tree(tmp_path, exchange):
    points = _count_calls(tmp_path, exchange)
    assert points >= 5  # every file and folder fsync, the swap, the parent fsync
    for kill_at in range(1, points + 2):
        parent = tmp_path / f"kill-{kill_at}"
        target = parent / "env"
        render.write_tree_atomically(target, OLD, prune=True)
        _write_and_die_at(target, kill_at, exchange)
        if exchange:
            # no window: the folder is there and whole right after the kill
            assert tree(target) in (OLD, NEW), f"kill at fault point {kill_at}"
        else:
            # the fallback's one-rename window is repaired by the next writer's recover()
            with render.target_lock(target):
                render.recover(target)
            assert tree(target) in (OLD, NEW), f"kill at fault point {kill_at}"
        # the next build cleans whatever the killed one left
        render.write_tree_atomically(target, NEW, prune=True)
        assert tree(target) == NEW and sorted(os.listdir(parent)) == ["env"]


@pytest.mark.parametrize("call", ["fsync", "write"])
def test_a_full_disk_leaves_the_previous_files_and_no_debris(tmp_path, monkeypatch, call):
    target = tmp_path / "env"
    render.write_tree_atomically(target, OLD, prune=True)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if call == "fsync":
        monkeypatch.setattr(os, "fsync", no_space)
    else:
        monkeypatch.setattr(render.shutil, "copy2", no_space)
        monkeypatch.setattr(render.tempfile, "mkdtemp", no_space)
    with pytest.raises(WriteError, match="No space left on device"):
        render.write_tree_atomically(target, NEW)
    assert tree(target) == OLD and debris(tmp_path) == []


def _tiny_assemble(config, *, out_dir, stacks=None, fmt="yaml", lint=True, skip_gates=()):
    """Stands in for render+lint, so these tests exercise the writer and the CLI boundary only."""
    return pipeline.BuildReport(environment=config.name, out_dir=Path(out_dir) / config.name), dict(NEW)


@pytest.fixture
def quick_build(monkeypatch):
    monkeypatch.setattr(pipeline, "assemble", _tiny_assemble)


def cli(*args):
    return CliRunner().invoke(main, list(args))


def test_full_disk_through_the_cli_is_exit_3_with_one_message(tmp_path, monkeypatch, quick_build):
    assert cli("--out", str(tmp_path)).exit_code == 0

    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    result = cli("--out", str(tmp_path))
    assert result.exit_code == 3
    assert result.output.startswith("error: could not write") and "No space left on device" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert tree(tmp_path / "dev") == NEW and debris(tmp_path) == []


def test_a_file_where_the_folder_belongs_is_refused_and_kept(tmp_path, quick_build):
    (tmp_path / "dev").write_text("my notes\n")
    result = cli("--out", str(tmp_path))
    assert result.exit_code == 3 and "exists and is not a folder" in result.output
    assert (tmp_path / "dev").read_text() == "my notes\n" and debris(tmp_path) == []
    # and --check does not call it up to date
    assert cli("--out", str(tmp_path), "--check", "--no-lint").exit_code == 1


def test_an_unwritable_out_is_reported_before_rendering(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    rendered = []
    monkeypatch.setattr(pipeline, "assemble", lambda *a, **k: rendered.append(1))
    result = cli("--out", str(blocker / "out"))
    assert result.exit_code == 3 and "could not write" in result.output and not rendered


def test_concurrent_builds_take_turns(tmp_path, quick_build):
    target = tmp_path / "dev"
    holder_has_lock, release = threading.Event(), threading.Event()

    def hold():
        with render.target_lock(target):
            holder_has_lock.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holder_has_lock.wait()
    waited = []
    from streamflix.config import load_config

    builder = threading.Thread(
        target=lambda: pipeline.build(load_config(env="dev"), out_dir=tmp_path, on_lock_wait=waited.append)
    )
    builder.start()
    while not waited:
        builder.join(0.05)
    assert not target.exists()  # the second build waits for the first
    release.set()
    holder.join()
    builder.join()
    assert tree(target) == NEW and debris(tmp_path) == []


def test_a_lock_held_too_long_is_exit_4(tmp_path, monkeypatch, quick_build):
    monkeypatch.setattr(render, "LOCK_TIMEOUT", 0)
    holder_has_lock, release = threading.Event(), threading.Event()

    def hold():
        with render.target_lock(tmp_path / "dev"):
            holder_has_lock.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holder_has_lock.wait()
    try:
        result = cli("--out", str(tmp_path))
    finally:
        release.set()
        holder.join()
    assert result.exit_code == 4 and "another build of this folder" in result.output
    assert "waiting for another build" in result.output


def test_sigterm_during_the_write_is_exit_143_and_leaves_the_previous_files(tmp_path, monkeypatch, quick_build):
    assert cli("--out", str(tmp_path)).exit_code == 0
    render.write_tree_atomically(tmp_path / "dev", OLD, prune=True)
    real_fsync = os.fsync

    def terminated(fd):
        os.kill(os.getpid(), signal.SIGTERM)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", terminated)
    result = cli("--out", str(tmp_path))
    assert result.exit_code == 143 and "interrupted (SIGTERM)" in result.output
    assert tree(tmp_path / "dev") == OLD and debris(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_lock_timeout_is_a_streamflix_error():
    assert LockTimeout.exit_code == 4 and WriteError.exit_code == 3


def test_lint_workers_die_with_the_build(tmp_path):
    """A SIGKILLed parent takes its pool workers with it (PR_SET_PDEATHSIG)."""
    read, write = os.pipe()
    parent = os.fork()
    if parent == 0:
        try:
            import multiprocessing

            pool = multiprocessing.get_context("fork").Pool(1, initializer=pipeline._die_with_parent,
                                                           initargs=(os.getpid(),))
            os.write(write, f"{pool.apply(os.getpid)}\n".encode())
            signal.pause()
        finally:
            os._exit(0)
    worker = int(os.fdopen(read).readline())
    os.kill(parent, signal.SIGKILL)
    os.waitpid(parent, 0)
    # The kernel kills the worker when its parent dies; wait for that to be visible.
    stat = Path(f"/proc/{worker}/stat")
    for _ in range(200):
        if not stat.exists() or stat.read_text().split(") ", 1)[1].startswith(("Z", "X")):
            break
        threading.Event().wait(0.05)
    assert not stat.exists() or stat.read_text().split(") ", 1)[1].startswith(("Z", "X"))


def test_checkov_folders_of_killed_scans_are_swept(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from streamflix.checks import scan

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    abandoned = tmp_path / f"{scan.SCAN_PREFIX}{gone}-abc"
    running = tmp_path / f"{scan.SCAN_PREFIX}{os.getpid()}-def"
    for folder in (abandoned, running):
        (folder / "0").mkdir(parents=True)
        (folder / "0" / "ha-database.yaml").write_text("copy\n")
    scan._sweep_abandoned_scan_folders()
    assert not abandoned.exists() and running.exists()
