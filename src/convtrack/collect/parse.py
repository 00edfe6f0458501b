"""Decode and check ``POST /v1/events`` bodies into canonical events.

A body is one event object or ``{"events": [...], "sent_at": ...}``. The whole batch is
decoded in one pass when it is valid; otherwise each event is decoded on its own so every
bad event gets its own error (index, JSON pointer, reason) and the good ones are kept.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from convtrack.currencies import ISO_4217
from convtrack.errors import ConvtrackError
from convtrack.events import (
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_DEPTH,
    MAX_PROPERTIES_KEYS,
    MAX_PROPERTY_KEY,
    MAX_PROPERTY_STRING,
    Context,
    Event,
    EventIn,
    Timestamp,
)
from convtrack.ids import new_event_id

DEFAULT_NAMES = {"page": "page_view", "screen": "screen_view", "identify": "identify"}
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")
_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)

CLICK_SKEW_TOLERANCE = timedelta(minutes=1)


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    events: list[EventIn]
    sent_at: Timestamp | None = None


class _Probe(msgspec.Struct):
    """Is this body a batch? (Any object with an ``events`` member is meant as one.)"""

    events: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class _RawBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: list[msgspec.Raw]
    sent_at: Timestamp | None = None


_batch_decoder = msgspec.json.Decoder(BatchIn)
_event_decoder = msgspec.json.Decoder(EventIn)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Invalid:
    """An event that could not be decoded: its error and its JSON (for quarantine)."""

    issue: dict[str, Any]
    raw: Any


@dataclass(frozen=True)
class Origin:
    """What the collector knows about the request, independent of the body."""

    source: str
    key_id: str | None
    trusted: bool  # a secret key: may set context.ip / user_agent on behalf of a user
    ip: str | None
    user_agent: str | None
    received_at: datetime


def pointer(path: str | None) -> str:
    """msgspec's ``$.a.b[3]`` → JSON pointer ``/a/b/3``."""
    if not path:
        return ""
    return re.sub(r"\[(\d+)\]", r".\1", path).replace(".", "/")


def issue(index: int | None, path: str, reason: str) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "reason": reason}
    if index is not None:
        out = {"index": index, **out}
    return out


def validation_issue(
    index: int | None, exc: msgspec.ValidationError, base: str = ""
) -> dict[str, Any]:
    match = _PATH.match(str(exc))
    reason = match["reason"] if match else str(exc)
    path = base + pointer(match["path"] if match else "")
    unknown = _UNKNOWN.match(reason)
    if unknown:  # point at the offending field itself
        path += "/" + unknown[1]
    return issue(index, path, reason)


def decode_body(body: bytes) -> tuple[list[EventIn | Invalid], datetime | int | None, bool]:
    """Return (items, batch sent_at, is_batch); an item is an EventIn or an Invalid."""
    try:
        return _decode_body(body)
    except UnicodeDecodeError as exc:  # msgspec raises it as is for bad bytes in a string
        raise malformed(exc) from None
    except RecursionError:  # e.g. 100k '[': msgspec recurses once per nesting level
        raise ConvtrackError(
            "malformed_json",
            "The body is nested too deeply; event properties may nest at most "
            f"{MAX_PROPERTIES_DEPTH} levels.",
            400,
        ) from None


def _decode_body(body: bytes) -> tuple[list[EventIn | Invalid], datetime | int | None, bool]:
    try:
        decoded = _batch_decoder.decode(body)
        return list(decoded.events), decoded.sent_at, True
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    try:
        probe = msgspec.json.decode(body, type=_Probe)
    except msgspec.ValidationError:  # not an object: report it as the single event's error
        return [_decode_one(None, body)], None, False
    except msgspec.DecodeError as exc:  # (ValidationError subclasses DecodeError: keep order)
        raise malformed(exc) from None
    if probe.events is msgspec.UNSET:
        return [_decode_one(None, body)], None, False
    try:
        batch = msgspec.json.decode(body, type=_RawBatch)
    except msgspec.ValidationError as exc:
        raise ConvtrackError(
            "invalid_batch",
            'The batch envelope is invalid: send {"events": [...], "sent_at"?: ...}.',
            status=422,
            details=[validation_issue(None, exc)],
        ) from None
    return [_decode_one(i, raw) for i, raw in enumerate(batch.events)], batch.sent_at, True


def malformed(exc: Exception) -> ConvtrackError:
    text = str(exc)
    if "utf-8" in text.lower() or "unicode" in text.lower():
        return ConvtrackError("invalid_utf8", "The body is not valid UTF-8 JSON.", 400)
    return ConvtrackError(
        "malformed_json", f"The body is not valid JSON ({text}). Send one JSON object.", 400
    )


