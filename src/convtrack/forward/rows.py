"""A stored ``events`` row (as the store returns it) → the ``ForwardEvent`` one platform gets.

Personal data leaves only as the hashes stored at ingest: the per-platform hashes
(``pii_hashed``, enrich.pii.platform_identifiers) when the event has them, else the canonical
``*_sha256`` columns. A raw identifier is never read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from convtrack.enrich.normalize import PLATFORMS
from convtrack.enrich.pii import platform_identifiers
from convtrack.events import CLICK_IDS
from convtrack.forward.adjustment import decode
from convtrack.forward.model import ForwardEvent

#: whose hashing rules a destination follows, where its name is not a pii platform
PII_PLATFORM: Mapping[str, str] = {"google_dm": "google", "ga4": "google"}
_CANONICAL = {"email": "email_sha256", "phone": "phone_sha256", "external_id": "external_id_sha256"}
_WEB_SOURCES = frozenset({"tag", "pixel"})
_CONSENT = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
_STATES = ("granted", "denied")
_CLICK_SET = frozenset(CLICK_IDS)  # most conversions have none: one test in C, not 13 .get
_NUMBERS = (Decimal, float, int)  # a tuple: isinstance with a ``X | Y`` union is slower


def _json(raw: Any) -> Any:
    if raw is None or isinstance(raw, dict | list):
        return raw
    return msgspec.json.decode(raw)


def user_data(row: Mapping[str, Any], destination: str) -> dict[str, str]:
    pii = _json(row.get("pii_hashed"))
    platform = PII_PLATFORM.get(destination, destination)
    if pii and platform in PLATFORMS:
        return platform_identifiers(pii, platform)
    return {name: row[column] for name, column in _CANONICAL.items() if row.get(column)}


def action_source(row: Mapping[str, Any], props: Mapping[str, Any]) -> str:
    """Where it happened: the event's own ``action_source`` property, else the web for the
    tag, the pixel and server events with a page URL, else system generated."""
    given = props.get("action_source")
    if isinstance(given, str) and given:
        return given
    if row.get("source") in _WEB_SOURCES or row.get("page_url"):
        return "web"
    return "system_generated"


def contents(props: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    found = props.get("contents")
    if not isinstance(found, list):
        return ()
    return tuple(c for c in found if isinstance(c, dict))


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def forward_event(row: Mapping[str, Any], destination: str, platform_event: str) -> ForwardEvent:
    """The event as ``destination`` gets it, named ``platform_event`` (an adjustment's job
    names ``<type>:<platform event>``, see forward.adjustment)."""
    adjustment, platform_event = decode(platform_event)
    get = row.get  # ~40 lookups an event: bound once
    props = dict(_json(get("properties")) or {})
    if destination == "google_dm":
        props["conversion_action_id"] = platform_event
    consent = _json(get("consent")) or {}
    value = get("value")
    ttp = props.get("ttp")
    return ForwardEvent(
        event_id=row["event_id"],
        event_name=platform_event,
        occurred_at=aware(row["occurred_at"]),
        source=action_source(row, props),
        page_url=get("page_url"),
        referrer=get("referrer"),
        client_ip=get("ip"),
        user_agent=get("user_agent"),
        click_ids={} if _CLICK_SET.isdisjoint(row) else {k: v for k in CLICK_IDS if (v := get(k))},
        fbc=get("fbc"),
        fbp=get("fbp"),
        ttp=ttp if isinstance(ttp, str) else None,
        anonymous_id=get("anonymous_id"),
        user_id=get("user_id"),
        user_data=user_data(row, destination),
        value=float(value) if isinstance(value, _NUMBERS) else None,
        currency=get("currency"),
        order_id=get("order_id"),
        contents=contents(props),
        consent={k: v for k in _CONSENT if (v := consent.get(k)) in _STATES},
        properties=props,
        kind="conversion" if adjustment is None else "adjustment",
        adjustment_type=adjustment,
        original_order_id=get("order_id") if adjustment else None,
    )
