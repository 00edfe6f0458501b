"""Delivery throughput: the outbox workers vs a bare httpx client posting the same batches.

    python bench/forward_throughput.py [--events 20000] [--concurrency 4] [--latency-ms 50]

Every figure comes from the same run, in the same process, sending the same conversions to the
same local endpoint (granian serving bench/_fake_platform_asgi.py, one worker), in two
scenarios: **local** (the endpoint answers at once: the client's own cost is all there is) and
**latency** (it answers after ``--latency-ms``, as real platforms do: both sides are limited
by latency x requests in flight, ``--concurrency``). In each:

- **bare, prebuilt**: the requests built up front (Meta's 1000 events per request), posted
  with one ``httpx.AsyncClient``, ``--concurrency`` requests in flight: the HTTP ceiling, the
  reference of issue 7's goal (outbox / bare prebuilt >= 0.8);
- **bare, building**: the same, mapping the stored rows and building the requests inside the
  timed part (a script that reads events and posts them, without durability);
- **outbox**: the same events stored in a DuckDB file with their outbox jobs (written by
  ``append``, as at ingest; not timed), delivered by ``Forwarder.drain()``: claim with a
  lease, load the stored events, map to ``ForwardEvent``, check, build, send with the same
  concurrency, record every attempt and its delivery_log row.

Each is measured ``--repeat`` times (a fresh store each time) and the best kept. Also printed:
the outbox's CPU per event (this process, DuckDB's threads included) and the CPU other
processes used meanwhile. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from _common import (
    all_process_cpu,
    busiest_others,
    cpu_seconds,
    descendants,
    emit,
    environment,
    free_port,
    machine_cpu,
    prepared_objects,
    rate,
    wait_for_quiet,
    warn_if_busy,
)
from convtrack.enrich.pii import hash_identifiers
from convtrack.events import Consent, Context, Event, Identifiers
from convtrack.forward import get
from convtrack.forward.enabled import Enabled
from convtrack.forward.policy import WorkerOptions
from convtrack.forward.rows import forward_event
from convtrack.forward.transport import send
from convtrack.forward.worker import Forwarder
from convtrack.store import EventStore, open_store
from convtrack.store.base import QueryResult


def endpoint() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--no-ws", "--log-level", "warning",
         "--working-dir", str(Path(__file__).parent), "_fake_platform_asgi:app"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(url, b"{}"), timeout=1).close()
            return proc, url
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the fake endpoint did not start") from None
            time.sleep(0.1)


def conversions(n: int, destination: str) -> list[Event]:
    now = datetime.now(UTC)
    events = []
    for i in range(n):
        event = Event(
            event_id=f"bench-{i:07d}",
            event_name="purchase",
            type="track",
            source="tag",
            occurred_at=now - timedelta(minutes=5),
            received_at=now,
            anonymous_id=f"anon-{i}",
            context=Context(
                url="https://shop.example.com/thanks", user_agent="Mozilla/5.0", ip="203.0.113.7"
            ),  # fmt: skip
            identifiers=Identifiers(email=f"buyer{i}@example.com"),
            consent=Consent(ad_user_data="granted", analytics_storage="granted"),
            value=42.5,
            currency="EUR",
            order_id=f"O-{i}",
            deliveries=[(destination, "purchase", "Purchase")],
        )
        events.append(hash_identifiers(event, region="US"))
    return events


def stored_rows(store: EventStore) -> list[dict[str, Any]]:
    result: QueryResult = store.query("SELECT * FROM events ORDER BY event_id")
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def build(enabled: Enabled, rows: list[dict[str, Any]]) -> list[Any]:
    """The requests a delivery of ``rows`` sends: map, check, batch (as the workers do)."""
    destination, config = enabled.destination, enabled.config
    events = [forward_event(r, enabled.name, "Purchase") for r in rows]
    good, refused = destination.partition(events, config)
    assert not refused, refused
    return destination.batches(good, config)


async def bare(
    enabled: Enabled, rows: list[dict[str, Any]], options: WorkerOptions, *, timed_build: bool
) -> float:
    """The same requests posted with a bare client; built before the clock starts, or (with
    ``timed_build``) inside the timed part, as a script that maps and posts would."""
    destination = enabled.destination
    started = time.perf_counter()
    requests = build(enabled, rows)
    if not timed_build:
        started = time.perf_counter()
    limit = asyncio.Semaphore(options.concurrency)
    limits = httpx.Limits(max_connections=options.concurrency * 2)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

        async def post(request: Any) -> None:
            async with limit:
                outcome = await send(request, client, destination)
                if not outcome.delivered:
                    raise RuntimeError(f"bare post failed: {outcome}")

        await asyncio.gather(*(post(r) for r in requests))
        return time.perf_counter() - started


def enabled_meta(url: str) -> Enabled:
    destination = get("meta")
    env = {"CONVTRACK_META_PIXEL_ID": "123", "CONVTRACK_META_ACCESS_TOKEN": "bench-token",
           "CONVTRACK_META_BASE_URL": url}  # fmt: skip
    return Enabled(destination, destination.config_from_env(env))


def once(
    args: argparse.Namespace, path: Path, enabled: Enabled, events: list[Event]
) -> dict[str, float]:
    """One measurement of the three, on a fresh store: events/s each, and the outbox's CPU."""
    options = WorkerOptions(
        claim_limit=args.claim_limit, concurrency=args.concurrency, pause_after_failures=0
    )
    with open_store(f"duckdb://{path}") as store:
        store.migrate()
        for i in range(0, len(events), 5000):
            store.append(events[i : i + 5000])
        with prepared_objects():  # the inputs, out of the GC's way (the server holds none)
            rows = stored_rows(store)
        bare_s = asyncio.run(bare(enabled, rows, options, timed_build=False))
        built_s = asyncio.run(bare(enabled, rows, options, timed_build=True))
        cpu0, started = time.process_time(), time.perf_counter()
        asyncio.run(Forwarder(store, {enabled.name: enabled}, options).drain())
        outbox_s, cpu = time.perf_counter() - started, time.process_time() - cpu0
        stats = store.outbox_stats()[enabled.name]
    if stats["delivered"] != len(events):
        raise RuntimeError(f"not everything was delivered: {stats}")
    n = len(events)
    return {
        "bare": rate(n, bare_s),
        "built": rate(n, built_s),
        "outbox": rate(n, outbox_s),
        "cpu_us": cpu / n * 1e6,
    }