def _decode_one(index: int | None, raw: bytes | msgspec.Raw) -> EventIn | Invalid:
    try:
        return _event_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        try:  # a type error can come before a syntax error further on
            payload = msgspec.json.decode(raw)
        except msgspec.DecodeError as bad:
            raise malformed(bad) from None
        return Invalid(validation_issue(index, exc), payload)
    except msgspec.DecodeError as exc:
        raise malformed(exc) from None


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 address? (inet_pton: ~15× cheaper than ipaddress on this hot path.)"""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except OSError:
            continue
        return True
    return False


def _as_datetime(value: datetime | int) -> datetime:
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _properties_problem(props: dict[str, Any]) -> str | None:
    keys = 0
    stack: list[tuple[Any, int]] = [(props, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            keys += len(node)
            if any(len(k) > MAX_PROPERTY_KEY for k in node):
                return f"a key is longer than {MAX_PROPERTY_KEY} characters"
            children = node.values()
        elif isinstance(node, list):
            children = node  # type: ignore[assignment]
        else:
            if isinstance(node, str) and len(node) > MAX_PROPERTY_STRING:
                return f"a string is longer than {MAX_PROPERTY_STRING} characters"
            continue
        if depth > MAX_PROPERTIES_DEPTH:
            return f"nested deeper than {MAX_PROPERTIES_DEPTH} levels"
        if keys > MAX_PROPERTIES_KEYS:
            return f"more than {MAX_PROPERTIES_KEYS} keys in total"
        stack.extend((child, depth + 1) for child in children)
    if len(_encoder.encode(props)) > MAX_PROPERTIES_BYTES:
        return f"larger than {MAX_PROPERTIES_BYTES} bytes as JSON"
    return None


def to_event(
    index: int | None,
    e: EventIn,
    origin: Origin,
    batch_sent_at: datetime | int | None,
    *,
    default_currency: str,
    max_future: timedelta,
) -> Event | dict[str, Any]:
    """Check one decoded event and build its canonical form (or return its error)."""
    name = e.event_name or DEFAULT_NAMES.get(e.type)
    if name is None:
        return issue(index, "/event_name", f"required for events of type {e.type!r}")
    if not (e.anonymous_id or e.user_id or e.identifiers):
        return issue(
            index, "/anonymous_id", "one of anonymous_id, user_id or identifiers is required"
        )
    if e.currency is not None and e.currency not in ISO_4217:
        return issue(index, "/currency", f"{e.currency!r} is not an ISO 4217 currency code")
    if e.properties and (problem := _properties_problem(e.properties)):
        return issue(index, "/properties", problem)

    received = origin.received_at
    occurred = received
    client_ts = sent = None
    if e.timestamp is not None:
        client_ts = occurred = _as_datetime(e.timestamp)
    raw_sent = e.sent_at if e.sent_at is not None else batch_sent_at
    if raw_sent is not None:
        sent = _as_datetime(raw_sent)
        if client_ts is not None:
            occurred = received - (sent - client_ts)  # clock-skew correction
    if occurred - received > max_future:
        return issue(
            index, "/timestamp", "is in the future; send RFC 3339 UTC or epoch milliseconds"
        )

    ctx = e.context or Context()
    if origin.trusted:
        if ctx.ip is not None and not is_ip(ctx.ip):
            return issue(index, "/context/ip", f"{ctx.ip!r} is not an IP address")
        ip, ua = ctx.ip or origin.ip, ctx.user_agent or origin.user_agent
    else:
        ip, ua = origin.ip, origin.user_agent or ctx.user_agent
    if ip != ctx.ip or ua != ctx.user_agent:
        ctx = msgspec.structs.replace(ctx, ip=ip, user_agent=ua)

    event = Event(
        event_id=e.event_id or new_event_id(),
        event_name=name,
        type=e.type,
        source=origin.source,
        occurred_at=occurred,
        received_at=received,
        sent_at=sent,
        client_timestamp=client_ts,
        anonymous_id=e.anonymous_id,
        user_id=e.user_id,
        session_id=e.session_id,
        context=ctx,
        identifiers=e.identifiers,
        consent=e.consent,
        value=e.value,
        currency=e.currency or (default_currency if e.value is not None else None),
        order_id=e.order_id,
        properties=e.properties or {},
        key_id=origin.key_id,
    )
    if e.campaign is not None:
        event.campaign = e.campaign
        if e.campaign.click_at is not None:
            # The click time is on the sender's clock too: when that clock is off by more
            # than a minute, shift it by the same correction. Smaller offsets are network
            # jitter; leaving them keeps one landing's click time identical on every event.
            click_at = _as_datetime(e.campaign.click_at)
            if client_ts is not None and abs(occurred - client_ts) > CLICK_SKEW_TOLERANCE:
                click_at += occurred - client_ts
            event.campaign.click_at = click_at
    return event
