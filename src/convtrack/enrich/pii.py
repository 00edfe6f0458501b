"""Personal identifiers normalised and SHA-256 hashed at the edge.

Rules follow specs/tracking-protocols.md §3.3 (Meta) and §4b (Google): email trimmed and
lower-cased; phone reduced to its digits with the country code (leading ``+``/``00`` removed);
external id trimmed and lower-cased. A value that already is a SHA-256 hex digest is kept.
Raw values are dropped unless ``store_raw_pii`` is set.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from convtrack.events import Event, HashedIds

_SHA256 = re.compile(r"^[a-f0-9]{64}$")
_NON_DIGIT = re.compile(r"\D")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_normalised(normalised: str) -> str | None:
    """SHA-256 hex of a normalised value; a value that already is a digest is kept."""
    if not normalised:
        return None
    return normalised if _SHA256.match(normalised) else sha256_hex(normalised)


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def normalise_phone(raw: str) -> str:
    text = raw.strip().lower()
    if _SHA256.match(text):
        return text
    return _NON_DIGIT.sub("", text).lstrip("0")


def normalise_external_id(raw: str) -> str:
    return raw.strip().lower()


def hash_identifiers(event: Event, *, keep_raw: bool = False) -> Event:
    """Fill ``event.hashed`` from ``event.identifiers``; drop the raw values unless kept."""
    ids = event.identifiers
    if ids is None:
        return event
    event.hashed = HashedIds(
        email_sha256=hash_normalised(normalise_email(ids.email)) if ids.email else None,
        phone_sha256=hash_normalised(normalise_phone(ids.phone)) if ids.phone else None,
        external_id_sha256=hash_normalised(normalise_external_id(ids.external_id))
        if ids.external_id
        else None,
    )
    if not keep_raw:
        event.identifiers = None
    return event


_NORMALISERS = {
    "email": normalise_email,
    "phone": normalise_phone,
    "external_id": normalise_external_id,
}


def scrub_payload(payload: Any) -> Any:
    """Replace raw identifiers in a (quarantined) JSON payload by their hashes."""
    if not isinstance(payload, dict) or payload.get("identifiers") is None:
        return payload
    if not isinstance(payload["identifiers"], dict):  # e.g. a bare email string: still PII
        return {**payload, "identifiers": "[removed]"}
    scrubbed = {}
    for key, value in payload["identifiers"].items():
        norm = _NORMALISERS.get(key)
        if isinstance(value, str) and norm is not None:
            scrubbed[key + "_sha256"] = hash_normalised(norm(value))
        else:
            scrubbed[key] = "[removed]"
    return {**payload, "identifiers": scrubbed}