def scenario(
    args: argparse.Namespace, tmp: Path, url: str, name: str, latency_ms: int
) -> dict[str, Any]:
    base = f"{url}/latency/{latency_ms}" if latency_ms else url
    enabled = enabled_meta(base)
    with prepared_objects():
        events = conversions(args.events, "meta")
    runs = [once(args, tmp / f"{name}-{r}.duckdb", enabled, events) for r in range(args.repeat)]
    best = {k: max(r[k] for r in runs) for k in ("bare", "built", "outbox")}
    return {
        "latency_ms": latency_ms,
        "bare_events_per_s": round(best["bare"]),
        "bare_with_build_events_per_s": round(best["built"]),
        "outbox_events_per_s": round(best["outbox"]),
        "ratio": round(best["outbox"] / best["bare"], 3) if best["bare"] else 0.0,
        "ratio_vs_bare_with_build": round(best["outbox"] / best["built"], 3)
        if best["built"]
        else 0.0,
        "outbox_cpu_us_per_event": round(min(r["cpu_us"] for r in runs), 1),
    }


def run(args: argparse.Namespace, tmp: Path, url: str) -> dict[str, Any]:
    ours = set(descendants(os.getpid()))
    before, machine0, ours0 = all_process_cpu(), machine_cpu()[0], cpu_seconds(ours)
    started = time.perf_counter()
    result = {
        "local": scenario(args, tmp, url, "local", 0),
        "latency": scenario(args, tmp, url, "latency", args.latency_ms),
    }
    seconds = time.perf_counter() - started
    ours = set(descendants(os.getpid()))
    used = machine_cpu()[0] - machine0 - (cpu_seconds(ours) - ours0)
    return {
        "bench": "forward_throughput",
        "destination": "meta",
        "events": args.events,
        "batch": get("meta").max_batch,
        "concurrency": args.concurrency,
        "claim_limit": args.claim_limit,
        "repeat": args.repeat,
        **result,
        "other_load_cores": round(max(0.0, used / seconds), 2),
        "busiest_others": busiest_others(before, all_process_cpu(), ours, seconds),
    }


def report(r: dict[str, Any]) -> None:
    print(f"{r['events']} conversions to a local meta endpoint, {r['batch']} per request, "
          f"{r['concurrency']} requests in flight, best of {r['repeat']}")  # fmt: skip
    for name in ("local", "latency"):
        s = r[name]
        print(f"  {name} (endpoint answers after {s['latency_ms']} ms)")
        print(f"    bare httpx client, prebuilt requests : {s['bare_events_per_s']:>9,} events/s")
        print(f"    bare httpx client, building them     : "
              f"{s['bare_with_build_events_per_s']:>9,} events/s")  # fmt: skip
        print(f"    outbox workers                       : {s['outbox_events_per_s']:>9,} events/s"
              f"   ({s['outbox_cpu_us_per_event']} us CPU an event)")  # fmt: skip
        print(f"    ratio outbox / bare prebuilt         : {s['ratio']:.2f}   (goal >= 0.8)")
        print(f"    ratio outbox / bare building         : {s['ratio_vs_bare_with_build']:.2f}")
    others = ", ".join(f"{n} {c}" for n, c in r["busiest_others"]) or "none"
    print(f"  other processes used {r['other_load_cores']} cores meanwhile (busiest: {others})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--claim-limit", type=int, default=4000)
    parser.add_argument("--latency-ms", type=int, default=50, help="the latency scenario's")
    parser.add_argument("--repeat", type=int, default=3, help="keep the best of this many")
    parser.add_argument("--quiet-wait", type=float, default=30, help="wait for an idle machine")
    args = parser.parse_args()
    waited = wait_for_quiet(args.quiet_wait)
    proc, url = endpoint()
    try:
        with tempfile.TemporaryDirectory(prefix="convtrack-bench-") as tmp:
            result = run(args, Path(tmp), url)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    report(result)
    warn_if_busy(max(waited, result["other_load_cores"]))
    emit({**result, "busy_cores_before": round(waited, 2), "environment": environment()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
