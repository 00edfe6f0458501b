"""``privacy.retention.purge``: what one run reports, identity tables included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from convtrack.events import Event
from convtrack.privacy.retention import Retention, purge
from convtrack.store import open_store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
IDENTITY = ("identity_identifiers", "identity_people", "identity_merges", "identity_refused")


def _event(event_id: str, days_ago: int, anonymous_id: str) -> Event:
    at = T0 - timedelta(days=days_ago)
    return Event(
        event_id=event_id, event_name="view", type="track", source="server",
        occurred_at=at, received_at=at, anonymous_id=anonymous_id,
    )  # fmt: skip


def test_a_run_reports_the_identity_rows_it_expired(tmp_path: Path) -> None:
    store = open_store(f"duckdb://{tmp_path / 'store.duckdb'}")
    try:
        store.migrate()
        store.append([_event("old", 40, "gone"), _event("new", 5, "kept")])
        dry = purge(store, Retention(days=30), now=T0, dry_run=True)
        done = purge(store, Retention(days=30), now=T0)
        people = store.query("SELECT anonymous_id FROM identity_people").rows
    finally:
        store.close()
    expected = {"events": 1, "identity_identifiers": 1, "identity_people": 1}
    assert {k: done["purged"][k] for k in expected} == expected
    assert {t: done["purged"][t] for t in IDENTITY} == {t: dry["purged"][t] for t in IDENTITY}
    assert (dry["dry_run"], done["dry_run"]) == (True, False)
    assert people == [("kept",)]
