"""Delivery throughput: the outbox workers vs a bare httpx client posting the same batches.

    python bench/forward_throughput.py [--events 20000] [--destination meta] [--concurrency 4]

Both runs, in the same process and the same run, send the same conversions to the same local
endpoint (granian serving bench/_fake_platform_asgi.py, one worker):

- **bare, prebuilt**: the requests built up front (Meta's 1000 events per request), posted
  with one ``httpx.AsyncClient`` and ``--concurrency`` requests in flight: the HTTP ceiling,
  which is what the goal ratio (≥ 0.8) is measured against;
- **bare, building**: the same, but mapping the stored rows and building the requests inside
  the timed part (what a script that reads events and posts them does, without durability);
- **outbox**: the same events stored in a DuckDB file with their outbox jobs (written by
  ``append``, as at ingest; not timed), then delivered by ``Forwarder.drain()``: claim with a
  lease, load the stored events, map to ``ForwardEvent``, partition, build, send with the
  same concurrency, record every attempt and its delivery_log row.

Prints events/s for both, the ratio (goal ≥ 0.8) and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
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

from _common import emit, environment, free_port, rate, wait_for_quiet, warn_if_busy
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


def run(args: argparse.Namespace, tmp: Path, url: str) -> dict[str, Any]:
    destination = get(args.destination)
    env = {"CONVTRACK_META_PIXEL_ID": "123", "CONVTRACK_META_ACCESS_TOKEN": "bench-token",
           "CONVTRACK_META_BASE_URL": url}  # fmt: skip
    enabled = Enabled(destination, destination.config_from_env(env))
    options = WorkerOptions(
        claim_limit=args.claim_limit, concurrency=args.concurrency, pause_after_failures=0
    )
    with open_store(f"duckdb://{tmp / 'bench.duckdb'}") as store:
        store.migrate()
        events = conversions(args.events, args.destination)
        for i in range(0, len(events), 5000):
            store.append(events[i : i + 5000])
        rows = stored_rows(store)
        bare_s = asyncio.run(bare(enabled, rows, options, timed_build=False))
        built_s = asyncio.run(bare(enabled, rows, options, timed_build=True))
        started = time.perf_counter()
        asyncio.run(Forwarder(store, {enabled.name: enabled}, options).drain())
        outbox_s = time.perf_counter() - started
        stats = store.outbox_stats()[enabled.name]
    if stats["delivered"] != args.events:
        raise RuntimeError(f"not everything was delivered: {stats}")
    bare_eps, outbox_eps = rate(args.events, bare_s), rate(args.events, outbox_s)
    built_eps = rate(args.events, built_s)
    return {
        "bench": "forward_throughput",
        "destination": args.destination,
        "events": args.events,
        "batch": destination.max_batch,
        "concurrency": args.concurrency,
        "claim_limit": args.claim_limit,
        "bare_events_per_s": round(bare_eps),
        "bare_with_build_events_per_s": round(built_eps),
        "outbox_events_per_s": round(outbox_eps),
        "ratio": round(outbox_eps / bare_eps, 3) if bare_eps else 0.0,
        "ratio_vs_bare_with_build": round(outbox_eps / built_eps, 3) if built_eps else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--destination", default="meta", choices=["meta"])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--claim-limit", type=int, default=4000)
    parser.add_argument("--quiet-wait", type=float, default=30, help="wait for an idle machine")
    args = parser.parse_args()
    others = wait_for_quiet(args.quiet_wait)
    proc, url = endpoint()
    try:
        with tempfile.TemporaryDirectory(prefix="convtrack-bench-") as tmp:
            result = run(args, Path(tmp), url)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    print(f"{args.events} conversions to a local {args.destination} endpoint, "
          f"{result['batch']} per request, {args.concurrency} requests in flight")  # fmt: skip
    print(f"  bare httpx client, prebuilt requests : {result['bare_events_per_s']:>9,} events/s")
    print(f"  bare httpx client, building them     : "
          f"{result['bare_with_build_events_per_s']:>9,} events/s")  # fmt: skip
    print(f"  outbox workers                       : {result['outbox_events_per_s']:>9,} events/s")
    print(f"  ratio outbox / bare prebuilt         : {result['ratio']:.2f}   (goal >= 0.8)")
    print(f"  ratio outbox / bare building         : {result['ratio_vs_bare_with_build']:.2f}")
    warn_if_busy(others)
    emit({**result, "environment": environment()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
