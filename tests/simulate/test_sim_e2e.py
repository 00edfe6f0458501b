"""End to end: a real ``convtrack serve`` on loopback, the simulator over HTTP, dedup checked."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

KEY = re.compile(r"write key: (ctk_pub_[A-Za-z0-9_\-]+)")
DEADLINE_S = 60.0  # start-up wait, not a timing assertion


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONVTRACK_")}


def convtrack(data_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "convtrack", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, env=env(), stdin=subprocess.DEVNULL,
        cwd=data_dir.parent,
    )  # fmt: skip
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@dataclass
class Running:
    url: str
    data_dir: Path
    public_key: str


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    data_dir, port, log = tmp_path / "data", free_port(), tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "convtrack", "serve", "--data-dir", str(data_dir),
             "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env(),
            cwd=tmp_path, start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        found = KEY.search(log.read_text())
        assert found, log.read_text()
        yield Running(url, data_dir, found[1])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_simulated_traffic_over_http_is_stored_once_per_event_id(server: Running) -> None:
    secret = convtrack(server.data_dir, "keys", "create", "--name", "backend", "--secret").strip()
    out, truth = server.data_dir.parent / "sent.jsonl", server.data_dir.parent / "truth.json"
    result = subprocess.run(
        [sys.executable, "-m", "convtrack", "simulate", "--url", server.url,
         "--key", server.public_key, "--server-key", secret, "--visitors", "300",
         "--seed", "11", "--out", str(out), "--truth", str(truth)],
        capture_output=True, text=True, timeout=300, env=env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    ids = {line["event"]["event_id"] for line in sent}
    assert len(sent) > len(ids), "some events should arrive twice (browser + server)"

    def sql(query: str) -> dict:
        return json.loads(convtrack(server.data_dir, "sql", "--format", "json", query))[0]

    stored = sql(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS d,"
        " count(*) FILTER (type = 'conversion') AS conversions FROM events"
    )
    assert stored["n"] == stored["d"] == len(ids)
    doc = json.loads(truth.read_text())
    assert stored["conversions"] == doc["totals"]["conversions_delivered"]
    assert sql("SELECT count(*) AS q FROM quarantine")["q"] == 0
    by_source = sql(
        "SELECT count(*) FILTER (source = 'tag') AS tag, count(*) FILTER (source = 'server') AS srv"
        " FROM events"
    )
    assert by_source["srv"] >= doc["totals"]["conversions_server_only"] > 0
