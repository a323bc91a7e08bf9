"""A throwaway PostgreSQL server for tests: Debian's ``postgresql`` binaries, a temp cluster, a unix socket.

``start_server()`` runs ``initdb`` and ``pg_ctl`` in a fresh temporary directory
(listening on no TCP address, only on a socket in that directory), as the current
user, or, when that is root (PostgreSQL refuses to run as root), as the ``postgres``
system user through ``runuser``. ``ServerUnavailable`` says why a server cannot be
started here; tests skip with that message, except when ``STREAMFLIX_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), where they fail instead, so CI cannot silently skip them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where Debian's postgresql-NN package puts the server binaries (newest first).
_DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
REQUIRE_ENV = "STREAMFLIX_REQUIRE_POSTGRES"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server can be started on this machine (the message says why and how to fix it)."""


@dataclass
class Server:
    bin_dir: Path
    socket_dir: Path
    data_dir: Path
    port: int
    run_as: str | None

    def psql(self, *args: str, user: str, database: str = "postgres", env: dict[str, str] | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run psql against this server over its socket (trust authentication, local only)."""
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGHOST": str(self.socket_dir),
            "PGPORT": str(self.port),
            "PGUSER": user,
            "PGDATABASE": database,
            **(env or {}),
        }
        return subprocess.run(
            [str(self.bin_dir / "psql"), *args], env=environment, capture_output=True, text=True, check=check,
            timeout=60,
        )

    def sql(self, statement: str, *, user: str = "postgres", database: str = "postgres") -> str:
        """One statement's result, unaligned and tuples-only."""
        result = self.psql("--no-psqlrc", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement, user=user, database=database)
        return result.stdout.strip()

    def stop(self) -> None:
        self._as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def _as_owner(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(command, self.run_as, check=check)


def _run(command: list[str], run_as: str | None, check: bool = True) -> subprocess.CompletedProcess[str]:
    if run_as is not None:
        command = ["runuser", "-u", run_as, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)


def find_bin_dir() -> Path:
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    candidates += [Path(p) for p in sorted(glob.glob(_DEBIAN_BIN_GLOB), key=_major, reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if all((candidate / tool).exists() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return candidate
    raise ServerUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) in PG_BIN, "
        f"{_DEBIAN_BIN_GLOB} or PATH; install them with `apt-get install postgresql` (.ci/run does)"
    )


def _major(path: str) -> int:
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return 0


def start_server(port: int = 54329) -> Server:
    bin_dir = find_bin_dir()
    run_as: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable("running as root and there is no `postgres` user to run the server as") from None
        if shutil.which("runuser") is None:
            raise ServerUnavailable("running as root and `runuser` is missing to start the server as `postgres`")
        run_as = "postgres"
    base = Path(tempfile.mkdtemp(prefix="streamflix-pg-"))
    data_dir, socket_dir = base / "data", base / "socket"
    socket_dir.mkdir()
    if run_as is not None:
        owner = pwd.getpwnam(run_as)
        for path in (base, socket_dir):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "--no-sync",
              "-E", "UTF8", "--locale=C"], run_as)
        options = f"-k {socket_dir} -p {port} -c listen_addresses='' -c fsync=off"
        _run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(base / "server.log"),
              "-w", "-t", "60", "start"], run_as)
    except subprocess.CalledProcessError as error:
        log = (base / "server.log").read_text() if (base / "server.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise ServerUnavailable(f"{' '.join(error.cmd[-3:])} failed: {error.stderr.strip()} {log.strip()}") from None
    return Server(bin_dir=bin_dir, socket_dir=socket_dir, data_dir=data_dir, port=port, run_as=run_as)
