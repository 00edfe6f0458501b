"""``convtrack export`` while ``convtrack serve`` holds the DuckDB file: the CLI asks the
server (admin API), the server writes the lake from a reader connection, and ingest carries
on meanwhile. A real server on loopback (tests/live_server.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from live_server import Server, make_event

DAYS = 300  # enough days that the export is still running while the test ingests
START = datetime(2023, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    try:
        srv.start()
        for first in range(0, DAYS, 100):
            srv.ingest([
                make_event(timestamp=(START + timedelta(days=d, hours=h)).isoformat())
                for d in range(first, first + 100) for h in range(3)
            ])  # fmt: skip
        yield srv
        srv.assert_intact()
    finally:
        srv.close()
    srv.assert_clean_logs()


def test_the_server_exports_while_it_ingests(server: Server, tmp_path: Path) -> None:
    """The export runs in the store process on a reader connection: batches are
    acknowledged while it runs (how long they wait is printed, never asserted)."""
    lake = tmp_path / "lake"
    answers: list[httpx.Response] = []

    def export() -> None:
        with httpx.Client(timeout=None, trust_env=False) as http:
            body = {"out": str(lake)}
            answers.append(http.post(server.url + "/v1/admin/export", json=body, headers=auth))

    auth = server._admin_auth()
    running = threading.Thread(target=export)
    running.start()
    during, waits = 0, []
    while running.is_alive():
        started = time.monotonic()
        server.ingest([make_event() for _ in range(20)])
        waits.append(time.monotonic() - started)
        during += running.is_alive()  # acknowledged while the export still ran
    running.join()
    print(f"{during} batches acknowledged during the export, slowest {max(waits) * 1e3:.0f} ms")
    assert answers[0].status_code == 200, answers[0].text
    assert len(answers[0].json()["written"]) >= DAYS
    assert during >= 1, "the export ended before any batch was acknowledged beside it"
    days = json.loads((lake / "manifest.json").read_text())["days"]
    assert all(
        days[(START + timedelta(days=d)).date().isoformat()]["rows"] == 3 for d in range(DAYS)
    )


def test_the_cli_exports_through_the_running_server(server: Server, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    first = server.cli("export", "--out", str(lake))
    assert "through the running `convtrack serve`" in first.stderr
    assert first.stdout.startswith(f"events: {DAYS} day(s) written ({DAYS * 3:,} rows)")
    assert (lake / "identity_people" / "part-0.parquet").exists()
    server.ingest([make_event()])  # today: a new day
    again = server.cli("export", "--out", str(lake)).stdout
    assert again.startswith(f"events: 1 day(s) written (1 rows), {DAYS} unchanged"), again


def test_the_export_endpoint_wants_the_admin_token_and_an_absolute_path(server: Server) -> None:
    url = server.url + "/v1/admin/export"
    response = server.http.post(url, json={"out": "/tmp/x"})
    server.expect_error(response, 401, "unauthorised")
    auth = server._admin_auth()
    response = server.http.post(url, json={"out": "relative/lake"}, headers=auth)
    server.expect_error(response, 422, "invalid_request")
