"""A real, migrated store per test, on each engine: DuckDB, and PostgreSQL (one server per
session from tests/pg.py, a fresh schema per test; skipped without the binaries unless
CONVTRACK_REQUIRE_PG=1). Events are built with tests/qa_events.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from convtrack.identity.records import StitchPolicy
from convtrack.store import EventStore, open_store
from pg import PgServer, start_server


@pytest.fixture(scope="session")
def qa_pg() -> Iterator[tuple[PgServer, str]]:
    server = start_server()
    try:
        yield server, server.create_database("qa")
    finally:
        server.stop()


def _pg_url(request: pytest.FixtureRequest) -> str:
    server, dbname = request.getfixturevalue("qa_pg")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(dbname), autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    return str(server.url(dbname, f"?options=-csearch_path%3D{schema}"))


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url = f"duckdb://{tmp_path / 'qa.duckdb'}" if request.param == "duckdb" else _pg_url(request)
    s = open_store(url)
    s.migrate()
    s.configure_identity(StitchPolicy(), at_ingest=False)
    try:
        yield s
    finally:
        s.close()
