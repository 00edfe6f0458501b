"""The ground truth of a simulation, as one JSON document (``--truth FILE``).

It holds the true model (channel and campaign conversion probabilities), each conversion with
the touch that truly drove it and the path before it, per-channel totals, and who is who
(person → user id and anonymous ids), so attribution and identity stitching can be scored.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from convtrack.simulate.hits import Delivery
from convtrack.simulate.journeys import Conversion, Journey, Touch
from convtrack.simulate.simulation import Simulation

FORMAT = "convtrack-simulate-truth/1"


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def touch_view(j: Journey, t: Touch) -> dict[str, Any]:
    view: dict[str, Any] = {
        "touch": t.index,
        "at": iso(t.at),
        "channel": t.channel.name,
        "campaign": t.campaign.name if t.campaign else None,
        "session_id": t.session_id,
        "anonymous_id": j.person.devices[t.device].anonymous_id,
    }
    if t.click_id and t.channel.click_id:
        view[t.channel.click_id] = t.click_id
    return view


def conversion_view(j: Journey, c: Conversion, copies: list[Delivery]) -> dict[str, Any]:
    event = next(d.event for d in copies if d.source == "tag")  # every conversion has one
    sent = sorted({d.source for d in copies if not d.blocked})
    return {
        "event_id": c.event_id,
        "event_name": c.kind.name,
        "occurred_at": iso(event.timestamp) if isinstance(event.timestamp, datetime) else None,
        "value": c.value,
        "currency": event.currency,
        "order_id": c.order_id,
        "person": j.person.key,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "driver": touch_view(j, j.touches[c.driver]) if c.driver is not None else None,
        "path": [touch_view(j, t) for t in j.touches[: c.visit + 1]],
        "sources": sent,
        "browser_blocked": any(d.blocked for d in copies),
        "delivered": bool(sent),
    }


def channel_totals(sim: Simulation, conversions: list[dict[str, Any]]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for name in [c.name for c in sim.world.channels] + ["baseline"]:
        rows[name] = {"touches": 0, "conversions": 0, "delivered": 0, "revenue": {}}
    for j in sim.journeys:
        for t in j.touches:
            rows[t.channel.name]["touches"] += 1
    for c in conversions:
        row = rows[c["driver"]["channel"] if c["driver"] else "baseline"]
        row["conversions"] += 1
        row["delivered"] += c["delivered"]
        if c["value"] is not None:
            revenue = row["revenue"]
            revenue[c["currency"]] = round(revenue.get(c["currency"], 0.0) + c["value"], 2)
    return rows


def totals(sim: Simulation, conversions: list[dict[str, Any]]) -> dict[str, Any]:
    sent = sim.sent()
    ids = [d.event.event_id for d in sent]
    return {
        "people": len(sim.journeys),
        "touches": sum(len(j.touches) for j in sim.journeys),
        "events": len({d.event.event_id for d in sim.deliveries}),
        "deliveries_sent": len(sent),
        "distinct_event_ids_sent": len(set(ids)),
        "browser_server_pairs_sent": len(ids) - len(set(ids)),
        "browser_hits_blocked": sum(d.blocked for d in sim.deliveries),
        "conversions": len(conversions),
        "conversions_delivered": sum(c["delivered"] for c in conversions),
        "conversions_server_only": sum(c["sources"] == ["server"] for c in conversions),
    }


def people(sim: Simulation) -> list[dict[str, Any]]:
    return [
        {
            "person": j.person.key,
            "user_id": j.person.user_id if j.person.has_account else None,
            "anonymous_ids": [d.anonymous_id for d in j.person.devices],
            "blocked": j.person.blocked,
        }
        for j in sim.journeys
    ]


def build_truth(sim: Simulation) -> dict[str, Any]:
    copies: dict[str, list[Delivery]] = defaultdict(list)
    for d in sim.deliveries:
        if d.event.type == "conversion" and d.event.event_id:
            copies[d.event.event_id].append(d)
    conversions = [
        conversion_view(j, c, copies[c.event_id]) for j in sim.journeys for c in j.conversions
    ]
    conversions.sort(key=lambda c: (c["occurred_at"], c["event_id"]))
    p = sim.params
    return {
        "format": FORMAT,
        "seed": p.seed,
        "visitors": p.visitors,
        "start": iso(p.start),
        "end": iso(p.end),
        "effects": sim.world.effects(),
        "totals": totals(sim, conversions),
        "by_channel": channel_totals(sim, conversions),
        "conversions": conversions,
        "people": people(sim),
    }


def write_truth(truth: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
