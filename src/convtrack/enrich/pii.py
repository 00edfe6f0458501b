"""Personal identifiers normalised and SHA-256 hashed at the edge.

Two forms are stored (never the raw values, unless ``store_raw_pii`` is set):

- the canonical hashes in ``event.hashed`` (identity stitching and lookups use them): email
  trimmed and lower-cased; phone in E.164 without the ``+`` (Meta's rule, enrich.normalize;
  a number that is not valid for its region is not hashed); external id trimmed and
  lower-cased; a device's advertising id (GAID / IDFA) as its lower-cased canonical UUID,
  unless it is the all-zero id of a device limiting ad tracking or ``ad_tracking_enabled``
  is false (then it is dropped). A value that already is a SHA-256 hex digest is kept.
- the per-platform hashes in ``event.pii`` (``pii_hashes``): for every field of
  ``normalize.FIELDS`` each platform in ``normalize.PLATFORMS`` hashes, stored compactly as
  ``{field: {"*": hash most platforms share, platform: hash where it differs}}`` (``""``: that
  platform gets no value). ``platform_identifiers`` reads one platform's hashes back out.

Fields a platform takes in plaintext (e.g. Google's city or zip) are not kept at all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from convtrack.enrich.normalize import FIELDS, PLATFORMS, hashed_by_platform, is_hashed, normalize
from convtrack.events import Event, HashedIds, Identifiers

_SHA256 = re.compile(r"^[a-f0-9]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# What Android (AdvertisingIdClient with limited ad tracking, AdId.ZERO_OUT) and iOS
# (advertisingIdentifier without App Tracking Transparency authorisation) report instead of
# an id: shared by every such device, so it must never link anyone.
ZERO_ADVERTISING_ID = "00000000-0000-0000-0000-000000000000"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The zero id as a sender that hashes before checking would send it (dashed or not).
_ZERO_DIGESTS = frozenset(
    sha256_hex(zero) for zero in (ZERO_ADVERTISING_ID, ZERO_ADVERTISING_ID.replace("-", ""))
)


def hash_normalised(normalised: str) -> str | None:
    """SHA-256 hex of a normalised value; a value that already is a digest is kept."""
    if not normalised:
        return None
    return normalised if _SHA256.match(normalised) else sha256_hex(normalised)


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def normalise_phone(raw: str, region: str | None = None) -> str:
    """E.164 digits without ``+`` (``+44 844 412 4653`` → ``448444124653``); ``""`` if invalid.

    ``region`` (ISO alpha-2) is the country of a national number; without it the digits must
    carry the country code. A SHA-256 hex digest is kept as is.
    """
    text = raw.strip().lower()
    if _SHA256.match(text):
        return text
    return normalize("phone", text, "meta", region=region) or ""


def normalise_external_id(raw: str) -> str:
    return raw.strip().lower()


def normalise_advertising_id(raw: str) -> str:
    """The lower-cased canonical UUID of a GAID / IDFA (braces and dashes as sent are not
    required: 32 hex digits are read too); ``""`` for the all-zero id or anything that is not
    a UUID. A SHA-256 hex digest is kept as is, unless it is the zero id's."""
    text = raw.strip().lower().strip("{}")
    if _SHA256.match(text):
        return "" if text in _ZERO_DIGESTS else text
    if len(text) == 32 and "-" not in text:
        text = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    if not _UUID.match(text) or text == ZERO_ADVERTISING_ID:
        return ""
    return text


def advertising_id_hash(ids: Identifiers) -> str | None:
    """``advertising_id_sha256`` of ``ids``, or None: no id, a zero or malformed one, or
    ``ad_tracking_enabled`` false."""
    if not ids.advertising_id or ids.ad_tracking_enabled is False:
        return None
    return hash_normalised(normalise_advertising_id(ids.advertising_id))


# (canonical hash or None, compacted per-platform hashes or None) of one identifier value.
FieldHashes = tuple[str | None, dict[str, str] | None]
_CANONICAL = {"email": "email_sha256", "phone": "phone_sha256", "external_id": "external_id_sha256"}


def hash_identifiers(event: Event, *, keep_raw: bool = False, region: str | None = None) -> Event:
    """Fill ``event.hashed`` and ``event.pii`` from ``event.identifiers``; drop the raw values
    unless kept. ``region`` is the visitor's country (for national phone numbers, US ZIPs)."""
    return _hash_event(event, keep_raw, region, field_hashes)


class IdentifierHasher:
    """``hash_identifiers`` that remembers the hashes of the last ``max_values`` values.

    One person's events repeat their email, phone and external id, and a phone number costs
    tens of µs to parse and validate, so the hashes of each ``(field, value, region)`` are
    kept in a least-recently-used cache of bounded size (one per hasher: the consent gate
    holds one per process). The results are those of ``hash_identifiers``.
    """

    def __init__(self, max_values: int = 4096) -> None:
        self.field_hashes = lru_cache(maxsize=max_values)(field_hashes)

    def __call__(self, event: Event, *, keep_raw: bool = False, region: str | None = None) -> Event:
        return _hash_event(event, keep_raw, region, self.field_hashes)


