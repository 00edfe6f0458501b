"""``POST /.well-known/skadnetwork/report-attribution/``: SKAdNetwork postback copies.

An app's Info.plist ``NSAdvertisingAttributionReportEndpoint`` makes devices send copies of
winning postbacks here (specs/tracking-protocols.md §8.1). Each is verified (§8.3,
collect.skan_verify) and stored once per ``transaction-id`` in ``skan_postbacks``; one that
does not verify, or cannot be read, is kept in quarantine (source ``skan``) with its reason.
Either way the answer is 200 once the postback is in custody: a retry could not make a bad
one good (the spec leaves Apple's retry behaviour unverified). Postbacks are reported only in
aggregate, per campaign (``convtrack skan report``): they describe no person.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from convtrack.asgi import Receive, Scope, Send, header, only, read_body, send_json
from convtrack.collect.events_api import client_ip
from convtrack.collect.parse import Origin
from convtrack.collect.pipeline import quarantine_record
from convtrack.collect.skan_verify import BadPostback, KeySet, verify
from convtrack.store.base import EventStore
from convtrack.store.links_model import SkanPostback
from convtrack.store.writer import Writer

PATH = "/.well-known/skadnetwork/report-attribution/"
BODY_LIMIT = 64 * 1024
COARSE = ("low", "medium", "high")
_encode = msgspec.json.Encoder().encode


def decode(postback: dict[str, Any], received_at: datetime) -> SkanPostback:
    """A verified postback's columns (``BadPostback`` when a value is out of its range)."""
    version = str(postback["version"])
    source = postback.get("source-identifier", postback.get("campaign-id"))
    if source is None or isinstance(source, bool) or not str(source).isdigit():
        raise BadPostback("invalid_field", "source-identifier / campaign-id must be digits")
    return SkanPostback(
        transaction_id=_text(postback, "transaction-id", required=True) or "",
        received_at=received_at,
        version=version,
        ad_network_id=_text(postback, "ad-network-id", required=True) or "",
        source_identifier=str(source),
        app_id=_int(postback, "app-id", required=True) or 0,
        source_app_id=_int(postback, "source-app-id"),
        source_domain=_text(postback, "source-domain"),
        redownload=_bool(postback, "redownload"),
        fidelity_type=_int(postback, "fidelity-type", {0, 1}),
        did_win=_bool(postback, "did-win"),
        postback_sequence_index=_int(postback, "postback-sequence-index", {0, 1, 2}),
        conversion_value=_int(postback, "conversion-value", set(range(64))),
        coarse_conversion_value=_coarse(postback),
        payload=_encode(postback).decode(),
    )


def _text(p: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = p.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 256:
        raise BadPostback("invalid_field", f"{key!r} must be a non-empty string")
    return value


def _int(
    p: dict[str, Any], key: str, allowed: set[int] | None = None, required: bool = False
) -> int | None:
    value = p.get(key)
    if value is None and not required:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadPostback("invalid_field", f"{key!r} must be a whole number")
    if allowed is not None and value not in allowed:
        raise BadPostback("invalid_field", f"{key!r} is out of range: {value}")
    return value


def _bool(p: dict[str, Any], key: str) -> bool | None:
    value = p.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadPostback("invalid_field", f"{key!r} must be true or false")
    return value


def _coarse(p: dict[str, Any]) -> str | None:
    value = p.get("coarse-conversion-value")
    if value is not None and value not in COARSE:
        raise BadPostback("invalid_field", "'coarse-conversion-value' must be low, medium or high")
    return value


@dataclass
class SkanEndpoint:
    store: EventStore
    writer: Writer
    trust_forwarded_for: bool = False
    keys: KeySet = field(default_factory=KeySet.apple)  # injectable: tests sign with their own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "POST")  # Apple POSTs the postback as JSON
        body = await read_body(receive, BODY_LIMIT, header(scope, b"content-length"))
        received_at = datetime.now(UTC)
        try:
            postback = _object(body)
            verify(postback, self.keys)
            row = decode(postback, received_at)
        except BadPostback as bad:
            await self._quarantine(scope, body, bad, received_at)
            await send_json(send, 200, {"status": "quarantined", "reason": bad.code})
            return
        new = await asyncio.to_thread(self.store.insert_skan, row)
        await send_json(send, 200, {"status": "stored" if new else "duplicate"})

    async def _quarantine(
        self, scope: Scope, body: bytes, bad: BadPostback, received_at: datetime
    ) -> None:
        try:
            raw: Any = msgspec.json.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError):
            raw = {"body": body.decode("utf-8", "replace")}
        ua = header(scope, b"user-agent")
        origin = Origin(
            source="skan",
            key_id=None,
            trusted=False,
            ip=client_ip(scope, self.trust_forwarded_for),
            user_agent=ua.decode("latin-1")[:512] if ua else None,
            received_at=received_at,
        )
        reason = {"path": "", "reason": str(bad), "code": bad.code}
        # Kept as received: a postback holds no personal data to hash.
        await self.writer.write([], [quarantine_record([reason], raw, origin, keep_raw=True)])


def _object(body: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise BadPostback("malformed_json", "the body is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise BadPostback("malformed_json", "the body must be one JSON object")
    return value
