"""What tracking-plan validation costs the batch API: the default plan vs a permissive one.

Two real ``convtrack serve`` servers in turn (fresh data dirs), the same pre-encoded
1000-event batches (bench/_events.py: page views, view_item, add_to_cart, purchases, all valid
under the default plan) posted over several keep-alive connections:

  * permissive  ``CONVTRACK_PLAN`` = a plan with no events and ``unknown_events: accept``
                (every event passes after one dict lookup: validation as good as off)
  * default     the default plan shipped with convtrack (schemas checked for every event)

Rounds alternate the two so drift on the machine hits both alike; the best round of each is
compared. Goal: default >= 0.8 x permissive (validation costs at most 20 %). Before timing,
the events are checked in-process against the default plan: none may fail or warn.

Run:  python bench/ingest_plan.py [--events 200000] [--connections 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _events
from _common import Server, emit, environment, prepared_objects, rate, wait_for_quiet
from convtrack.plan import check_event, load_configured_plan
from ingest_batch import WARMUP_BATCHES, LoadResult, post_all

PERMISSIVE = 'version: "permissive"\nunknown_events: accept\n'
GOAL = 0.8


def check_mix(bodies: list[bytes]) -> tuple[Counter[str], float]:
    """Outcome of each event under the default plan, in-process (all must be "ok"), and the
    mean time of one ``check_event`` in microseconds (less noisy than the HTTP ratio)."""
    plan = load_configured_plan("")
    events = [e for batch in _events.canonical(bodies) for e in batch]
    outcomes: Counter[str] = Counter()
    for event in events:
        result = check_event(plan, event)
        outcomes["issues" if result.issues else "warning" if result.warnings else "ok"] += 1
    t0 = time.perf_counter()
    for event in events:
        check_event(plan, event)
    return outcomes, (time.perf_counter() - t0) / max(len(events), 1) * 1e6


def one_run(
    tmp: Path, name: str, plan: str, warm: list[bytes], bodies: list[bytes], args: Any
) -> dict[str, Any]:
    data = tmp / f"{name}-{time.monotonic_ns()}"
    server = Server(data, env={"CONVTRACK_PLAN": plan})
    try:
        key = server.create_secret_key()
        warm_result = LoadResult()
        post_all(server.port, key, warm, 1, time.monotonic() + 60, warm_result)
        if warm_result.acked_events != len(warm) * args.batch:
            raise SystemExit(f"{name}: warm-up failed: {warm_result}; see {server.log_path}")
        version = server.admin("/v1/admin/plan")["version"]
        wait_for_quiet(args.quiet_wait)
        result = LoadResult()
        t0 = time.perf_counter()
        post_all(server.port, key, bodies, args.connections, time.monotonic() + 120, result)
        wall = time.perf_counter() - t0
    finally:
        server.stop()
    if result.acked_events != len(bodies) * args.batch:
        raise SystemExit(f"{name}: not every event was accepted: {result.statuses}")
    return {"plan_version": version, "events_per_s": rate(result.acked_events, wall)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="events per run (default 200k)")
    ap.add_argument("--batch", type=int, default=1000, help="events per request")
    ap.add_argument("--connections", type=int, default=8, help="concurrent client connections")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each plan, alternating")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="before each run wait up to this long for the machine to be idle (0: do not)",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="convtrack-bench-plan-"))
    try:
        permissive = tmp / "permissive.yaml"
        permissive.write_text(PERMISSIVE)
        with prepared_objects():
            n = (args.events // args.batch + WARMUP_BATCHES) * args.batch
            bodies = _events.encode_batches(_events.make_batches(n, args.batch, "plan"))
        warm, load = bodies[:WARMUP_BATCHES], bodies[WARMUP_BATCHES:]
        outcomes, check_us = check_mix(load[:20])
        print(f"ingest_plan: {len(load)} batches x {args.batch} events, {args.connections} conns")
        print(f"  event mix under the default plan: {dict(outcomes)}")
        print(f"  check_event in-process: {check_us:.2f} us per event (mean over the mix)")
        if set(outcomes) != {"ok"}:
            raise SystemExit("the bench events must all pass the default plan")

        runs: dict[str, list[float]] = {"permissive": [], "default": []}
        for r in range(args.rounds):
            for name, plan in (("permissive", str(permissive)), ("default", "")):
                got = one_run(tmp, name, plan, warm, load, args)
                runs[name].append(got["events_per_s"])
                print(
                    f"  round {r + 1} {name:<10} plan {got['plan_version']:<10} "
                    f"{got['events_per_s']:>10,.0f} events/s"
                )
        best = {name: max(v) for name, v in runs.items()}
        ratio = best["default"] / best["permissive"]
        print(
            f"\nbest: permissive {best['permissive']:,.0f} events/s, default plan "
            f"{best['default']:,.0f} events/s; ratio {ratio:.3f} "
            f"(validation costs {1 - ratio:.1%}; goal <= {1 - GOAL:.0%})"
        )
        emit(
            {
                "bench": "ingest_plan",
                "permissive_events_per_s": round(best["permissive"]),
                "default_plan_events_per_s": round(best["default"]),
                "ratio": round(ratio, 3),
                "goal_ratio": GOAL,
                "check_event_us": round(check_us, 3),
                "rounds": {k: [round(x) for x in v] for k, v in runs.items()},
                "events": len(load) * args.batch,
                "batch": args.batch,
                "connections": args.connections,
                "env": environment(),
            }
        )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
