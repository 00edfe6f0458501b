"""What only the embedded DuckDB backend does: one file, one writer process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from convtrack.errors import ConvtrackError
from convtrack.store import open_store
from convtrack.store.base import StoreLocked
from convtrack.store.duckdb_base import path_from_url

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
