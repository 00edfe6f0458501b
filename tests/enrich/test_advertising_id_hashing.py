"""A device's advertising id (GAID / IDFA) as an identifier: normalised, hashed at the edge,
and dropped when it must not link anyone (zero id, tracking off, ads consent denied)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from convtrack.collect.links import advertising_id
from convtrack.collect.replay import unscrub
from convtrack.collect.segment_map import to_item
from convtrack.config import Settings
from convtrack.enrich.pii import (
    ZERO_ADVERTISING_ID,
    hash_identifiers,
    normalise_advertising_id,
    scrub_payload,
)
from convtrack.enrich.privacy import ConsentGate
from convtrack.events import Consent, Event, EventIn, Identifiers
from convtrack.identity.lookup import identifier

GAID = "38400000-8CF0-11BD-B23E-10B96E40000D"  # Google's documented sample form, upper-cased
CANONICAL = GAID.lower()
DIGEST = hashlib.sha256(CANONICAL.encode()).hexdigest()


def event(consent: Consent | None = None, **ids: Any) -> Event:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    return Event(
        event_id="e1", event_name="app_install", type="track", source="server",
        occurred_at=now, received_at=now, anonymous_id="app-1",
        identifiers=Identifiers(**({"advertising_id": GAID} | ids)), consent=consent,
    )  # fmt: skip


def gate(**settings: Any) -> ConsentGate:
    return ConsentGate(dataclasses.replace(Settings(), **settings).validate())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (GAID, CANONICAL),
        (f"  {{{GAID}}} ", CANONICAL),  # braces and spaces
        (CANONICAL.replace("-", ""), CANONICAL),  # 32 hex digits
        (DIGEST, DIGEST),  # already hashed: kept
        (ZERO_ADVERTISING_ID, ""),  # limited ad tracking / no ATT authorisation
        (ZERO_ADVERTISING_ID.replace("-", ""), ""),
        (hashlib.sha256(ZERO_ADVERTISING_ID.encode()).hexdigest(), ""),  # hashed by the sender
        (hashlib.sha256(ZERO_ADVERTISING_ID.replace("-", "").encode()).hexdigest(), ""),
        ("{gaid}", ""),  # a macro the ad network did not fill
        ("not-a-uuid", ""),
    ],
)
def test_normalise_advertising_id(raw: str, expected: str) -> None:
    assert normalise_advertising_id(raw) == expected


def test_the_id_is_hashed_and_the_raw_value_dropped() -> None:
    e = hash_identifiers(event())
    assert e.hashed.advertising_id_sha256 == DIGEST
    assert e.identifiers is None
    assert "advertising_id" not in e.pii  # not a per-platform field: not forwarded
    kept = hash_identifiers(event(), keep_raw=True)  # store_raw_pii keeps it, as sent
    assert kept.identifiers is not None and kept.identifiers.advertising_id == GAID


@pytest.mark.parametrize(
    "ids",
    [
        {"advertising_id": ZERO_ADVERTISING_ID},
        {"ad_tracking_enabled": False},
        {"advertising_id": "{idfa}"},
    ],
)
def test_an_id_that_must_not_link_is_not_kept_even_raw(ids: dict[str, Any]) -> None:
    e = hash_identifiers(event(**ids), keep_raw=True)
    assert e.hashed.advertising_id_sha256 is None
    assert e.identifiers is not None and e.identifiers.advertising_id is None


@pytest.mark.parametrize(
    ("consent", "kept"),
    [
        (Consent(ad_storage="granted", ad_user_data="granted"), True),
        (Consent(ad_storage="granted", ad_user_data="denied"), False),
        (Consent(ad_storage="denied", ad_user_data="granted"), False),
    ],
)
def test_ads_consent_decides(consent: Consent, kept: bool) -> None:
    e = gate(store_raw_pii=True).apply(event(consent), "US")
    assert e is not None
    assert (e.hashed.advertising_id_sha256 == DIGEST) is kept
    raw = e.identifiers.advertising_id if e.identifiers is not None else None
    assert (raw == GAID) is kept


def test_segment_device_ids_map_to_identifiers() -> None:
    def mapped(device: dict[str, Any]) -> EventIn:
        message = {"type": "track", "event": "Application Installed", "anonymousId": "a"}
        item = to_item(message, {"context": {"device": device}}, None, None)
        assert isinstance(item, EventIn), item
        return item

    on = mapped({"id": "dev-1", "advertisingId": GAID, "adTrackingEnabled": True})
    assert on.identifiers == Identifiers(advertising_id=GAID, ad_tracking_enabled=True)
    off = mapped({"advertisingId": GAID, "adTrackingEnabled": False})
    assert off.identifiers == Identifiers(advertising_id=GAID, ad_tracking_enabled=False)
    assert mapped({"id": "dev-1", "adTrackingEnabled": True}).identifiers is None
    odd = mapped({"advertisingId": GAID, "adTrackingEnabled": "false"})
    assert odd.identifiers == Identifiers(advertising_id=GAID, ad_tracking_enabled=False)
    too_long = mapped({"advertisingId": "x" * 65})  # the id goes, the message stays
    assert too_long.identifiers is None and too_long.event_name == "Application Installed"


def test_quarantine_scrubs_the_id_and_replay_reads_the_hash_back() -> None:
    off = scrub_payload({"identifiers": {"advertising_id": GAID, "ad_tracking_enabled": False}})
    assert off["identifiers"] == {"ad_tracking_enabled": False}  # not even its hash
    payload = {"identifiers": {"advertising_id": GAID, "ad_tracking_enabled": True}}
    scrubbed = scrub_payload(payload)
    assert scrubbed["identifiers"] == {"advertising_id_sha256": DIGEST, "ad_tracking_enabled": True}
    assert GAID.lower() not in msgspec.json.encode(scrubbed).decode().lower()
    back, hashed, problems = unscrub(scrubbed)
    assert (hashed, problems) == (True, [])
    assert back["identifiers"] == {"advertising_id": DIGEST, "ad_tracking_enabled": True}


def test_click_link_query_names() -> None:
    assert advertising_id(f"gaid={GAID}".encode()) == GAID
    assert advertising_id(f"x=1&idfa={GAID}".encode()) == GAID
    other = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
    assert advertising_id(f"aaid={GAID}&gaid={other}".encode()) == other  # gaid comes first
    # an unfilled macro, the zero id or junk does not hide a real id after it
    assert advertising_id(f"gaid=%7Bgaid%7D&idfa={GAID}".encode()) == GAID
    assert advertising_id(f"gaid=00000000-0000-0000-0000-000000000000&aaid={GAID}".encode()) == GAID
    assert advertising_id(b"gaid=" + b"a" * 65 + f"&idfa={GAID}".encode()) == GAID
    assert advertising_id(b"advertising_id=" + GAID.encode()) == GAID
    assert advertising_id(b"gaid=&utm_source=x") is None
    assert advertising_id(b"gaid=" + b"a" * 65) is None


def test_lookups_hash_the_id_as_ingest_does() -> None:
    assert identifier("advertising_id", GAID) == ("advertising_id_sha256", DIGEST)
    assert identifier("advertising_id", DIGEST) == ("advertising_id_sha256", DIGEST)
