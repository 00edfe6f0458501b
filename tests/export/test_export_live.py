"""``convtrack export`` while ``convtrack serve`` holds the DuckDB file: the CLI asks the
server (admin API), the server writes the lake from a reader connection, and ingest carries
on meanwhile; a client that accepts ndjson gets the export's progress line by line. A real
server on loopback (tests/live_server.py)."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from convtrack.cli import main
from live_server import Server, make_event

NDJSON = {"accept": "application/x-ndjson"}
LOCK_DEADLINE = 120.0  # seconds to wait for an abandoned export to end (not a timing assertion)

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
    assert answers[0].headers["content-type"] == "application/json"  # one answer, as before
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


def day(d: int) -> str:
    return (START + timedelta(days=d)).date().isoformat()


def export_lines(server: Server, lake: Path) -> tuple[httpx.Response, list[dict[str, Any]]]:
    with httpx.Client(timeout=None, trust_env=False) as http:
        headers = {**server._admin_auth(), **NDJSON}
        url = server.url + "/v1/admin/export"
        with http.stream("POST", url, json={"out": str(lake)}, headers=headers) as answer:
            return answer, [json.loads(line) for line in answer.iter_lines() if line]


def test_an_ndjson_client_gets_a_progress_line_per_day_then_the_result(
    server: Server, tmp_path: Path
) -> None:
    answer, lines = export_lines(server, tmp_path / "lake")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-ndjson"
    *progress, result = lines
    assert [line["progress"] for line in progress] == [
        *({"done": d, "total": DAYS, "day": day(d)} for d in range(DAYS)),
        {"done": DAYS, "total": DAYS, "day": ""},
    ]
    assert result == {  # the plain answer's object
        "written": [day(d) for d in range(DAYS)],
        "skipped": 0,
        "rows": DAYS * 3,
        "tables": {"identity_people": DAYS * 3, "spend": 0},
    }
    _, again = export_lines(server, tmp_path / "lake")  # nothing to write: still a stream
    assert again == [{"progress": {"done": 0, "total": 0, "day": ""}}, {**result, "written": []}
                     | {"skipped": DAYS, "rows": 0}]  # fmt: skip


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli_export(
    data_dir: Path, lake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[str, list[str]]:
    """``convtrack export`` in this process, stderr a terminal: its summary and the
    progress lines it drew."""
    terminal = Terminal()
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("CONVTRACK_")]:
            patch.delenv(name)
        patch.setattr("sys.stderr", terminal)
        assert main(["export", "--out", str(lake), "--data-dir", str(data_dir)]) == 0
    drawn = re.findall(r"export: day (\d+/\d+) \(([0-9-]+),", terminal.getvalue())
    return capsys.readouterr().out, [f"{n} {d}" for n, d in drawn]


def test_the_cli_through_the_server_draws_the_progress_of_a_direct_export(
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    remote, remote_drawn = cli_export(server.data_dir, tmp_path / "remote", monkeypatch, capsys)
    assert remote_drawn == [f"{d + 1}/{DAYS} {day(d)}" for d in range(DAYS)]
    server.stop()  # the store file is free: the CLI exports it itself
    try:
        direct, direct_drawn = cli_export(server.data_dir, tmp_path / "direct", monkeypatch, capsys)
    finally:
        server.start()
    assert (remote, remote_drawn) == (direct, direct_drawn)
    assert remote.startswith(f"events: {DAYS} day(s) written ({DAYS * 3:,} rows)")

    def manifest(lake: str) -> dict[str, Any]:
        found = json.loads((tmp_path / lake / "manifest.json").read_text())
        return {k: v for k, v in found.items() if k != "exported_at"}

    assert manifest("remote") == manifest("direct")
    assert len(manifest("remote")["days"]) == DAYS


def test_a_client_that_leaves_mid_export_leaves_the_lake_written_and_the_lock_free(
    server: Server, tmp_path: Path
) -> None:
    headers = {**server._admin_auth(), **NDJSON}
    url = server.url + "/v1/admin/export"
    with (
        httpx.Client(timeout=None, trust_env=False) as http,
        http.stream("POST", url, json={"out": str(tmp_path / "left")}, headers=headers) as answer,
    ):
        first = json.loads(next(answer.iter_lines()))
        assert first == {"progress": {"done": 0, "total": DAYS, "day": day(0)}}
    # Gone after one line. The export carries on to its end, then frees the lock: until then
    # another export is refused, before its answer begins.
    deadline = time.monotonic() + LOCK_DEADLINE
    while (again := server.http.post(url, json={"out": str(tmp_path / "next")}, headers=headers)) \
            .status_code == 409:  # fmt: skip
        server.expect_error(again, 409, "export_running")
        assert time.monotonic() < deadline, "the export lock was never released"
        time.sleep(0.05)
    assert again.status_code == 200, again.text
    assert json.loads(again.text.splitlines()[-1])["rows"] == DAYS * 3
    left = json.loads((tmp_path / "left" / "manifest.json").read_text())
    assert sorted(left["days"]) == [day(d) for d in range(DAYS)]  # written whole all the same
    server.ingest([make_event()])  # and the server still serves (assert_intact on teardown)


def test_a_failure_mid_export_is_the_last_line_in_the_error_shape(
    server: Server, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"

    def fail_at(d: int) -> None:  # that day's folder is a file: swapping it in fails
        (lake / "events").mkdir(parents=True, exist_ok=True)
        (lake / "events" / f"date={day(d)}").write_text("not a folder")

    fail_at(5)
    answer, lines = export_lines(server, lake)
    assert answer.status_code == 200  # the answer had begun
    *progress, last = lines
    assert [line["progress"]["done"] for line in progress] == list(range(6))
    assert set(last) == {"error"} and set(last["error"]) == {"code", "message", "details"}
    assert last["error"]["code"] == "store_error"
    assert "Not a directory" in last["error"]["message"]
    written = json.loads((lake / "manifest.json").read_text())["days"]
    assert sorted(written) == [day(d) for d in range(5)]  # what was done before it stays

    fail_at(7)  # the same failure, answered plainly
    url, auth = server.url + "/v1/admin/export", server._admin_auth()
    plain = server.expect_error(
        server.http.post(url, json={"out": str(lake)}, headers=auth), 500, "store_error"
    )
    assert "Not a directory" in plain["message"]
    fail_at(9)  # and through the CLI
    failed = server.cli("export", "--out", str(lake), check=False)
    assert failed.returncode == 2, (failed.stdout, failed.stderr)
    assert "error: NotADirectoryError" in failed.stderr, failed.stderr
