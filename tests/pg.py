"""A throwaway PostgreSQL server for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temp
dir, listening on a private port on 127.0.0.1 only, stopped and removed at the end.

The binaries come from Debian's ``postgresql`` package (/usr/lib/postgresql/<n>/bin).
PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` OS user (which
the package creates) through ``runuser``. Tests connect as ``convtrack``, a role that is not a
superuser and owns each database it is given.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

REQUIRE_ENV = "CONVTRACK_REQUIRE_PG"  # "1": missing binaries fail the tests instead of skipping
ROLE = "convtrack"


def find_bindir() -> Path | None:
    """$PG_BINDIR, else the newest installed server's bin directory; None when none is."""
    if env := os.environ.get("PG_BINDIR"):
        return Path(env) if (Path(env) / "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable(reason: str) -> None:
    """Fail (CONVTRACK_REQUIRE_PG=1, as scripts/test sets) or skip: no server can start."""
    message = f"PostgreSQL tests cannot run: {reason}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} (install the Debian package `postgresql`)", pytrace=False)
    pytest.skip(message)


@dataclass
class PgServer:
    bindir: Path
    durable: bool = False  # fsync and friends: on for benchmarks, off for tests
    port: int = field(default_factory=_free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="convtrack-pg-")))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self._os_user()}@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str, options: str = "") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{dbname}{options}"

    def _os_user(self) -> str:
        return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> PgServer:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--no-locale",
                  "--encoding=UTF8", "--username", self._os_user())  # fmt: skip
        settings = [
            "listen_addresses=127.0.0.1", f"port={self.port}", "unix_socket_directories=''",
            "max_connections=200",
        ]  # fmt: skip
        if not self.durable:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        options = " ".join(f"-c {s}" for s in settings)
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        with psycopg.connect(self.admin_url, autocommit=True) as con:
            con.execute(f"CREATE ROLE {ROLE} LOGIN")
        return self

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database owned by the test role; its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name} OWNER {ROLE} STRATEGY file_copy")
        return name

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server(durable: bool = False) -> PgServer:
    """A running server, or a skip/fail saying why there cannot be one."""
    bindir = find_bindir()
    if bindir is None:
        unavailable("no initdb in $PG_BINDIR, under /usr/lib/postgresql/*/bin or on PATH")
        raise AssertionError("unreachable")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        unavailable("running as root needs runuser to start the server as `postgres`")
    try:
        pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    except KeyError:
        unavailable("running as root needs the `postgres` OS user (Debian package postgresql)")
    server = PgServer(bindir, durable=durable)
    try:
        return server.start()
    except Exception:
        server.stop()
        raise
