"""Fixtures for the collect stage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convtrack.store import EventStore, open_store


@pytest.fixture
def key_store(tmp_path: Path) -> Iterator[EventStore]:
    """A real, migrated DuckDB store to hold write keys."""
    store = open_store(f"duckdb://{tmp_path / 'keys.duckdb'}")
    store.migrate()
    yield store
    store.close()
