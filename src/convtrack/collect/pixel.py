"""``GET /p.gif`` and ``GET /p``: the no-JavaScript pixel.

Event fields travel as query parameters with short names (docs/pixel.md). The answer is
always the 43-byte transparent GIF with no-cache headers, whatever the parameters: a bad
hit is quarantined with its reasons (or, without a valid key, only counted and logged), never
a broken image. The hit is queued for the next group commit without waiting for it: an image
request has no way to act on a failure, so holding it open would cost throughput for nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import msgspec

from convtrack.asgi import Receive, Scope, Send, header
from convtrack.collect.auth import KeyRing
from convtrack.collect.events_api import client_ip, quarantine_record
from convtrack.collect.identity import IdentityCookie, settle_hit
from convtrack.collect.parse import Origin, to_event, validation_issue
from convtrack.collect.plan_check import apply_plan
from convtrack.config import Settings
from convtrack.enrich.privacy import ConsentGate
from convtrack.errors import ConvtrackError
from convtrack.events import CAMPAIGN_FIELDS, Consent, Event, EventIn
from convtrack.forward.routing import Router
from convtrack.plan.active import ActivePlan
from convtrack.store.writer import Writer

log = logging.getLogger("convtrack.pixel")

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", b"43"),
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
_START = {"type": "http.response.start", "status": 200, "headers": _HEADERS}
_BODY = {"type": "http.response.body", "body": GIF}

# Short query names → EventIn fields (docs/pixel.md).
TOP = {
    "e": "event_name", "t": "type", "id": "event_id", "ts": "timestamp", "a": "anonymous_id",
    "u": "user_id", "s": "session_id", "v": "value", "cur": "currency", "oid": "order_id",
}  # fmt: skip
CONTEXT = {"url": "url", "ref": "referrer", "ti": "title", "lc": "locale"}
IDENTIFIERS = {
    "em": "email", "ph": "phone", "xid": "external_id", "fn": "first_name", "ln": "last_name",
    "ct": "city", "st": "state", "zp": "zip", "country": "country", "db": "date_of_birth",
    "ge": "gender",
}  # fmt: skip
CONSENT = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
CAMPAIGN = {name: name for name in CAMPAIGN_FIELDS} | {"ca": "click_at", "fbc": "fbc", "fbp": "fbp"}


MAX_PARAMS = 200


def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """``a=1&b=x%20y`` → pairs; blank values skipped, at most MAX_PARAMS kept.

    A lean ``parse_qsl``: most pixel values need no unquoting, so only those that do pay.
    """
    text = raw.decode("utf-8", "replace")
    pairs = []
    for part in text.split("&", MAX_PARAMS)[:MAX_PARAMS]:
        name, _, value = part.partition("=")
        if not value:
            continue
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        pairs.append((name, value))
    return pairs


def hit_to_dict(params: list[tuple[str, str]], referer: str | None) -> dict[str, Any]:
    """Pixel query parameters → an EventIn-shaped dict (unknown names go to properties)."""
    out: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    props: dict[str, Any] = {}
    for name, value in params:
        if name == "k":
            continue
        if name in TOP:
            out[TOP[name]] = value
        elif name in CONTEXT:
            groups.setdefault("context", {})[CONTEXT[name]] = value
        elif name in CAMPAIGN:
            groups.setdefault("campaign", {})[CAMPAIGN[name]] = value
        elif name in IDENTIFIERS:
            groups.setdefault("identifiers", {})[IDENTIFIERS[name]] = value
        elif name in CONSENT:
            groups.setdefault("consent", {})[name] = value
        elif name.startswith("p.") and len(name) > 2:
            props[name[2:]] = value
        else:
            props[name] = value
    if referer and "url" not in groups.get("context", {}):
        groups.setdefault("context", {})["url"] = referer
    out.setdefault("type", "track" if "event_name" in out else "page")
    out.update(groups)
    if props:
        out["properties"] = props
    return out


@dataclass
class PixelEndpoint:
    settings: Settings
    keys: KeyRing
    writer: Writer
    plan: ActivePlan
    gate: ConsentGate | None = None  # the server passes its one gate; else built here
    router: Router | None = None  # forwarding jobs of the conversions (forward.routing)
    dropped: dict[str, int] = field(default_factory=dict)
    cookie: IdentityCookie | None = field(init=False)

    def __post_init__(self) -> None:
        self.cookie = IdentityCookie.from_settings(self.settings)
        if self.gate is None:
            self.gate = ConsentGate(self.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = _START
        try:
            set_cookie = self._record(scope)
            if set_cookie is not None:
                start = {**_START, "headers": [*_HEADERS, set_cookie]}
        except ConvtrackError as err:
            self._drop(err.code)
        except Exception:  # never a broken image
            log.exception("pixel hit could not be recorded")
            self._drop("internal_error")
        await send(start)
        await send(_BODY)

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        log.warning("pixel hit not stored: %s", reason)

    def _record(self, scope: Scope) -> tuple[bytes, bytes] | None:
        """Store (or quarantine) the hit; return the anonymous-id cookie to set, if any."""
        params = parse_query(scope.get("query_string", b""))
        key = next((v for k, v in params if k == "k"), None)
        record = self.keys.authenticate(None, key)
        ua = header(scope, b"user-agent")
        referer = header(scope, b"referer")
        origin = Origin(
            source="pixel",
            key_id=record.key_id,
            trusted=False,
            ip=client_ip(scope, self.settings.trust_forwarded_for),
            user_agent=ua.decode("latin-1")[:512] if ua else None,
            received_at=datetime.now(UTC),
        )
        raw = hit_to_dict(params, referer.decode("latin-1")[:2048] if referer else None)
        if self.settings.honor_gpc and header(scope, b"sec-gpc") == b"1":
            raw.setdefault("consent", {}).setdefault("gpc", True)
        gate = self.gate
        assert gate is not None  # set in __post_init__
        region = gate.region(header(scope, gate.region_header) if gate.region_header else None)
        set_cookie = None
        if self.cookie is not None:
            allowed = gate.analytics_full(_consent(raw), region)
            if aid := settle_hit(raw, self.cookie.read(scope), allowed):
                set_cookie = self.cookie.set_cookie(scope, aid)
        try:
            event_in = msgspec.convert(raw, EventIn, strict=False)
        except msgspec.ValidationError as exc:
            result: Event | dict[str, Any] = validation_issue(None, exc)
        else:
            result = to_event(
                None,
                event_in,
                origin,
                None,
                default_currency=self.settings.default_currency,
                max_future=timedelta(seconds=self.settings.max_future_seconds),
            )
        keep_raw = self.settings.store_raw_pii
        if not isinstance(result, Event):
            self.writer.submit([], [quarantine_record([result], raw, origin, keep_raw)])
            return set_cookie
        plan = self.plan.compiled
        issues = apply_plan(plan, result, None).issues
        if issues:
            rej = quarantine_record(issues, raw, origin, keep_raw, plan.version)
            self.writer.submit([], [rej])
        elif (event := gate.apply(result, region)) is not None:
            if self.router is not None:
                self.router.route([event], plan)
            self.writer.submit([event])
        else:  # consent allows storing nothing: counted, not logged (it is the policy)
            self.dropped["consent"] = self.dropped.get("consent", 0) + 1
        return set_cookie


def _consent(raw: dict[str, Any]) -> Consent | None:
    """The hit's consent signals (None: none, or invalid, which quarantines the hit anyway)."""
    given = raw.get("consent")
    if not given:
        return None
    try:
        return msgspec.convert(given, Consent, strict=False)
    except msgspec.ValidationError:
        return None
