"""The advertising id as an identity kind, on every engine: a click and an install from two
anonymous ids with one device id are one person, stitched at ingest; erasure by the id takes
both; retention expires its identity row with the events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from convtrack.events import Event, HashedIds
from convtrack.identity.records import StitchPolicy
from convtrack.privacy.erase import erase
from convtrack.privacy.retention import Retention, purge
from convtrack.store import EventStore, open_store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
DEVICE = hashlib.sha256(GAID.encode()).hexdigest()
OTHER = hashlib.sha256(b"11111111-2222-3333-4444-555555555555").hexdigest()


def opened(url: str) -> EventStore:
    store = open_store(url)
    store.migrate()
    store.configure_identity(StitchPolicy(), at_ingest=True)
    return store


def event(event_id: str, anonymous_id: str, device: str | None, minutes: int = 0) -> Event:
    at = T0 + timedelta(minutes=minutes)
    return Event(
        event_id=event_id, event_name="link_click" if "click" in event_id else "app_install",
        type="track", source="link", occurred_at=at, received_at=at, anonymous_id=anonymous_id,
        hashed=HashedIds(advertising_id_sha256=device),
    )  # fmt: skip


def person(store: EventStore, anonymous_id: str) -> str:
    rows = store.query(
        "SELECT person_id FROM identity_people WHERE anonymous_id = ?", [anonymous_id]
    )
    return str(rows.rows[0][0])


def test_a_click_and_an_install_with_one_device_id_are_one_person(store_url: str) -> None:
    store = opened(store_url)
    store.append([event("click-1", "browser-1", DEVICE), event("click-2", "browser-2", OTHER)])
    store.append([event("install-1", "app-1", DEVICE, 5), event("install-2", "app-2", None, 6)])
    assert person(store, "app-1") == person(store, "browser-1")
    assert person(store, "app-2") != person(store, "browser-2")  # no id: nothing links them
    stored = store.query("SELECT advertising_id_sha256 FROM events WHERE event_id = 'install-1'")
    assert stored.rows == [(DEVICE,)]
    kinds = store.query(
        "SELECT kind, value FROM identity_identifiers WHERE kind = 'advertising_id_sha256'"
        " ORDER BY value"
    )
    assert sorted(kinds.rows) == sorted([("advertising_id_sha256", DEVICE),
                                          ("advertising_id_sha256", OTHER)])  # fmt: skip
    store.close()


def test_erasure_by_advertising_id_takes_the_whole_person(store_url: str) -> None:
    store = opened(store_url)
    store.append([event("click-1", "browser-1", DEVICE), event("click-2", "browser-2", OTHER)])
    store.append([event("install-1", "app-1", DEVICE, 5)])
    done = erase(store, "advertising_id", GAID.upper())
    assert done["requested"] == "advertising_id_sha256"
    assert done["deleted"]["events"] == 2
    left = store.query("SELECT event_id FROM events ORDER BY event_id").rows
    assert left == [("click-2",)]
    # The tombstone keeps the device's later events out, from any new anonymous id.
    store.append([event("install-9", "app-9", DEVICE, 9)])
    assert store.query("SELECT count(*) FROM events WHERE event_id = 'install-9'").rows == [(0,)]
    store.close()


def test_retention_expires_the_device_id_with_its_events(store_url: str) -> None:
    store = opened(store_url)
    store.append([event("click-1", "browser-1", DEVICE)])
    store.append([event("click-2", "browser-2", OTHER, 60 * 24 * 30)])
    purge(store, Retention(days=10, raw_ip_hours=0), now=T0 + timedelta(days=31))
    rows = store.query(
        "SELECT value FROM identity_identifiers WHERE kind = 'advertising_id_sha256'"
    ).rows
    assert rows == [(OTHER,)]
    store.close()
