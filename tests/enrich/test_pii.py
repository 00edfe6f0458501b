"""PII normalised and SHA-256 hashed at the edge (specs/tracking-protocols.md §3.3)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from convtrack.enrich.pii import (
    hash_identifiers,
    normalise_email,
    normalise_external_id,
    normalise_phone,
    scrub_payload,
)
from convtrack.events import Event, HashedIds, Identifiers

# Test vectors from specs/tracking-protocols.md §3.3 (Meta's SDK output).
EMAIL_RAW = "  Person@Example.COM "
EMAIL_SHA256 = "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"
PHONE_RAW = "+44 844 412 4653"
PHONE_DIGITS = "448444124653"
PHONE_SHA256_PREFIX = "dc008fda46e2e640"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def event(**ids: Any) -> Event:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    return Event(
        event_id="e1", event_name="x", type="track", source="server", occurred_at=now,
        received_at=now, identifiers=Identifiers(**ids) if ids else None,
    )  # fmt: skip


def test_email_vector() -> None:
    assert normalise_email(EMAIL_RAW) == "person@example.com"
    assert hash_identifiers(event(email=EMAIL_RAW)).hashed.email_sha256 == EMAIL_SHA256


def test_phone_vector() -> None:
    assert normalise_phone(PHONE_RAW) == PHONE_DIGITS
    hashed = hash_identifiers(event(phone=PHONE_RAW)).hashed.phone_sha256
    assert hashed is not None and hashed.startswith(PHONE_SHA256_PREFIX)
    assert hashed == sha(PHONE_DIGITS)


@pytest.mark.parametrize(
    "raw", ["+44 844 412 4653", "0044 844 412 4653", "+44 (844) 412-4653", "448444124653"]
)
def test_phone_spellings_agree(raw: str) -> None:
    assert normalise_phone(raw) == PHONE_DIGITS


def test_external_id_is_trimmed_and_lowercased() -> None:
    assert normalise_external_id("  CRM-42 ") == "crm-42"
    assert hash_identifiers(event(external_id="  CRM-42 ")).hashed.external_id_sha256 == sha(
        "crm-42"
    )


def test_pre_hashed_values_pass_through() -> None:
    digest = sha("someone@example.com")
    e = hash_identifiers(event(email=digest, phone=digest.upper(), external_id=f" {digest} "))
    assert e.hashed == HashedIds(
        email_sha256=digest, phone_sha256=digest, external_id_sha256=digest
    )


def test_raw_values_are_dropped_by_default() -> None:
    e = hash_identifiers(event(email=EMAIL_RAW, phone=PHONE_RAW))
    assert e.identifiers is None
    assert e.hashed.email_sha256 == EMAIL_SHA256 and e.hashed.phone_sha256 == sha(PHONE_DIGITS)


def test_raw_values_are_kept_when_asked() -> None:
    e = hash_identifiers(event(email=EMAIL_RAW), keep_raw=True)
    assert e.identifiers == Identifiers(email=EMAIL_RAW)
    assert e.hashed.email_sha256 == EMAIL_SHA256


def test_values_that_normalise_to_nothing_are_not_hashed() -> None:
    e = hash_identifiers(event(email="   ", phone="(-)"))
    assert e.hashed == HashedIds()


def test_no_identifiers_leaves_the_event_alone() -> None:
    e = hash_identifiers(event())
    assert e.identifiers is None and e.hashed == HashedIds()


class TestScrubPayload:
    def test_identifiers_become_hashes(self) -> None:
        payload = {"event_name": "x", "identifiers": {"email": EMAIL_RAW, "phone": PHONE_RAW}}
        assert scrub_payload(payload) == {
            "event_name": "x",
            "identifiers": {"email_sha256": EMAIL_SHA256, "phone_sha256": sha(PHONE_DIGITS)},
        }
        assert payload["identifiers"]["email"] == EMAIL_RAW  # the input is not modified

    def test_unknown_or_odd_identifier_values_are_removed(self) -> None:
        payload = {"identifiers": {"email": 42, "ssn": "123-45-6789", "external_id": "X1"}}
        assert scrub_payload(payload)["identifiers"] == {
            "email": "[removed]", "ssn": "[removed]", "external_id_sha256": sha("x1"),
        }  # fmt: skip
        assert "123-45-6789" not in str(scrub_payload(payload))

    @pytest.mark.parametrize("raw", ["person@example.com", ["person@example.com"], 5])
    def test_identifiers_of_the_wrong_shape_are_removed(self, raw: Any) -> None:
        scrubbed = scrub_payload({"event_name": "x", "identifiers": raw})
        assert scrubbed == {"event_name": "x", "identifiers": "[removed]"}

    @pytest.mark.parametrize(
        "payload", [{"event_name": "x"}, {"identifiers": None}, [1, 2], "text", None]
    )
    def test_anything_else_passes_unchanged(self, payload: Any) -> None:
        assert scrub_payload(payload) == payload
