"""Export a person: everything held about them as one JSON document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from convtrack.jsonable import plain
from convtrack.privacy.person import resolve
from convtrack.store.base import EventStore


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return plain(value)


def export(store: EventStore, option: str, raw: str) -> dict[str, Any]:
    """The person's identifiers (emails, phones, external ids hashed, as stored), person ids,
    consent decisions and, per table holding person data, every row about them."""
    person = resolve(store, option, raw)
    tables = store.person_data(person)
    consent = [
        {k: e.get(k) for k in ("event_id", "occurred_at", "consent", "consent_decision") if k in e}
        for e in tables.get("events", [])
    ]
    return _plain(
        {
            "exported_at": datetime.now(UTC),
            "requested": person.requested,
            "person_ids": list(person.person_ids),
            "identifiers": [{"kind": k, "value": v} for k, v in person.identifiers],
            "consent": consent,
            "tables": tables,
        }
    )
