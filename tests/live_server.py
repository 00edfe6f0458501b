"""A real ``convtrack serve`` on loopback, shared by the end-to-end and browser tests.

``Server`` runs ``python -m convtrack serve --data-dir DIR --port P`` in its own process group
(``start_new_session=True``) and always kills that whole group on teardown, so the granian
worker that holds the DuckDB file never outlives a test. Nothing inside the package is mocked:
tests talk to the server over HTTP, read the store through the admin API (or the DuckDB file
once the server is stopped) and drive the real CLI as a subprocess.

Nothing here asserts on how long anything took: start-up is awaited with a generous deadline,
and a pixel hit (which answers before its commit) is awaited with ``Server.flush``.

A plain module (``tests`` is on pytest's ``pythonpath``) because conftest files are not
importable; the fixtures that use it live in ``tests/e2e/conftest.py`` and
``tests/browser/conftest.py``.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx

KEY_LINE = re.compile(r"write key: (ctk_pub_[A-Za-z0-9_\-]+)")
START_DEADLINE = 60.0  # seconds to wait for /readyz before giving up (not a timing assertion)
PORT_TRIES = 5  # a port found free may be taken before the server binds it: then another
GIF_SIZE = 43


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_id(tag: str = "ev") -> str:
    return f"e2e-{tag}-{uuid.uuid4().hex}"


def make_event(**fields: Any) -> dict[str, Any]:
    """A valid event for ``POST /v1/events``; keyword arguments override or add fields."""
    event: dict[str, Any] = {
        "event_name": "e2e_test",
        "event_id": new_id(),
        "anonymous_id": "anon-" + uuid.uuid4().hex[:12],
    }
    event.update(fields)
    return event


def sql_list(values: Any) -> str:
    """A SQL list literal of our own test ids (they never contain quotes)."""
    items = list(values)
    assert all("'" not in v for v in items)
    return "[" + ", ".join(f"'{v}'" for v in items) + "]"


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape ``{"error": {"code", "message", "details"}}``; return it."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["details"], list), error
    return error


def _die_with_test_runner() -> None:
    """In the child before exec: SIGKILL it if the test runner dies, so no server outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            out += [int(p) for p in task.read_text().split()]
    return out


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class Server:
    """One ``convtrack serve`` process group on a free 127.0.0.1 port over one data dir.

    The module's helpers ride along as static methods so tests need no imports from here.
    """

    event = staticmethod(make_event)
    new_id = staticmethod(new_id)
    sha256 = staticmethod(sha256_hex)
    expect_error = staticmethod(expect_error)
    sql_list = staticmethod(sql_list)

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.expected_errors: list[str] = []  # log lines a test provokes on purpose
        self.root = root
        self.data_dir = root / "data"
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.public_key: str | None = None
        self._secret_key: str | None = None
        self.acked: set[str] = set()  # event ids the server acknowledged with 200
        self.http = httpx.Client(timeout=60, trust_env=False)
        self.starts = 0

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVTRACK_")}
        # Test visitors are in the US (no opt-in consent law): an event without consent
        # signals is stored in full. Consent tests pass their own region settings.
        env["CONVTRACK_DEFAULT_REGION"] = "US"
        env.update(self.env)
        return env

    def start(self, port: int | None = None) -> Server:
        """Start on ``port``, else on a free one, and wait for ``/readyz``.

        A free port is only free when it is probed: another process (any client's ephemeral
        port) may take it before the server binds it. The server then exits saying the port
        is in use, and a port we chose is simply replaced by another.
        """
        assert self.proc is None, "already started"
        tries = PORT_TRIES if port is None else 1
        while not self._launch(port or free_port(), retry=tries > 1):
            tries -= 1
        # Make sure the port is ours: only this data dir's admin token opens the admin API.
        status = self.http.get(self.url + "/v1/admin/status", headers=self._admin_auth())
        assert status.status_code == 200, f"port {self.port} is not our server: {status.text}"
        if self.public_key is None:
            found = KEY_LINE.search(self.log())
            assert found, f"no write key printed on first start:\n{self.log()}"
            self.public_key = found[1]
        return self

    def _launch(self, port: int, *, retry: bool) -> bool:
        """Run the server on ``port`` until ready (True); False when it could not bind the
        port and ``retry`` allows another."""
        self.starts += 1
        self.port = port
        log_path = self.root / f"serve-{self.starts}.log"
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "convtrack",
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                ],
                cwd=self.root,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_test_runner,
            )
        self.log_path = log_path
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if self.proc.poll() is not None:
                if retry and f":{port} is already in use" in self.log():
                    self._reap()
                    return False
                raise AssertionError(f"convtrack serve exited early:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return True
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready in {START_DEADLINE}s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_clean_logs(self) -> None:
        """No unhandled error was logged by any start of this server, but `expected_errors`."""
        for path in sorted(self.root.glob("serve-*.log")):
            text = path.read_text(errors="replace")
            for expected in self.expected_errors:
                text = text.replace(expected, "")
            assert "Traceback" not in text and " ERROR " not in text, f"{path}:\n{text[-4000:]}"

    def stop(self) -> int | None:
        """Graceful stop (SIGTERM to the main process), then make sure the group is gone.

        Returns the main process's exit code, or None if it had to be killed.
        """
        if self.proc is None:
            return None
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=30)
        self._reap()
        return code

    def kill9(self) -> None:
        """``kill -9`` the whole process group (main process and granian worker)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        assert self.proc is not None
        pgid = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.proc.wait()
        deadline = time.monotonic() + 30
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _group_members(pgid), "server processes survived SIGKILL"
        self.proc = None

    def restart(self, *, crash: bool = False) -> Server:
        if crash:
            self.kill9()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        try:
            if self.proc is not None:
                self._reap()
        finally:
            self.http.close()

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return _children(self.proc.pid)

    # -- keys and CLI -------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "convtrack", *args, "--data-dir", str(self.data_dir)],
            cwd=self.root,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    def create_key(self, name: str, *, secret: bool = False) -> str:
        result = self.cli("keys", "create", "--name", name, *(["--secret"] if secret else []))
        key = result.stdout.strip().splitlines()[0]
        assert key.startswith("ctk_sec_" if secret else "ctk_pub_"), result.stdout
        return key

    @property
    def secret_key(self) -> str:
        if self._secret_key is None:
            self._secret_key = self.create_key("e2e-secret", secret=True)
        return self._secret_key

    # -- HTTP ---------------------------------------------------------------------------
    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(self.url + path, **kw)

    def post_events(
        self,
        body: Any = None,
        *,
        key: str | None = None,
        auth: str = "bearer",
        content: bytes | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST /v1/events. ``auth`` is bearer, basic, url (``?k=``) or none."""
        key = key if key is not None else self.secret_key
        hdrs = dict(headers or {})
        if content_type is not None:
            hdrs["content-type"] = content_type
        params = {}
        if auth == "bearer":
            hdrs["authorization"] = f"Bearer {key}"
        elif auth == "basic":
            hdrs["authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        elif auth == "url":
            params["k"] = key
        else:
            assert auth == "none"
        data = content if content is not None else json.dumps(body).encode()
        return self.http.post(self.url + "/v1/events", content=data, headers=hdrs, params=params)

    def ingest(self, events: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
        """Send a batch that must be accepted whole; remember the ids as acknowledged."""
        response = self.post_events({"events": events}, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["accepted"] == len(events) and body["rejected"] == 0, body
        self.acked.update(e["event_id"] for e in events)
        return body

    def flush(self) -> None:
        """Wait until every pixel hit answered so far is committed.

        The pixel queues its hit before it answers; an API request queued after it is answered
        only after its own commit, which the group-commit writer makes in queue order.
        """
        self.ingest([make_event(event_name="flush")])

    def pixel(self, params: dict[str, str] | None, path: str = "/p.gif", **kw: Any) -> bytes:
        """Hit the pixel; assert it answered with the GIF and no-cache headers."""
        response = self.http.get(self.url + path, params=params, **kw)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/gif"
        assert len(response.content) == GIF_SIZE and response.content.startswith(b"GIF89a")
        cache = response.headers["cache-control"]
        assert "no-store" in cache and "no-cache" in cache and "max-age=0" in cache, cache
        return response.content

    def _admin_auth(self) -> dict[str, str]:
        token = (self.data_dir / "admin.token").read_text().strip()
        return {"authorization": f"Bearer {token}"}

    # -- reading the store --------------------------------------------------------------
    def sql(self, query: str) -> list[dict[str, Any]]:
        """Rows as dicts: through the admin API while running, else the DuckDB file itself."""
        if self.running:
            response = self.http.post(
                self.url + "/v1/admin/sql",
                json={"sql": query, "limit": 1_000_000},
                headers=self._admin_auth(),
            )
            assert response.status_code == 200, response.text
            body = response.json()
            return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]
        con = duckdb.connect(str(self.data_dir / "convtrack.duckdb"), read_only=True)
        try:
            cur = con.execute(query)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            con.close()

    def event_row(self, event_id: str) -> dict[str, Any]:
        rows = self.sql(f"SELECT * FROM events WHERE event_id = '{event_id}'")  # noqa: S608
        assert len(rows) == 1, rows
        return rows[0]

    def id_counts(self, ids: Any) -> dict[str, int]:
        """How many times each of ``ids`` is stored (absent ids are missing from the result)."""
        ids = list(ids)
        if not ids:
            return {}
        rows = self.sql(
            "SELECT event_id, count(*) AS n FROM events"  # noqa: S608
            f" WHERE list_contains({sql_list(ids)}, event_id) GROUP BY event_id"
        )
        return {r["event_id"]: r["n"] for r in rows}

    def assert_intact(self) -> None:
        """Still up and ready, and every acknowledged event is stored exactly once."""
        health = self.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert self.get("/readyz").status_code == 200
        counts = self.id_counts(self.acked)
        missing = self.acked - set(counts)
        assert not missing, f"{len(missing)} acknowledged events are gone"
        assert all(n == 1 for n in counts.values()), counts


@contextlib.contextmanager
def running_server(data_dir: Path, **options: Any) -> Iterator[Server]:
    """A started server (``Server(data_dir, **options)``), closed afterwards; no start of it
    may have logged an unhandled error."""
    srv = Server(data_dir, **options)
    try:
        yield srv.start()
    finally:
        srv.close()
    srv.assert_clean_logs()


@contextlib.contextmanager
def guarded_server(data_dir: Path) -> Iterator[Server]:
    """A running server holding a few acknowledged events, for tests that throw bad input at
    it: afterwards it must still be up with every one of them stored once (``assert_intact``)."""
    with running_server(data_dir) as srv:
        srv.ingest([make_event(event_name="sentinel") for _ in range(5)])
        yield srv
        srv.assert_intact()
