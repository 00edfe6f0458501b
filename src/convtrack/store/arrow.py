"""Canonical events → one Arrow table (the columnar batch every backend appends).

The column list here is the logical ``events`` schema; each backend maps it to its types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pyarrow as pa

from convtrack.events import CAMPAIGN_FIELDS, Event

_json = msgspec.json.Encoder()
TS = pa.timestamp("us", tz="UTC")


def _dump(obj: Any) -> str | None:
    if obj is None:
        return None
    if isinstance(obj, msgspec.Struct):
        obj = msgspec.structs.asdict(obj)
        obj = {k: v for k, v in obj.items() if v is not None}
    return _json.encode(obj).decode() if obj else None


def _pii_raw(e: Event) -> str | None:
    return _dump(e.identifiers) if e.identifiers is not None else None


# (column, arrow type, extractor); order = table column order.
Extractor = Callable[[Event], Any]
COLUMNS: list[tuple[str, pa.DataType, Extractor]] = [
    ("event_id", pa.string(), lambda e: e.event_id),
    ("event_name", pa.string(), lambda e: e.event_name),
    ("type", pa.string(), lambda e: e.type),
    ("source", pa.string(), lambda e: e.source),
    ("occurred_at", TS, lambda e: e.occurred_at),
    ("received_at", TS, lambda e: e.received_at),
    ("sent_at", TS, lambda e: e.sent_at),
    ("client_timestamp", TS, lambda e: e.client_timestamp),
    ("anonymous_id", pa.string(), lambda e: e.anonymous_id),
    ("user_id", pa.string(), lambda e: e.user_id),
    ("session_id", pa.string(), lambda e: e.session_id),
    ("page_url", pa.string(), lambda e: e.context.url),
    ("referrer", pa.string(), lambda e: e.context.referrer),
    ("page_title", pa.string(), lambda e: e.context.title),
    ("user_agent", pa.string(), lambda e: e.context.user_agent),
    ("ip", pa.string(), lambda e: e.context.ip),
    ("locale", pa.string(), lambda e: e.context.locale),
    *[
        (name, pa.string(), (lambda n: lambda e: getattr(e.campaign, n))(name))
        for name in CAMPAIGN_FIELDS
    ],
    ("click_at", TS, lambda e: e.campaign.click_at),
    ("email_sha256", pa.string(), lambda e: e.hashed.email_sha256),
    ("phone_sha256", pa.string(), lambda e: e.hashed.phone_sha256),
    ("external_id_sha256", pa.string(), lambda e: e.hashed.external_id_sha256),
    ("pii_raw", pa.string(), _pii_raw),
    ("consent", pa.string(), lambda e: _dump(e.consent)),
    ("value", pa.float64(), lambda e: e.value),
    ("currency", pa.string(), lambda e: e.currency),
    ("order_id", pa.string(), lambda e: e.order_id),
    ("properties", pa.string(), lambda e: _dump(e.properties)),
    ("key_id", pa.string(), lambda e: e.key_id),
]
COLUMN_NAMES = [c[0] for c in COLUMNS]
JSON_COLUMNS = frozenset({"pii_raw", "consent", "properties"})
SCHEMA = pa.schema([(name, typ) for name, typ, _ in COLUMNS])


def to_arrow(events: Sequence[Event]) -> pa.Table:
    arrays = [pa.array([get(e) for e in events], type=typ) for _, typ, get in COLUMNS]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)
