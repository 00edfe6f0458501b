# ruff: noqa: S608  (SQL text composed here is our own constant fragments; values are ? parameters)
"""``GET /v1/qa/health``: is the tracking working? One JSON object of figures for a window.

- ``volume``: events per minute by source;
- ``quarantine``: how many events failed validation, as a share of all, and the top reasons;
- ``conversions``: browser-vs-server match (a conversion is one order id, else one event id;
  seen by both, browser only, server only). The sources come from the stored rows and from
  ``event_copies``, which records every accepted copy of a conversion, so a browser and a
  server copy sharing one event id count as seen by both;
- ``dedup``: conversion copies received vs conversions stored in the window (``event_copies``),
  all events received vs stored (the writer's counts since start, when given) and order ids
  stored under more than one event id (duplicates the store cannot see);
- ``destinations``: per destination, match quality (share of its forwarded events carrying
  each identifier), delivery success, latency p50/p95 and dead letters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from convtrack.qa.sql import (
    BROWSER_SOURCES,
    SERVER_SOURCES,
    Conversions,
    Window,
    any_click_id,
    between,
    epoch_bucket,
    from_epoch,
    iso,
    rows,
)
from convtrack.store.base import EventStore, QuarantineFilter

TOP_REASONS = 5
QUOTED_AT = '"at"'
IN_WINDOW = between("received_at")


def _share(part: int | float | None, whole: int | float | None) -> float | None:
    return round(float(part or 0) / float(whole), 4) if whole else None


def volume(store: EventStore, w: Window) -> dict[str, Any]:
    sql = (
        f"SELECT {epoch_bucket('received_at', 60)} AS minute, source, count(*) AS events "
        f"FROM events WHERE {IN_WINDOW} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    found = rows(store, sql, w.params)
    totals: dict[str, int] = {}
    for r in found:
        totals[r["source"]] = totals.get(r["source"], 0) + int(r["events"])
    minutes = max((w.end - w.start).total_seconds() / 60, 1.0)
    return {
        "per_minute": [
            {
                "minute": iso(from_epoch(int(r["minute"]) * 60)),
                "source": r["source"],
                "events": int(r["events"]),
            }
            for r in found
        ],  # fmt: skip
        "by_source": {
            s: {"events": n, "per_minute": round(n / minutes, 3)} for s, n in sorted(totals.items())
        },
        "events": sum(totals.values()),
    }


def quarantine(store: EventStore, w: Window, stored: int) -> dict[str, Any]:
    n = rows(store, f"SELECT count(*) AS n FROM quarantine WHERE {IN_WINDOW}", w.params)[0]["n"]
    reasons = store.quarantine_reasons(QuarantineFilter(since=w.start), TOP_REASONS)
    return {
        "quarantined": int(n),
        "rate": _share(n, int(n) + stored),
        "top_reasons": [{"path": p, "reason": r, "count": c} for p, r, c in reasons],
    }


def _conversion_copies(conv: Conversions) -> str:
    """Each conversion in the window with every source a copy of it came from: the stored row's
    own source, and each source ``event_copies`` recorded (a copy the store did not keep
    because its event_id was stored already). Keyed by order id, else event id.
    Parameters: ``conv.params + w.params``, twice."""
    key = "COALESCE(e.order_id, e.event_id)"
    where = f"{conv.where('e')} AND {between('e.received_at')}"
    return (
        f"SELECT {key} AS k, e.event_id, e.source, 1 AS copies FROM events e WHERE {where} "
        f"UNION ALL SELECT {key} AS k, e.event_id, x.source, x.copies FROM event_copies x "
        f"JOIN events e ON e.event_id = x.event_id WHERE {where}"
    )


def conversion_match(store: EventStore, w: Window, conv: Conversions) -> dict[str, Any]:
    browser = ", ".join(f"'{s}'" for s in BROWSER_SOURCES)
    server = ", ".join(f"'{s}'" for s in SERVER_SOURCES)
    sql = (
        f"WITH s AS ({_conversion_copies(conv)}), c AS (SELECT k, "
        f"max(CASE WHEN source IN ({browser}) THEN 1 ELSE 0 END) AS b, "
        f"max(CASE WHEN source IN ({server}) THEN 1 ELSE 0 END) AS s FROM s GROUP BY 1) "
        "SELECT count(*) AS conversions, "
        "sum(CASE WHEN b = 1 AND s = 1 THEN 1 ELSE 0 END) AS both_, "
        "sum(CASE WHEN b = 1 AND s = 0 THEN 1 ELSE 0 END) AS browser_only, "
        "sum(CASE WHEN b = 0 AND s = 1 THEN 1 ELSE 0 END) AS server_only FROM c"
    )
    r = rows(store, sql, (conv.params + w.params) * 2)[0]
    total = int(r["conversions"] or 0)
    both, b_only, s_only = (int(r[k] or 0) for k in ("both_", "browser_only", "server_only"))
    return {
        "conversions": total,
        "both": both,
        "browser_only": b_only,
        "server_only": s_only,
        "other": total - both - b_only - s_only,
        "match_rate": _share(both, both + b_only + s_only),
    }


def conversion_dedup(store: EventStore, w: Window, conv: Conversions) -> dict[str, Any]:
    """Conversion copies received (``event_copies``) vs conversions stored, in the window."""
    sql = (
        "SELECT count(*) AS stored, sum(copies) AS received FROM (SELECT e.event_id, "
        "sum(x.copies) AS copies FROM events e JOIN event_copies x ON x.event_id = e.event_id "
        f"WHERE {conv.where('e')} AND {between('e.received_at')} GROUP BY 1) t"
    )
    r = rows(store, sql, conv.params + w.params)[0]
    stored, received = int(r["stored"] or 0), int(r["received"] or 0)
    return {
        "received": received,
        "stored": stored,
        "duplicates": received - stored,
        "dedup_rate": _share(received - stored, received),
    }


def dedup(
    store: EventStore, w: Window, writer: Mapping[str, Any] | None, conv: Conversions
) -> dict[str, Any]:
    sql = (
        "SELECT count(*) AS orders, sum(n - 1) AS extra FROM (SELECT order_id, count(*) AS n "
        f"FROM events WHERE order_id IS NOT NULL AND {IN_WINDOW} GROUP BY 1) o"
    )
    r = rows(store, sql, w.params)[0]
    out: dict[str, Any] = {
        "conversions": conversion_dedup(store, w, conv),
        "orders": int(r["orders"] or 0),
        "order_duplicates": int(r["extra"] or 0),
        "order_duplicate_rate": _share(r["extra"], r["orders"]),
        "since_start": None,
    }
    if writer is not None:
        received = int(writer.get("events_committed", 0))
        stored = int(writer.get("events_new", 0))
        out["since_start"] = {
            "received": received,
            "stored": stored,
            "duplicates": received - stored,
            "dedup_rate": _share(received - stored, received),
        }
    return out


def match_quality(store: EventStore, w: Window) -> dict[str, dict[str, Any]]:
    """Per destination: the share of its outbox events (created in the window) carrying
    each identifier the platforms match on."""
    sql = (
        "SELECT o.destination, count(*) AS events, "
        "sum(CASE WHEN e.email_sha256 IS NOT NULL THEN 1 ELSE 0 END) AS email, "
        "sum(CASE WHEN e.phone_sha256 IS NOT NULL THEN 1 ELSE 0 END) AS phone, "
        "sum(CASE WHEN e.fbc IS NOT NULL OR e.fbp IS NOT NULL THEN 1 ELSE 0 END) AS fbc_fbp, "
        f"sum(CASE WHEN {any_click_id()} THEN 1 ELSE 0 END) AS click_id, "
        "sum(CASE WHEN e.ip IS NOT NULL AND e.user_agent IS NOT NULL THEN 1 ELSE 0 END) "
        "AS ip_user_agent FROM outbox o JOIN events e ON e.event_id = o.event_id "
        f"WHERE {between('o.created_at')} GROUP BY 1 ORDER BY 1"
    )
    out = {}
    kinds = ("email", "phone", "fbc_fbp", "click_id", "ip_user_agent")
    for r in rows(store, sql, w.params):
        n = int(r["events"])
        shares = {k: _share(r[k], n) for k in kinds}
        score = round(sum(v or 0.0 for v in shares.values()) / len(kinds), 4)
        out[r["destination"]] = {"events": n, "shares": shares, "score": score}
    return out


def delivery(store: EventStore, w: Window) -> dict[str, dict[str, Any]]:
    sql = (
        "SELECT destination, count(*) AS attempts, "
        "sum(CASE WHEN outcome = 'delivered' THEN 1 ELSE 0 END) AS delivered, "
        "sum(CASE WHEN outcome = 'retry' THEN 1 ELSE 0 END) AS retried, "
        "sum(CASE WHEN outcome = 'dead' THEN 1 ELSE 0 END) AS dead, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, "
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95 "
        f"FROM delivery_log WHERE {between(QUOTED_AT)} GROUP BY 1 ORDER BY 1"
    )
    out = {}
    for r in rows(store, sql, w.params):
        delivered, dead = int(r["delivered"]), int(r["dead"])
        out[r["destination"]] = {
            "attempts": int(r["attempts"]),
            "delivered": delivered,
            "retried": int(r["retried"]),
            "dead_letters": dead,
            "success_rate": _share(delivered, r["attempts"]),
            "latency_ms": {
                "p50": None if r["p50"] is None else round(float(r["p50"]), 3),
                "p95": None if r["p95"] is None else round(float(r["p95"]), 3),
            },
        }
    return out


def destinations(store: EventStore, w: Window) -> dict[str, dict[str, Any]]:
    quality, sent, stats = match_quality(store, w), delivery(store, w), store.outbox_stats()
    out = {}
    for name in sorted(set(quality) | set(sent) | set(stats)):
        st = stats.get(name, {})
        paused = st.get("paused_at")
        out[name] = {
            "match_quality": quality.get(name),
            "delivery": sent.get(name),
            "dead_letters_total": int(st.get("dead", 0) or 0),
            "pending": int(st.get("pending", 0) or 0),
            "paused_at": iso(paused) if paused is not None else None,
            "paused_reason": st.get("reason"),
        }
    return out


def health(
    store: EventStore,
    w: Window,
    writer: Mapping[str, Any] | None = None,
    conv: Conversions | None = None,
) -> dict[str, Any]:
    """Every figure for the window; ``writer`` is the group-commit writer's stats, if any;
    ``conv`` says which events are conversions (``Conversions.of_plan``; by default those
    sent as ``type = 'conversion'``)."""
    conv = conv or Conversions()
    vol = volume(store, w)
    return {
        "window": w.as_json(),
        "volume": vol,
        "quarantine": quarantine(store, w, vol["events"]),
        "conversions": conversion_match(store, w, conv),
        "dedup": dedup(store, w, writer, conv),
        "destinations": destinations(store, w),
    }