def _hash_event(
    event: Event,
    keep_raw: bool,
    region: str | None,
    hashes_of: Callable[[str, str, str | None], FieldHashes],
) -> Event:
    ids = event.identifiers
    if ids is None:
        return event
    canonical: dict[str, str | None] = {}
    pii: dict[str, dict[str, str]] = {}
    for name in FIELDS:
        value = getattr(ids, name)
        if not value:
            continue
        digest, compacted = hashes_of(name, value, region)
        if name in _CANONICAL:
            canonical[_CANONICAL[name]] = digest
        if compacted is not None:
            pii[name] = dict(compacted)  # a copy: the cached one is shared
    if ids.advertising_id:
        canonical["advertising_id_sha256"] = digest = advertising_id_hash(ids)
        if digest is None:  # not an id to keep, even raw
            ids.advertising_id = None
    event.hashed = HashedIds(**canonical)
    event.pii = pii
    if not keep_raw:
        event.identifiers = None
    return event


def field_hashes(field: str, value: str, region: str | None = None) -> FieldHashes:
    """The canonical hash (email, phone, external id; else None) of one identifier value and
    its compacted per-platform hashes (None if no platform gets a value)."""
    digests: dict[str, str] = {}  # normalised text → SHA-256 hex, shared by the rules
    per = {
        p: h or ""
        for p, h in hashed_by_platform(field, value, region=region, digests=digests).items()
    }
    compacted = _compact(per) if any(per.values()) else None
    normaliser = _NORMALISERS.get(field)
    if normaliser is None:
        return None, compacted
    text = normaliser(value, region) if field == "phone" else normaliser(value)
    if not text or _SHA256.match(text):
        return text or None, compacted
    digest = digests.get(text)
    return (sha256_hex(text) if digest is None else digest), compacted


def pii_hashes(ids: Identifiers, region: str | None = None) -> dict[str, dict[str, str]]:
    """Every platform's hash of every identifier, compacted (see the module docstring)."""
    out: dict[str, dict[str, str]] = {}
    for name in FIELDS:
        value = getattr(ids, name)
        if not value:
            continue
        per = {p: h or "" for p, h in hashed_by_platform(name, value, region=region).items()}
        if any(per.values()):
            out[name] = _compact(per)
    return out


def _compact(per_platform: dict[str, str]) -> dict[str, str]:
    counts: dict[str, int] = {}
    for digest in per_platform.values():
        counts[digest] = counts.get(digest, 0) + 1
    common = max(counts, key=counts.__getitem__)  # the first seen of the most shared
    return {"*": common} | {p: h for p, h in per_platform.items() if h != common}


def platform_identifiers(pii: dict[str, dict[str, str]], platform: str) -> dict[str, str]:
    """``field → hash`` for ``platform``: only fields that platform hashes and has a value for.

    ``pii`` is ``Event.pii`` (or the stored ``pii_hashed`` column, decoded).
    """
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
    out = {}
    for name, hashes in pii.items():
        if name in FIELDS and is_hashed(name, platform):
            digest = hashes.get(platform, hashes.get("*", ""))
            if digest:
                out[name] = digest
    return out


_NORMALISERS: dict[str, Callable[..., str]] = {
    "email": normalise_email,
    "phone": normalise_phone,
    "external_id": normalise_external_id,
}
# Quarantine scrubbing also hashes the advertising id (replay reads the hash back).
_SCRUBBED: dict[str, Callable[[str], str]] = {
    **_NORMALISERS,
    "advertising_id": normalise_advertising_id,
}


def scrub_payload(payload: Any) -> Any:
    """Replace raw identifiers in a (quarantined) JSON payload by their hashes."""
    if not isinstance(payload, dict) or payload.get("identifiers") is None:
        return payload
    if not isinstance(payload["identifiers"], dict):  # e.g. a bare email string: still PII
        return {**payload, "identifiers": "[removed]"}
    scrubbed: dict[str, Any] = {}
    tracking_off = payload["identifiers"].get("ad_tracking_enabled") is False
    for key, value in payload["identifiers"].items():
        norm = _SCRUBBED.get(key)
        if key == "advertising_id" and tracking_off:
            continue  # the device said no: not even its hash is kept
        if isinstance(value, str) and norm is not None:
            scrubbed[key + "_sha256"] = hash_normalised(norm(value))
        elif key == "ad_tracking_enabled" and isinstance(value, bool):
            scrubbed[key] = value  # a setting, not personal data
        else:
            scrubbed[key] = "[removed]"
    return {**payload, "identifiers": scrubbed}
