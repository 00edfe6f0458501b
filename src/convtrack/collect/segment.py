"""The Segment HTTP Tracking API (also spoken by RudderStack SDKs): specs/tracking-protocols.md §1.

``POST /v1/batch``, ``/v1/track|identify|page|screen|group|alias`` and the analytics.js short
paths ``/v1/t|p|i|s|g|a|b``. The write key is a convtrack key (public for analytics.js,
secret for server SDKs), sent as the HTTP Basic user or as ``writeKey`` in the body. Bodies
are JSON as ``application/json`` or ``text/plain``, optionally gzip-encoded. Messages are
mapped by collect.segment_map and then go through the same pipeline as native events.

Answers are what the SDKs expect: 200 ``{"success": true, …}`` once the batch is committed
(invalid messages are quarantined, as Segment answers 200 for events it drops later); errors
carry the one error shape plus top-level ``code`` and ``message``, which the Segment SDK reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from convtrack.asgi import JSON_MEDIA, Receive, Scope, Send, header, only, send_bytes, send_json
from convtrack.collect.auth import KeyRing, key_from_authorization
from convtrack.collect.body import decode_json, read_decoded_body
from convtrack.collect.events_api import client_ip, cors_headers
from convtrack.collect.identity import mark_gpc
from convtrack.collect.parse import Origin
from convtrack.collect.pipeline import Pipeline
from convtrack.collect.segment_map import (
    MESSAGE_TYPES,
    SHORT_PATHS,
    ConsentCategories,
    message_items,
)
from convtrack.errors import ConvtrackError
from convtrack.store.base import KeyRecord

_ACCEPTED_TYPES = (*JSON_MEDIA, b"")
# What a Segment or RudderStack SDK can send: Bearer is its OAuth token, never the write key.
MISSING_SEGMENT_KEY = ConvtrackError(
    "missing_key",
    "No write key: send HTTP Basic with the write key as user (what Segment and RudderStack "
    "SDKs do), or `writeKey` in the body.",
    401,
)
_PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type, content-encoding"),
    (b"access-control-max-age", b"86400"),
]


def segment_paths() -> dict[str, str | None]:
    """Route → the message type it implies (None: a batch)."""
    paths: dict[str, str | None] = {"/v1/batch": None, "/v1/b": None}
    paths |= {f"/v1/{t}": t for t in MESSAGE_TYPES}
    paths |= {f"/v1/{short}": t for short, t in SHORT_PATHS.items()}
    return paths


@dataclass
class SegmentEndpoint:
    pipeline: Pipeline
    keys: KeyRing

    def routes(self) -> dict[str, SegmentEndpoint]:
        return dict.fromkeys(segment_paths(), self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cors = cors_headers(scope)
        if scope["method"] == "OPTIONS":
            await send_bytes(send, 204, b"", cors + _PREFLIGHT_HEADERS)
            return
        try:
            only(scope, "POST")
            body = await self._handle(scope, receive, segment_paths()[scope["path"]])
        except ConvtrackError as err:
            await send_json(send, err.status, segment_error(err), cors + _headers(err))
            return
        await send_json(send, 200, body, cors)

    async def _handle(self, scope: Scope, receive: Receive, path_type: str | None) -> Any:
        settings = self.pipeline.settings
        ctype = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype not in _ACCEPTED_TYPES:
            raise ConvtrackError(
                "unsupported_media_type", "Send JSON as application/json or text/plain.", 415
            )
        doc = decode_json(await read_decoded_body(scope, receive, settings.max_body_bytes))
        if not isinstance(doc, dict):
            raise ConvtrackError("malformed_json", "The body must be one JSON object.", 400)
        record = self._authenticate(scope, doc)
        messages, defaults = envelope(doc, path_type)
        if len(messages) > settings.max_batch_events:
            raise ConvtrackError(
                "too_many_events",
                f"A batch holds at most {settings.max_batch_events} messages; got {len(messages)}.",
                413,
            )
        categories = ConsentCategories.parse(
            settings.consent_ads_categories, settings.consent_analytics_categories
        )
        items = message_items(messages, defaults, path_type, categories)
        if settings.honor_gpc and header(scope, b"sec-gpc") == b"1":
            mark_gpc(items)
        gate = self.pipeline.gate
        region = gate.region(header(scope, gate.region_header) if gate.region_header else None)
        ua = header(scope, b"user-agent")
        origin = Origin(
            source="segment",
            key_id=record.key_id,
            trusted=record.kind == "secret",
            ip=client_ip(scope, settings.trust_forwarded_for),
            user_agent=ua.decode("latin-1")[:512] if ua else None,
            received_at=datetime.now(UTC),
        )
        sent_at = doc.get("sentAt") if path_type is None else None
        out = await self.pipeline.store(items, origin, region, _time(sent_at), path_type is None)
        result: dict[str, Any] = {
            "success": True,
            "accepted": len(out.kept),
            "rejected": len(out.rejected),
            "errors": out.errors,
            "warnings": out.warnings,
        }
        if out.dropped:
            result["dropped"] = out.dropped
        return result

    def _authenticate(self, scope: Scope, doc: dict[str, Any]) -> KeyRecord:
        """HTTP Basic user first, else ``writeKey`` in the body (with a Bearer OAuth token
        the body's key is the only one that means anything here)."""
        auth = header(scope, b"authorization") or b""
        from_header = key_from_authorization(auth) if auth[:6].lower() == b"basic " else None
        body_key = doc.get("writeKey")
        key = from_header or (body_key if isinstance(body_key, str) else None)
        if not key:
            raise MISSING_SEGMENT_KEY
        return self.keys.authenticate(key, None)


def envelope(doc: dict[str, Any], path_type: str | None) -> tuple[list[Any], dict[str, Any]]:
    """The messages of a body and the defaults merged into each (a batch's ``context``)."""
    if path_type is not None:
        return [doc], {}
    batch = doc.get("batch")
    if not isinstance(batch, list):
        raise ConvtrackError(
            "invalid_batch", 'A batch body is {"batch": [message, ...], "writeKey"?, …}.', 400
        )
    context = doc.get("context")
    return batch, {"context": context} if isinstance(context, dict) else {}


def segment_error(err: ConvtrackError) -> dict[str, Any]:
    """The one error shape, plus the ``code``/``message`` the Segment SDK reads."""
    return {**err.body(), "code": err.code, "message": err.message}


def _headers(err: ConvtrackError) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in err.headers.items()]


def _time(value: Any) -> datetime | None:
    """A batch ``sentAt`` (ISO 8601); an unreadable one is ignored, as if not sent."""
    if not isinstance(value, str):
        return None
    try:
        return msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        return None
