"""Store fixtures, parametrised over backends so one suite runs against every engine.

Tests here run on DuckDB (BACKENDS). tests/store/conformance/ overrides ``store_url`` to run
its tests on DuckDB and PostgreSQL: move a test there once PostgresStore does what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from convtrack.events import Event
from convtrack.store import EventStore, open_store

BACKENDS = ["duckdb"]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _url(backend: str, tmp_path: Path) -> str:
    if backend == "duckdb":
        return f"duckdb://{tmp_path / 'store.duckdb'}"
    raise AssertionError(f"no test set-up for backend {backend!r}")


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, empty (not yet migrated) store."""
    return _url(request.param, tmp_path)


@pytest.fixture
def open_migrated(store_url: str) -> Iterator[Callable[[], EventStore]]:
    """Open (or reopen) the test store, migrated; everything opened is closed afterwards."""
    opened: list[EventStore] = []

    def opener() -> EventStore:
        store = open_store(store_url)
        opened.append(store)
        store.migrate()
        return store

    yield opener
    for store in opened:
        store.close()  # closing twice is harmless


@pytest.fixture
def store(open_migrated: Callable[[], EventStore]) -> EventStore:
    return open_migrated()


def make_event(event_id: str, *, received_at: datetime = T0, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "event_name": "purchase",
        "type": "track",
        "source": "server",
        "occurred_at": received_at - timedelta(seconds=1),
        "anonymous_id": "anon-1",
    }
    return Event(event_id=event_id, received_at=received_at, **(values | fields))


@pytest.fixture
def event() -> Callable[..., Event]:
    return make_event
