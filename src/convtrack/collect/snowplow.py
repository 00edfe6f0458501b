"""The Snowplow tracker protocol: a collector Snowplow trackers can point at (specs §2).

``GET /i`` (and ``/ice.png``): one event as a query string, answered with the collector's
1×1 GIF; ``POST /com.snowplowanalytics.snowplow/tp2``: a ``payload_data`` body of events,
answered ``200 ok`` (text/plain); ``OPTIONS``: the collector's CORS preflight. Events are
mapped by collect.snowplow_map and then go through the same pipeline as native events. The
answer comes once they are committed; invalid events are quarantined with their reasons and
the request still succeeds (the collector accepts what it can parse, as Snowplow's does).

Write key: Snowplow trackers cannot easily send headers, so besides ``Authorization`` (Bearer
or Basic, e.g. a ``requests.Session`` given to the Python emitter) a public key may travel as
``?k=`` on the URL or as the tracker's app id (``aid``). Secret keys only in ``Authorization``.

The network user id cookie (``sp``, one year) is the anonymous id of events without a domain
user id (``duid``); it is read and set like the anonymous-id cookie (collect.identity): never
for secret keys, nor when the consent decision does not store analytics data in full, nor with
``SP-Anonymous`` (which also drops the IP address).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from convtrack.asgi import Receive, Scope, Send, header, only, send_bytes, send_json
from convtrack.collect.auth import INVALID, KeyRing, key_from_authorization
from convtrack.collect.body import decode_json, read_decoded_body
from convtrack.collect.events_api import client_ip, cors_headers
from convtrack.collect.identity import IdentityCookie, mark_gpc, new_anonymous_id
from convtrack.collect.parse import Invalid, Origin
from convtrack.collect.pipeline import Pipeline
from convtrack.collect.pixel import parse_query
from convtrack.collect.snowplow_map import PAYLOAD_SCHEMA, fold_items, to_item
from convtrack.errors import ConvtrackError
from convtrack.events import EventIn
from convtrack.store.base import KeyRecord

TP2 = "/com.snowplowanalytics.snowplow/tp2"
PIXEL_PATHS = ("/i", "/ice.png")
COOKIE_NAME = "sp"
COOKIE_DAYS = 365
KEY_PREFIX = "ctk_"
GIF = base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
_GIF_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"cache-control", b"no-cache, no-store, must-revalidate"),
]
_OK_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
_PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type, SP-Anonymous, Authorization"),
    (b"access-control-max-age", b"3600"),
]
_ACCEPTED_TYPES = (b"application/json", b"text/plain", b"")

MISSING = ConvtrackError(
    "missing_key",
    "No write key: set the tracker's app id to a convtrack public key, add `?k=<public key>` "
    "to the URL, or send `Authorization: Bearer <key>`.",
    401,
)
SECRET_AS_APP_ID = ConvtrackError(
    "secret_key_in_url",
    "Secret keys must not be sent as the app id or in URLs; send them in the Authorization "
    "header and rotate this one.",
    401,
)


@dataclass
class SnowplowEndpoint:
    pipeline: Pipeline
    keys: KeyRing
    cookie: IdentityCookie = field(init=False)

    def __post_init__(self) -> None:
        s = self.pipeline.settings
        attrs = f"; Max-Age={COOKIE_DAYS * 86400}; Path=/; SameSite=Lax; HttpOnly"
        if s.cookie_domain:
            attrs += f"; Domain={s.cookie_domain}"
        self.cookie = IdentityCookie(COOKIE_NAME.encode(), attrs.encode(), s.trust_forwarded_for)

    def routes(self) -> dict[str, SnowplowEndpoint]:
        return dict.fromkeys((*PIXEL_PATHS, TP2), self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cors = cors_headers(scope)
        method = scope["method"]
        if method == "OPTIONS":
            await send_bytes(send, 200, b"", cors + _PREFLIGHT_HEADERS)
            return
        try:
            if scope["path"] == TP2:
                only(scope, "POST")
                cookie = await self._post(scope, receive)
                status, body, headers = 200, b"ok", _OK_HEADERS
            else:
                only(scope)
                cookie = await self._get(scope)
                status, body, headers = 200, GIF if method == "GET" else b"", _GIF_HEADERS
        except ConvtrackError as err:
            extra = [(k.encode(), v.encode()) for k, v in err.headers.items()]
            await send_json(send, err.status, err.body(), cors + extra)
            return
        await send_bytes(send, status, body, headers + cors + cookie)

    async def _get(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        raw = scope.get("query_string", b"")
        limit = self.pipeline.settings.max_body_bytes
        if len(raw) > limit:
            raise ConvtrackError(
                "uri_too_long", f"The query string is longer than {limit} bytes; use POST.", 414
            )
        params = dict(parse_query(raw))
        url_key = params.pop("k", None)
        params.pop("u", None)  # reserved for the redirect target (specs §2.1)
        return await self._store(scope, [params], url_key, is_batch=False)

    async def _post(self, scope: Scope, receive: Receive) -> list[tuple[bytes, bytes]]:
        settings = self.pipeline.settings
        ctype = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype not in _ACCEPTED_TYPES:
            raise ConvtrackError(
                "unsupported_media_type", "Send payload_data as application/json.", 415
            )
        doc = decode_json(await read_decoded_body(scope, receive, settings.max_body_bytes))
        events = payload_events(doc)
        if len(events) > settings.max_batch_events:
            raise ConvtrackError(
                "too_many_events",
                f"A request holds at most {settings.max_batch_events} events; got {len(events)}.",
                413,
            )
        query = dict(parse_query(scope.get("query_string", b"")))
        return await self._store(scope, events, query.get("k"), is_batch=True)

    async def _store(
        self, scope: Scope, events: list[Any], url_key: str | None, is_batch: bool
    ) -> list[tuple[bytes, bytes]]:
        """Authenticate, map, settle identities and store ``events``; the cookie to set."""
        settings = self.pipeline.settings
        record, key_in_aid = self._authenticate(scope, events, url_key)
        items = [to_item(e, i if is_batch else None, key_in_aid) for i, e in enumerate(events)]
        fold_items(items)  # a transaction's items become its contents
        if settings.honor_gpc and header(scope, b"sec-gpc") == b"1":
            mark_gpc(items)
        gate = self.pipeline.gate
        region = gate.region(header(scope, gate.region_header) if gate.region_header else None)
        anonymous = header(scope, b"sp-anonymous") is not None
        browser = record.kind != "secret" and not anonymous
        network_id = None
        if browser and gate.analytics_full(_first_consent(items), region):
            network_id = self.cookie.read(scope) or new_anonymous_id()
        fill_anonymous_ids(items, network_id)
        ua = header(scope, b"user-agent")
        origin = Origin(
            source="snowplow",
            key_id=record.key_id,
            trusted=record.kind == "secret",
            ip=None if anonymous else client_ip(scope, settings.trust_forwarded_for),
            user_agent=ua.decode("latin-1")[:512] if ua else None,
            received_at=datetime.now(UTC),
        )
        await self.pipeline.store(items, origin, region, None, is_batch)
        return [self.cookie.set_cookie(scope, network_id)] if network_id else []

    def _authenticate(
        self, scope: Scope, events: list[Any], url_key: str | None
    ) -> tuple[KeyRecord, bool]:
        """(the key, whether it came as the app id): header, else ``?k=``, else ``aid``."""
        header_key = key_from_authorization(header(scope, b"authorization"))
        if header_key or url_key:
            return self.keys.authenticate(header_key, url_key), False
        aid = next((e["aid"] for e in events if _is_key(e)), None)
        if aid is None:
            raise MISSING
        record = self.keys.lookup(aid)
        if record is None:
            raise INVALID
        if record.kind == "secret":
            raise SECRET_AS_APP_ID
        return record, True


def payload_events(doc: Any) -> list[Any]:
    """The events of a ``payload_data`` body (specs §2.2): at least one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise ConvtrackError(
            "invalid_payload",
            f'Send {{"schema": "{PAYLOAD_SCHEMA}4", "data": [event, …]}}.',
            400,
        )
    schema = doc.get("schema")
    if not isinstance(schema, str) or not schema.startswith(PAYLOAD_SCHEMA):
        raise ConvtrackError(
            "invalid_payload", f"schema must be {PAYLOAD_SCHEMA}<n>; got {schema!r}.", 400
        )
    if not doc["data"]:
        raise ConvtrackError("invalid_payload", "data must hold at least one event.", 400)
    return list(doc["data"])


def fill_anonymous_ids(items: list[EventIn | Invalid], network_id: str | None) -> None:
    """Events without an anonymous id take the network user id, else one id of this request
    only (anonymous tracking, or no consent to keep one: the consent gate decides the rest)."""
    fallback = network_id
    for item in items:
        if isinstance(item, EventIn) and item.anonymous_id is None:
            fallback = fallback or new_anonymous_id()
            item.anonymous_id = fallback


def _is_key(event: Any) -> bool:
    return isinstance(event, dict) and str(event.get("aid", "")).startswith(KEY_PREFIX)


def _first_consent(items: list[EventIn | Invalid]) -> Any:
    return next((i.consent for i in items if isinstance(i, EventIn)), None)
