"""``GET /v1/debug/events``: the latest events, good and quarantined, for the live debugger.

Query: ``anonymous_id``, ``event_name``, ``source`` (exact matches; empty means any) and
``limit`` (1..500, default 50). Answer: ``{"events": [...]}``, newest first, each item with
``status`` (``accepted`` or ``quarantined``), the event's id (``event_id`` or ``reject_id``),
name, source, anonymous id, times, its ``validation`` (``valid`` and the quarantine
``reasons``) and, for stored events, the ``consent`` decision applied at ingest.
Authorised like the dashboard: a signed-in session or the admin token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from convtrack.asgi import Receive, Scope, Send, only, send_json
from convtrack.errors import ConvtrackError
from convtrack.store.base import EventStore

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
FILTERS = ("anonymous_id", "event_name", "source")
EVENT_COLUMNS = (
    "event_id", "event_name", "type", "source", "anonymous_id", "user_id",
    "occurred_at", "received_at", "page_url", "value", "currency", "consent_decision",
)  # fmt: skip


def _json(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _text(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def parse_filters(query: dict[str, list[str]]) -> tuple[dict[str, str], int]:
    unknown = sorted(set(query) - {*FILTERS, "limit"})
    if unknown:
        raise ConvtrackError(
            "invalid_debug_parameter",
            f"unknown parameter {', '.join(unknown)}; known: {', '.join((*FILTERS, 'limit'))}",
        )
    filters = {k: query[k][0] for k in FILTERS if query.get(k) and query[k][0]}
    try:
        limit = int((query.get("limit") or [str(DEFAULT_LIMIT)])[0])
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ConvtrackError("invalid_debug_parameter", f"limit must be an integer 1..{MAX_LIMIT}")
    return filters, limit


def accepted(store: EventStore, filters: dict[str, str], limit: int) -> list[dict[str, Any]]:
    where = " AND ".join(f"{k} = ?" for k in filters) or "TRUE"
    sql = (
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE {where}"  # noqa: S608
        " ORDER BY received_at DESC, event_id DESC LIMIT ?"
    )
    result = store.query(sql, [*filters.values(), limit])
    out = []
    for row in result.rows:
        item = dict(zip(result.columns, row, strict=True))
        consent = _json(item.pop("consent_decision"))
        value = item.pop("value")
        out.append({
            "status": "accepted", **{k: _text(v) for k, v in item.items()},
            "value": None if value is None else float(value),
            "validation": {"valid": True, "reasons": []}, "consent": consent,
        })  # fmt: skip
    return out


def _anonymous_id(payload: Any) -> str | None:
    if isinstance(payload, dict):
        found = payload.get("anonymous_id") or payload.get("anonymousId")
        return found if isinstance(found, str) else None
    return None


def quarantined(store: EventStore, filters: dict[str, str], limit: int) -> list[dict[str, Any]]:
    clauses, params = [], []
    for key in ("event_name", "source"):
        if key in filters:
            clauses.append(f"{key} = ?")
            params.append(filters[key])
    anon = filters.get("anonymous_id")
    if anon is not None:  # a cheap filter first; the exact check is on the parsed payload
        clauses.append("strpos(payload, ?) > 0")
        params.append(anon)
    where = " AND ".join(clauses) or "TRUE"
    sql = (
        "SELECT reject_id, event_name, source, received_at, status, reasons, payload"  # noqa: S608
        f" FROM quarantine WHERE {where} ORDER BY received_at DESC, reject_id DESC LIMIT ?"
    )
    result = store.query(sql, [*params, limit])
    out = []
    for row in result.rows:
        item = dict(zip(result.columns, row, strict=True))
        payload = _json(item.pop("payload"))
        anonymous_id = _anonymous_id(payload)
        if anon is not None and anonymous_id != anon:
            continue
        reasons = _json(item.pop("reasons")) or []
        replay = item.pop("status")  # quarantined, or replayed since
        out.append({
            "status": "quarantined", **{k: _text(v) for k, v in item.items()},
            "anonymous_id": anonymous_id, "validation": {"valid": False, "reasons": reasons},
            "consent": None, "quarantine_status": replay,
        })  # fmt: skip
    return out


def latest(store: EventStore, filters: dict[str, str], limit: int) -> dict[str, Any]:
    rows = accepted(store, filters, limit) + quarantined(store, filters, limit)
    rows.sort(key=lambda r: str(r["received_at"]), reverse=True)
    return {"events": rows[:limit], "filters": filters, "limit": limit}


@dataclass
class DebugEvents:
    store: EventStore
    authorise: Callable[[Scope], None]  # raises ConvtrackError 401

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope)
        self.authorise(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        filters, limit = parse_filters(query)
        await send_json(send, 200, await asyncio.to_thread(latest, self.store, filters, limit))
