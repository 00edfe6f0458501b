"""What only the embedded DuckDB backend does: one file, one writer process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from convtrack.errors import ConvtrackError
from convtrack.events import Event
from convtrack.store import copies, open_store
from convtrack.store.base import StoreLocked
from convtrack.store.duckdb_base import path_from_url, run_on_arrow
from convtrack.store.duckdb_store import DuckDBStore

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
con.close()
"""


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"duckdb://{tmp_path / 'held.duckdb'}"
    with open_store(url) as store:
        store.migrate()
    return url


@pytest.fixture
def held_by_another_process(db_url: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path_from_url(db_url))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        yield db_url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


@pytest.mark.parametrize("read_only", [True, False])
def test_a_file_held_by_another_process_is_locked(
    held_by_another_process: str, read_only: bool
) -> None:
    with pytest.raises(StoreLocked) as info:
        open_store(held_by_another_process, read_only=read_only)
    assert info.value.code == "store_locked" and info.value.status == 409
    assert "convtrack serve" in info.value.message


def test_read_only_open_beside_nobody(db_url: str) -> None:
    with open_store(db_url, read_only=True) as store:
        assert store.count_events() == 0
        assert store.query("SELECT count(*) FROM write_keys").rows == [(0,)]


def test_read_only_open_of_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(ConvtrackError) as info:
        open_store(f"duckdb://{tmp_path / 'absent.duckdb'}", read_only=True)
    assert info.value.code == "store_missing"
    assert not (tmp_path / "absent.duckdb").exists()


def test_read_write_open_creates_the_directory(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'deep' / 'er' / 'x.duckdb'}"
    with open_store(url) as store:
        store.migrate()
    assert (tmp_path / "deep" / "er" / "x.duckdb").is_file()


def test_url_forms() -> None:
    assert path_from_url("duckdb:///abs/x.duckdb") == Path("/abs/x.duckdb")
    assert path_from_url("duckdb://rel/x.duckdb") == Path("rel/x.duckdb")
    with pytest.raises(ConvtrackError):
        path_from_url("sqlite:///x.db")


def test_unknown_scheme() -> None:
    with pytest.raises(ConvtrackError) as info:
        open_store("mysql://localhost/db")
    assert info.value.code == "unsupported_store"


def _copy(event_id: str, source: str, second: int, *, conversion: bool = True) -> Event:
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=second)
    kind = "conversion" if conversion else "track"
    return Event(event_id=event_id, event_name="purchase", type=kind, source=source,
                 occurred_at=at, received_at=at, anonymous_id=f"a-{event_id}")  # fmt: skip


def test_an_append_logs_each_conversions_copies_once_per_source(db_url: str) -> None:
    batch = [
        _copy("c1", "browser", 3), _copy("c1", "server", 1), _copy("c1", "browser", 7),
        _copy("c2", "server", 5), _copy("t1", "browser", 2, conversion=False),
    ]  # fmt: skip
    with open_store(db_url) as store:
        assert store.append(batch) == 3
        assert store.append([_copy("c2", "server", 9)]) == 0  # a copy re-sent later
        got = store.query(
            "SELECT event_id, source, received_at, last_received_at, copies FROM event_copies"
            " ORDER BY event_id, source, received_at"
        ).rows
    expected = list(zip(*copies.tally(batch), strict=True))
    expected += list(zip(*copies.tally([_copy("c2", "server", 9)]), strict=True))
    assert [tuple(r) for r in got] == sorted(expected)


def _merging(event_id: str, anonymous_id: str, user_id: str | None) -> Event:
    event = _copy(event_id, "server", 1)
    event.anonymous_id, event.user_id = anonymous_id, user_id
    event.deliveries = [("meta", "purchase", "Purchase")]
    return event


def test_the_append_path_leaves_nothing_in_the_catalog(db_url: str) -> None:
    """Its Arrow tables are read by name from a local (``run_on_arrow``): no view stays."""
    with DuckDBStore(db_url) as store:
        store.append([_copy("c1", "browser", 1), _copy("c1", "server", 2)])
        # outbox jobs, and a merge that moves a person's rows to the one kept
        store.append([_merging("m1", "a-1", "u-1"), _merging("m2", "a-2", None)])
        store.append([_merging("m3", "a-2", "u-1")])
        assert store._con.execute("SELECT count(*) FROM identity_merges").fetchall() == [(1,)]
        (c1,) = store._con.execute(
            "SELECT person_id FROM identity_people WHERE anonymous_id = 'a-c1'"
        ).fetchall()
        for table in ("identity_people", "identity_identifiers"):  # a-1 and a-2: one person
            people = f"SELECT DISTINCT person_id FROM {table} WHERE person_id <> ?"  # noqa: S608
            assert len(store._con.execute(people, [c1[0]]).fetchall()) == 1
        assert store._con.execute("SELECT count(*) FROM outbox").fetchall() == [(3,)]
        # a failing statement leaves nothing either
        with pytest.raises(duckdb.Error), store._transaction() as con:
            run_on_arrow(con, "SELECT missing FROM _arrow_rows", pa.table({"x": [1]}))
        views = "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
        assert store._con.execute(views).fetchall() == []


def test_run_on_arrow_reads_the_table_it_is_given() -> None:
    con = duckdb.connect()
    table = pa.table({"n": [3, 1, 2]})
    assert run_on_arrow(con, "SELECT sum(n), count(*) FROM _arrow_rows", table) == [(6, 3)]
    assert run_on_arrow(con, "SELECT max(n) FROM _arrow_rows", table.slice(1)) == [(2,)]
