"""``POST /v1/events``: the native server and browser API.

Accepts one event or ``{"events": [...]}`` as ``application/json`` or ``text/plain`` (so
browsers can send without a CORS preflight). Answers only after the accepted events are
committed. Each event is held to the tracking plan (collect.plan_check). Invalid events are
quarantined and reported per index; a batch with nothing valid is a 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import msgspec

from convtrack.asgi import (
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_bytes,
    send_error,
    send_json,
)
from convtrack.collect.auth import KeyRing, key_from_authorization
from convtrack.collect.identity import IdentityCookie, mark_gpc, settle_events
from convtrack.collect.parse import Invalid, Origin, _as_datetime, decode_body, to_event
from convtrack.collect.plan_check import apply_plan
from convtrack.config import Settings
from convtrack.enrich.pii import scrub_payload
from convtrack.enrich.privacy import ConsentGate
from convtrack.errors import ConvtrackError
from convtrack.events import Event, EventIn, Rejected
from convtrack.forward.routing import Router
from convtrack.ids import new_event_id
from convtrack.plan.active import ActivePlan
from convtrack.store.writer import Writer

_ACCEPTED_TYPES = (b"application/json", b"text/plain")
_BEFORE_BODY = frozenset({401, 405, 415})  # refused before the body was read
_encode = msgspec.json.Encoder().encode


def client_ip(scope: Scope, trust_forwarded_for: bool) -> str | None:
    if trust_forwarded_for:
        forwarded = header(scope, b"x-forwarded-for")
        if forwarded:
            return forwarded.decode("latin-1").split(",")[0].strip() or None
    client = scope.get("client")
    return client[0] if client else None


def cors_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    origin = header(scope, b"origin")
    if not origin:
        return []
    return [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-credentials", b"true"),
        (b"vary", b"origin"),
    ]


async def preflight(scope: Scope, send: Send) -> None:
    await send_bytes(
        send,
        204,
        b"",
        cors_headers(scope)
        + [
            (b"access-control-allow-methods", b"POST, OPTIONS"),
            (b"access-control-allow-headers", b"authorization, content-type"),
            (b"access-control-max-age", b"86400"),
        ],
    )


@dataclass
class EventsEndpoint:
    settings: Settings
    keys: KeyRing
    writer: Writer
    plan: ActivePlan
    gate: ConsentGate | None = None  # the server passes its one gate; else built here
    router: Router | None = None  # forwarding jobs of the conversions (forward.routing)
    cookie: IdentityCookie | None = field(init=False)

    def __post_init__(self) -> None:
        self.cookie = IdentityCookie.from_settings(self.settings)
        if self.gate is None:
            self.gate = ConsentGate(self.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await preflight(scope, send)
            return
        cors = cors_headers(scope)
        try:
            if method != "POST":
                raise ConvtrackError("method_not_allowed", "Use POST for /v1/events.", 405)
            status, body, headers = await self._handle(scope, receive)
        except ConvtrackError as err:
            extra = {k.decode(): v.decode() for k, v in cors}
            if err.status in _BEFORE_BODY:  # the body may be unread: don't reuse the connection
                extra["connection"] = "close"
            if extra:  # a copy: errors such as auth.MISSING are shared module-level objects
                err = ConvtrackError(
                    err.code, err.message, err.status, err.details, err.headers | extra
                )
            await send_error(send, err)
            return
        await send_json(send, status, body, cors + headers)

    async def _handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        ctype = (header(scope, b"content-type") or b"application/json").split(b";")[0].strip()
        if ctype.lower() not in _ACCEPTED_TYPES:
            raise ConvtrackError(
                "unsupported_media_type",
                "Send the body as application/json or text/plain JSON.",
                415,
            )
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        record = self.keys.authenticate(
            key_from_authorization(header(scope, b"authorization")),
            (query.get("k") or [None])[0],
        )
        body = await read_body(
            receive, self.settings.max_body_bytes, header(scope, b"content-length")
        )
        items, batch_sent_at, is_batch = decode_body(body)
        if is_batch and len(items) > self.settings.max_batch_events:
            raise ConvtrackError(
                "too_many_events",
                f"A batch holds at most {self.settings.max_batch_events} events; got {len(items)}.",
                413,
            )
        if self.settings.honor_gpc and header(scope, b"sec-gpc") == b"1":
            mark_gpc(items)
        gate = self._gate
        region = gate.region(header(scope, gate.region_header) if gate.region_header else None)
        anonymous_id = None
        if self.cookie is not None and record.kind != "secret":
            anonymous_id = settle_events(
                items, self.cookie.read(scope), lambda c: gate.analytics_full(c, region)
            )
        ua = header(scope, b"user-agent")
        origin = Origin(
            source="server" if record.kind == "secret" else "tag",
            key_id=record.key_id,
            trusted=record.kind == "secret",
            ip=client_ip(scope, self.settings.trust_forwarded_for),
            user_agent=ua.decode("latin-1")[:512] if ua else None,
            received_at=datetime.now(UTC),
        )
        events, errors, rejected, warnings = self._check(items, origin, batch_sent_at, is_batch)
        kept = [e for e in events if gate.apply(e, region) is not None]
        if self.router is not None:  # after consent: the decision gates each destination
            self.router.route(kept, self.plan.compiled)
        await self.writer.write(kept, rejected)
        if rejected and not events:
            raise ConvtrackError(
                "no_valid_events",
                "No event in the request was valid; see details (each is kept in quarantine).",
                422,
                details=errors,
            )
        result: dict[str, Any] = {
            "accepted": len(kept),
            "rejected": len(rejected),
            "errors": errors,
            "warnings": warnings,
        }
        if len(kept) < len(events):  # valid, but consent allows storing nothing of them
            result["dropped"] = len(events) - len(kept)
        if anonymous_id is None or self.cookie is None:
            return 200, result, []
        result["anonymous_id"] = anonymous_id  # the tag keeps a copy (the cookie is HttpOnly)
        return 200, result, [self.cookie.set_cookie(scope, anonymous_id)]

    @property
    def _gate(self) -> ConsentGate:
        assert self.gate is not None  # set in __post_init__
        return self.gate

    def _check(
        self,
        items: list[EventIn | Invalid],
        origin: Origin,
        batch_sent_at: datetime | int | None,
        is_batch: bool,
    ) -> tuple[list[Event], list[dict[str, Any]], list[Rejected], list[dict[str, Any]]]:
        plan = self.plan.compiled  # one plan for the whole request, even across a reload
        keep_raw = self.settings.store_raw_pii
        currency = self.settings.default_currency
        max_future = timedelta(seconds=self.settings.max_future_seconds)
        events: list[Event] = []
        errors: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        warnings: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            index = i if is_batch else None
            version = None
            if isinstance(item, Invalid):
                problems, raw = [item.issue], item.raw
            else:
                result = to_event(
                    index,
                    item,
                    origin,
                    batch_sent_at,
                    default_currency=currency,
                    max_future=max_future,
                )
                if isinstance(result, Event):
                    verdict = apply_plan(plan, result, index)
                    warnings += verdict.warnings
                    if not verdict.issues:
                        events.append(result)
                        continue
                    problems, version = verdict.issues, plan.version
                else:
                    problems = [result]
                raw = msgspec.to_builtins(item)
            errors += problems
            rejected.append(
                quarantine_record(problems, raw, origin, keep_raw, version, batch_sent_at)
            )
        return events, errors, rejected, warnings


def quarantine_record(
    reasons: list[dict[str, Any]],
    raw: Any,
    origin: Origin,
    keep_raw: bool,
    plan_version: str | None = None,
    batch_sent_at: datetime | int | None = None,
) -> Rejected:
    """The quarantine row: the payload (identifiers hashed) and what replay needs again."""
    payload = raw if keep_raw else scrub_payload(raw)
    name = raw.get("event_name") if isinstance(raw, dict) else None
    return Rejected(
        reject_id=new_event_id(),
        received_at=origin.received_at,
        source=origin.source,
        payload=_encode(payload).decode(),
        reasons=reasons,
        key_id=origin.key_id,
        plan_version=plan_version,
        event_name=name[:128] if isinstance(name, str) else None,
        ip=origin.ip,
        user_agent=origin.user_agent,
        batch_sent_at=_as_datetime(batch_sent_at) if batch_sent_at is not None else None,
    )
