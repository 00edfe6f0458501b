"""Canonical events → one Arrow table (the columnar batch every backend appends).

The column list here is the logical ``events`` schema; each backend maps it to its types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import msgspec
import pyarrow as pa

from convtrack.events import CAMPAIGN_FIELDS, DecisionRecord, Event

_json = msgspec.json.Encoder()
TS = pa.timestamp("us", tz="UTC")


def _dump(obj: Any) -> str | None:
    """JSON text, or None for nothing/empty (wire structs omit unset fields themselves)."""
    if obj is None:
        return None
    text = _json.encode(obj)
    return None if text == b"{}" else text.decode()


def _pii_raw(e: Event) -> str | None:
    return _dump(e.identifiers) if e.identifiers is not None else None


def _consent_decision(e: Event) -> str | None:
    """The record's JSON text as enrich.privacy encoded it once per decision (a plain dict,
    as tests build, is encoded here: the same text)."""
    record = e.consent_decision
    if isinstance(record, DecisionRecord):
        return None if record.json == "{}" else record.json
    return _dump(record)


# (column, arrow type, extractor); order = table column order. attrgetter keeps the
# per-value work in C: this runs for every column of every event.
Extractor = Callable[[Event], Any]
_get = attrgetter
COLUMNS: list[tuple[str, pa.DataType, Extractor]] = [
    ("event_id", pa.string(), _get("event_id")),
    ("event_name", pa.string(), _get("event_name")),
    ("type", pa.string(), _get("type")),
    ("source", pa.string(), _get("source")),
    ("occurred_at", TS, _get("occurred_at")),
    ("received_at", TS, _get("received_at")),
    ("sent_at", TS, _get("sent_at")),
    ("client_timestamp", TS, _get("client_timestamp")),
    ("anonymous_id", pa.string(), _get("anonymous_id")),
    ("user_id", pa.string(), _get("user_id")),
    ("session_id", pa.string(), _get("session_id")),
    ("page_url", pa.string(), _get("context.url")),
    ("referrer", pa.string(), _get("context.referrer")),
    ("page_title", pa.string(), _get("context.title")),
    ("user_agent", pa.string(), _get("context.user_agent")),
    ("ip", pa.string(), _get("context.ip")),
    ("locale", pa.string(), _get("context.locale")),
    *[(name, pa.string(), _get(f"campaign.{name}")) for name in CAMPAIGN_FIELDS],
    ("click_at", TS, _get("campaign.click_at")),
    ("fbc", pa.string(), _get("campaign.fbc")),
    ("fbp", pa.string(), _get("campaign.fbp")),
    ("email_sha256", pa.string(), _get("hashed.email_sha256")),
    ("phone_sha256", pa.string(), _get("hashed.phone_sha256")),
    ("external_id_sha256", pa.string(), _get("hashed.external_id_sha256")),
    ("advertising_id_sha256", pa.string(), _get("hashed.advertising_id_sha256")),
    ("pii_raw", pa.string(), _pii_raw),
    ("consent", pa.string(), lambda e: _dump(e.consent)),
    ("pii_hashed", pa.string(), lambda e: _dump(e.pii) if e.pii else None),
    ("consent_decision", pa.string(), _consent_decision),
    ("value", pa.float64(), _get("value")),
    ("currency", pa.string(), _get("currency")),
    ("order_id", pa.string(), _get("order_id")),
    ("properties", pa.string(), lambda e: _dump(e.properties)),
    ("key_id", pa.string(), _get("key_id")),
    ("plan_version", pa.string(), _get("plan_version")),
]
COLUMN_NAMES = [c[0] for c in COLUMNS]
JSON_COLUMNS = frozenset({"pii_raw", "consent", "pii_hashed", "consent_decision", "properties"})
SCHEMA = pa.schema([(name, typ) for name, typ, _ in COLUMNS])


def column_values(events: Sequence[Event]) -> list[list[Any]]:
    """Each column's values, in ``COLUMNS`` order (the first half of ``to_arrow``)."""
    return [list(map(get, events)) for _, _, get in COLUMNS]


def to_arrow(events: Sequence[Event]) -> pa.Table:
    arrays = [
        pa.array(values, type=typ)
        for values, typ in zip(column_values(events), SCHEMA.types, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)
