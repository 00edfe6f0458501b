"""``convtrack`` commands run straight on the store (no server running)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from convtrack import __version__
from convtrack.cli import build_parser, commands
from convtrack.cli.ops import SERVER_FILE
from convtrack.events import Event
from convtrack.store import open_store

Run = Callable[..., Any]  # the `convtrack` fixture: returns .code, .out, .err
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def store_url(data_dir: Path) -> str:
    return "duckdb://" + (data_dir / "convtrack.duckdb").resolve().as_posix()


def seed(data_dir: Path, n: int = 3) -> None:
    events = [
        Event(event_id=f"ev{i}", event_name="purchase", type="track", source="server",
              occurred_at=T0, received_at=T0 + timedelta(seconds=i), anonymous_id=f"a{i}",
              value=10.5 * (i + 1), currency="EUR")
        for i in range(n)
    ]  # fmt: skip
    with open_store(store_url(data_dir)) as store:
        store.migrate()
        store.append(events)


def pretend_a_server_runs(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    info = {"url": "http://127.0.0.1:1", "pid": os.getpid()}  # a live pid: this test
    (data_dir / SERVER_FILE).write_text(json.dumps(info))


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "func"),
    [
        (["serve"], commands.serve),
        (["keys", "create", "--name", "web"], commands.keys_create),
        (["keys", "list"], commands.keys_list),
        (["keys", "revoke", "web"], commands.keys_revoke),
        (["events", "tail", "--once"], commands.events_tail),
        (["sql", "SELECT 1", "--format", "csv"], commands.sql),
    ],
)
def test_commands_are_routed(argv: list[str], func: object) -> None:
    assert build_parser().parse_args(argv).func is func


def test_parser_options() -> None:
    args = build_parser().parse_args(
        ["keys", "create", "--name", "b", "--secret", "--store", "duckdb:///x"]
    )
    assert (args.name, args.secret, args.store) == ("b", True, "duckdb:///x")
    assert build_parser().parse_args(["sql", "SELECT 1"]).format == "table"
    tail = build_parser().parse_args(["events", "tail"])
    assert (tail.lines, tail.json, tail.once) == (10, False, False)


@pytest.mark.parametrize(
    "argv", [["sql", "SELECT 1", "--format", "xml"], ["keys"], ["keys", "create"], ["bogus"]]
)
def test_bad_usage_exits_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2


def test_version(convtrack: Run) -> None:
    with pytest.raises(SystemExit) as info:
        convtrack("--version", data=False)
    assert info.value.code == 0


def test_version_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert capsys.readouterr().out.strip() == f"convtrack {__version__}"


# -- no command means serve -------------------------------------------------------------


def test_no_arguments_means_serve(convtrack: Run, tmp_path: Path) -> None:
    # The data directory is "held" by this very process, so serve stops before listening.
    pretend_a_server_runs(tmp_path / "convtrack-data")
    result = convtrack(data=False)
    assert result.code == 2
    assert "already serves" in result.err and "convtrack-data" in result.err


def test_options_without_a_command_mean_serve(convtrack: Run, data_dir: Path) -> None:
    pretend_a_server_runs(data_dir)
    result = convtrack("--port", "9999", data=True)
    assert result.code == 2 and "already serves" in result.err and str(data_dir) in result.err


def test_a_bad_setting_stops_before_anything_runs(convtrack: Run, data_dir: Path) -> None:
    result = convtrack("--port", "0")
    assert result.code == 2 and "port" in result.err
    assert not data_dir.exists()


# -- keys -------------------------------------------------------------------------------


def test_keys_create_prints_the_key_once(convtrack: Run, data_dir: Path) -> None:
    result = convtrack("keys", "create", "--name", "web")
    assert result.code == 0
    key = result.out.strip()
    assert key.startswith("ctk_pub_") and len(key) > 20 and "\n" not in key
    assert "public key" in result.err and "not shown again" in result.err
    with open_store(store_url(data_dir), read_only=True) as store:
        dump = str(store.query("SELECT * FROM write_keys").rows)
    assert key not in dump  # only the hash is stored


def test_keys_create_secret(convtrack: Run) -> None:
    result = convtrack("keys", "create", "--name", "backend", "--secret")
    assert result.code == 0 and result.out.startswith("ctk_sec_")


def test_keys_list_never_shows_keys(convtrack: Run) -> None:
    web = convtrack("keys", "create", "--name", "web").out.strip()
    backend = convtrack("keys", "create", "--name", "backend", "--secret").out.strip()
    result = convtrack("keys", "list")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["key_id", "name", "kind", "prefix", "created_at", "revoked_at"]
    assert "web" in lines[2] and "public" in lines[2] and web[:12] in lines[2]
    assert "backend" in lines[3] and "secret" in lines[3]
    assert lines[-1] == "(2 rows)"
    assert web not in result.out and backend not in result.out


def test_keys_revoke(convtrack: Run) -> None:
    convtrack("keys", "create", "--name", "web")
    result = convtrack("keys", "revoke", "web")
    assert result.code == 0 and result.out.startswith("revoked key_") and "(web)" in result.out
    again = convtrack("keys", "revoke", "web")
    assert again.code == 2 and "No active key" in again.err
    listed = convtrack("keys", "list").out.splitlines()[2]
    assert listed.split()[-1] != "web"  # a revoked_at time is shown


# -- sql --------------------------------------------------------------------------------

QUERY = "SELECT event_id, value, received_at FROM events ORDER BY event_id"


def test_sql_csv(convtrack: Run, data_dir: Path) -> None:
    seed(data_dir, 2)
    result = convtrack("sql", QUERY, "--format", "csv")
    assert result.code == 0
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows == [
        ["event_id", "value", "received_at"],
        ["ev0", "10.500000", "2024-05-01T12:00:00+00:00"],
        ["ev1", "21.000000", "2024-05-01T12:00:01+00:00"],
    ]


def test_sql_json(convtrack: Run, data_dir: Path) -> None:
    seed(data_dir, 2)
    result = convtrack("sql", QUERY, "--format", "json")
    assert result.code == 0
    assert json.loads(result.out) == [
        {"event_id": "ev0", "value": "10.500000", "received_at": "2024-05-01T12:00:00+00:00"},
        {"event_id": "ev1", "value": "21.000000", "received_at": "2024-05-01T12:00:01+00:00"},
    ]


def test_sql_table(convtrack: Run, data_dir: Path) -> None:
    seed(data_dir, 3)
    result = convtrack("sql", "SELECT count(*) AS n FROM events")
    assert result.code == 0
    assert result.out.splitlines() == ["n", "-", "3", "(1 row)"]


def test_sql_refuses_writes(convtrack: Run, data_dir: Path) -> None:
    seed(data_dir, 2)
    result = convtrack("sql", "DELETE FROM events")
    assert result.code == 2 and "read-only" in result.err
    assert convtrack("sql", "SELECT count(*) FROM events", "--format", "csv").out.split() == [
        "count_star()", "2",
    ]  # fmt: skip


def test_sql_without_a_store(convtrack: Run, data_dir: Path) -> None:
    result = convtrack("sql", "SELECT 1")
    assert result.code == 2 and "No store" in result.err
    assert not (data_dir / "convtrack.duckdb").exists()


def test_sql_with_an_explicit_store_url(convtrack: Run, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    seed(other, 1)
    result = convtrack(
        "sql", "SELECT event_id FROM events", "--format", "csv", "--store", store_url(other)
    )
    assert result.code == 0 and result.out.split() == ["event_id", "ev0"]


# -- events tail ------------------------------------------------------------------------


def test_tail_once_prints_the_last_events(convtrack: Run, data_dir: Path) -> None:
    seed(data_dir, 5)
    result = convtrack("events", "tail", "--once", "-n", "2")
    assert result.code == 0
    lines = result.out.splitlines()
    assert len(lines) == 2
    assert "id=ev3" in lines[0] and "id=ev4" in lines[1]
    assert "purchase" in lines[1] and "EUR" in lines[1] and "who=a4" in lines[1]


def test_tail_json(convtrack: Run, data_dir: Path) -> None:
    seed(data_dir, 3)
    result = convtrack("events", "tail", "--once", "--json")
    events = [json.loads(line) for line in result.out.splitlines()]
    assert [e["event_id"] for e in events] == ["ev0", "ev1", "ev2"]
    assert events[0]["received_at"] == "2024-05-01T12:00:00+00:00"


def test_tail_zero_prints_nothing_old(convtrack: Run, data_dir: Path) -> None:
    seed(data_dir, 3)
    result = convtrack("events", "tail", "--once", "-n", "0")
    assert result.code == 0 and result.out == ""
