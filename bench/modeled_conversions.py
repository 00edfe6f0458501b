"""Modeled conversions against a simulation's known truth (docs/qa.md#modeled-conversions).

Generates ``--visitors`` people with ``convtrack simulate``'s world (untimed), marks a
``--denied`` share of them (drawn with their own seeded generator) as refusing every consent
signal, and stores what reaches the collector through the real ingest path: the canonical
event, then the consent gate with the default settings (consented-out visitors are stored
pseudonymously: no ids, no session). Then ``convtrack.qa.modeled`` estimates the conversions
of the consented-out visits from the consented visits' conversion rates.

The truth is the number of conversions the consented-out (and not ad-blocked) people really
made. Prints the estimate, the truth, the relative error and whether the 95 % interval
covers the truth; the goal is |error| <= 5 % with the interval covering the truth. Last line:
one JSON object.

Run:  python bench/modeled_conversions.py [--visitors 150000] [--denied 0.3] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from convtrack.collect.parse import Origin, to_event
from convtrack.config import Settings
from convtrack.enrich.privacy import ConsentGate
from convtrack.events import Consent, Event
from convtrack.identity.records import StitchPolicy
from convtrack.qa.modeled import modeled
from convtrack.qa.sql import Window
from convtrack.simulate.hits import Delivery
from convtrack.simulate.simulation import Params, Simulation, simulate
from convtrack.store import open_store

GRANTED = Consent(ad_storage="granted", analytics_storage="granted",
                  ad_user_data="granted", ad_personalization="granted")  # fmt: skip
DENIED = Consent(ad_storage="denied", analytics_storage="denied",
                 ad_user_data="denied", ad_personalization="denied")  # fmt: skip
CHUNK = 20_000


def denied_devices(sim: Simulation, share: float, seed: int) -> tuple[set[str], int]:
    """Anonymous ids of the consented-out people, and their true (delivered) conversions."""
    rng = random.Random(seed)
    devices: set[str] = set()
    truth = 0
    for journey in sim.journeys:
        if rng.random() >= share:
            continue
        devices.update(d.anonymous_id for d in journey.person.devices)
        if not journey.person.blocked:  # a blocked browser sends no visit at all
            truth += len(journey.conversions)
    return devices, truth


def stored_form(d: Delivery, denied: bool, gate: ConsentGate, settings: Settings) -> Event | None:
    event = msgspec.structs.replace(d.event, consent=DENIED if denied else GRANTED)
    origin = Origin(source=d.source, key_id=None, trusted=d.source == "server", ip=d.ip,
                    user_agent=None, received_at=d.arrival)  # fmt: skip
    out = to_event(None, event, origin, None, default_currency=settings.default_currency,
                   max_future=timedelta(seconds=settings.max_future_seconds))  # fmt: skip
    if not isinstance(out, Event):
        raise SystemExit(f"the simulator built an invalid event: {out}")
    return gate.apply(out, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visitors", type=int, default=150_000)
    ap.add_argument("--denied", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    start = datetime(2026, 1, 5, tzinfo=UTC)
    end = start + timedelta(days=28)
    print(f"simulating {args.visitors} visitors, {args.denied:.0%} consented out …", flush=True)
    sim = simulate(Params(args.seed, args.visitors, start, end))
    devices, truth = denied_devices(sim, args.denied, args.seed + 1)
    settings = Settings()
    gate = ConsentGate(settings)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"duckdb://{Path(tmp) / 'bench.duckdb'}")
        store.migrate()
        store.configure_identity(StitchPolicy(), at_ingest=False)
        sent = sim.sent()
        for i in range(0, len(sent), CHUNK):
            chunk = (stored_form(d, d.event.anonymous_id in devices, gate, settings)
                     for d in sent[i : i + CHUNK])  # fmt: skip
            store.append([e for e in chunk if e is not None])
        result = modeled(store, Window(start, end + timedelta(days=1)))
        store.close()
    estimate, ci = result["modeled"], result["interval95"]
    error = (estimate - truth) / truth if truth else float("nan")
    covers = ci["lower"] <= truth <= ci["upper"]
    print(f"deliveries stored       {len(sent)}")
    print(f"observed (consented)    {result['observed']['consented']}")
    print(f"pseudonymous conversions {result['observed']['pseudonymous']} (stored, unattributable)")
    print(f"modeled                 {estimate:.1f}  95 % [{ci['lower']:.1f}, {ci['upper']:.1f}]")
    print(f"truth                   {truth}")
    print(f"relative error          {error:+.2%}   interval covers truth: {covers}")
    goal = abs(error) <= 0.05 and covers
    print(f"goal (±5 %, covered)    {'met' if goal else 'NOT met'}")
    print(json.dumps({
        "bench": "modeled_conversions", "visitors": args.visitors, "denied_share": args.denied,
        "seed": args.seed, "truth": truth, "modeled": estimate, "interval95": ci,
        "relative_error": round(error, 4), "covers": covers, "goal_met": goal,
        "observed": result["observed"],
    }))  # fmt: skip
    sys.exit(0)


if __name__ == "__main__":
    main()
