"""``POST /v1/events``: the native server and browser API.

Accepts one event or ``{"events": [...]}`` as ``application/json`` or ``text/plain`` (so
browsers can send without a CORS preflight). Answers only after the accepted events are
committed. Each event then goes through the shared ingest pipeline (collect.pipeline: the
tracking plan, consent, routing, storage). Invalid events are quarantined and reported per
index; a batch with nothing valid is a 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from convtrack.asgi import (
    JSON_MEDIA,
    Receive,
    Scope,
    Send,
    header,
    only,
    read_body,
    send_bytes,
    send_error,
    send_json,
)
from convtrack.collect.auth import KeyRing, key_from_authorization
from convtrack.collect.identity import IdentityCookie, mark_gpc, settle_events
from convtrack.collect.parse import Origin, decode_body
from convtrack.collect.pipeline import Pipeline, quarantine_record
from convtrack.config import Settings
from convtrack.enrich.privacy import ConsentGate
from convtrack.errors import ConvtrackError
from convtrack.forward.routing import Router
from convtrack.plan.active import ActivePlan
from convtrack.store.writer import Writer

_BEFORE_BODY = frozenset({401, 405, 415})  # refused before the body was read
__all__ = ["EventsEndpoint", "client_ip", "cors_headers", "preflight", "quarantine_record"]


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
    pipeline: Pipeline = field(init=False)

    def __post_init__(self) -> None:
        self.cookie = IdentityCookie.from_settings(self.settings)
        if self.gate is None:
            self.gate = ConsentGate(self.settings)
        self.pipeline = Pipeline(self.settings, self.writer, self.plan, self.gate, self.router)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await preflight(scope, send)
            return
        cors = cors_headers(scope)
        try:
            only(scope, "POST")
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
        if ctype.lower() not in JSON_MEDIA:
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
        out = await self.pipeline.store(items, origin, region, batch_sent_at, is_batch)
        if out.rejected and not out.valid:
            raise ConvtrackError(
                "no_valid_events",
                "No event in the request was valid; see details (each is kept in quarantine).",
                422,
                details=out.errors,
            )
        result: dict[str, Any] = {
            "accepted": len(out.kept),
            "rejected": len(out.rejected),
            "errors": out.errors,
            "warnings": out.warnings,
        }
        if out.dropped:  # valid, but consent allows storing nothing of them
            result["dropped"] = out.dropped
        if anonymous_id is None or self.cookie is None:
            return 200, result, []
        result["anonymous_id"] = anonymous_id  # the tag keeps a copy (the cookie is HttpOnly)
        return 200, result, [self.cookie.set_cookie(scope, anonymous_id)]

    @property
    def _gate(self) -> ConsentGate:
        assert self.gate is not None  # set in __post_init__
        return self.gate
