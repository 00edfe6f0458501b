"""Google Play install referrers on install events (specs/tracking-protocols.md §8.4).

An app reads the referrer once on first run and sends it on its install event, as
``properties.install_referrer`` or ``properties.referrer`` (or ``context.referrer``): the
URL-decoded ``referrer=`` value of the Play Store link, a query string such as
``utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=…&ct_click=…``. Its campaign
fields and click ids become the event's campaign, so the install is a touch and a conversion
attributed like a web click; ``ct_click`` (a convtrack click link's click id, see
collect/links.py) is kept in ``properties.ct_click`` and names the click it came from.
Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import msgspec

from convtrack.events import CAMPAIGN_FIELDS, Event

INSTALL_NAMES = frozenset({"app_install", "Application Installed"})
CLICK_ID = "ct_click"  # the click id a convtrack click link adds (collect/links.py)
REFERRER_KEYS = ("install_referrer", "referrer")
MAX_REFERRER = 4096
_FIELDS = frozenset(CAMPAIGN_FIELDS)
_LIMITS = {name: 512 if name in ("gclid", "fbclid") else 256 for name in CAMPAIGN_FIELDS}


def parse(referrer: str) -> dict[str, str]:
    """The query pairs of an install referrer, decoded once more when it came double-encoded
    (``utm_source%3Dx%26…``); a Play Store URL's own ``referrer=`` is unwrapped."""
    text = referrer.strip()[:MAX_REFERRER]
    if "://" in text:  # the whole store link: take its referrer parameter
        inner = dict(parse_qsl(urlsplit(text).query)).get("referrer", "")
        text = inner
    if "=" not in text and "%3D" in text.upper():
        text = unquote(text)
    pairs = dict(parse_qsl(text, max_num_fields=200))
    if not any(k in _FIELDS or k == CLICK_ID for k in pairs) and "%3D" in text.upper():
        pairs = dict(parse_qsl(unquote(text), max_num_fields=200))
    return {k: v for k, v in pairs.items() if v}


def referrer_of(event: Event) -> str | None:
    for key in REFERRER_KEYS:
        if isinstance(value := event.properties.get(key), str) and "=" in unquote(value):
            return value
    ref = event.context.referrer
    if ref and "=" in unquote(ref) and ("://" not in ref or "referrer=" in ref):
        return ref
    return None


def apply(event: Event) -> Event:
    """Fill an install event's campaign from its Play install referrer (in place)."""
    if event.event_name not in INSTALL_NAMES or (referrer := referrer_of(event)) is None:
        return event
    pairs = parse(referrer)
    given = msgspec.structs.asdict(event.campaign)
    fields: dict[str, Any] = {
        k: v[: _LIMITS[k]] for k, v in pairs.items() if k in _FIELDS and given.get(k) is None
    }
    if click := pairs.get(CLICK_ID):
        event.properties.setdefault(CLICK_ID, click[:128])
    if stamp := _click_time(event.properties):
        fields.setdefault("click_at", stamp)
    if fields:
        event.campaign = msgspec.structs.replace(event.campaign, **fields)
    return event


def _click_time(props: dict[str, Any]) -> datetime | None:
    """``referrer_click_timestamp_seconds`` (Play's click time) when the app sent it."""
    for key in ("referrer_click_timestamp_server_seconds", "referrer_click_timestamp_seconds"):
        value = props.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return datetime.fromtimestamp(value, tz=UTC)
    return None
