"""The conformance suite: every test here runs once per engine, DuckDB and PostgreSQL.

``store_url`` (used by ``open_migrated``, ``store`` and ``event`` from tests/store/conftest.py)
is parametrised over ENGINES. PostgreSQL: one server per test session (tests/pg.py), one
database per test module and, inside it, a fresh schema per test, so each test starts from an
empty, unmigrated store. Without the binaries the PostgreSQL half is skipped, or fails when
CONVTRACK_REQUIRE_PG=1 (scripts/test sets it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pg import PgServer, start_server

ENGINES = ["duckdb", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> str:
    """A fresh database for this test module (on the session's server)."""
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()


def _pg_schema_url(server: PgServer, dbname: str) -> str:
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(dbname), autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    return server.url(dbname, f"?options=-csearch_path%3D{schema}")


@pytest.fixture(params=ENGINES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, empty (not yet migrated) store of each engine."""
    if request.param == "duckdb":
        return f"duckdb://{tmp_path / 'store.duckdb'}"
    return _pg_schema_url(
        request.getfixturevalue("pg_server"), request.getfixturevalue("pg_database")
    )


@pytest.fixture
def engine(store_url: str) -> str:
    """The engine under test, for the few assertions that differ by engine."""
    return store_url.split("://", 1)[0]
