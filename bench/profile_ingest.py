"""Where the time goes on the ``POST /v1/events`` hot path, per 1000-event batch, in-process.

No HTTP and no group commit: each step of what the endpoint and the writer do for one batch
is timed on its own, on the same realistic event mix as bench/ingest_batch.py:

  decode      convtrack.collect.parse.decode_body (msgspec, whole batch)
  to_event    convtrack.collect.parse.to_event per event (checks + canonical Event)
  consent     convtrack.enrich.privacy.ConsentGate.apply per event (decision, PII hashes)
  to_arrow    convtrack.store.arrow.to_arrow (split into Python extraction and pa.array)
  insert      DuckDBStore.append from the prebuilt Arrow table (one committed transaction),
              of which (stitching) is the identity graph kept at ingest (Stitching.observe)

Not in the total (``convtrack serve`` only): (wire) is the batch's trip to the store process,
msgpack-encoded and decoded as store.process does (encode_jobs, decode_jobs: each distinct
consent decision record once per message), plus its ``consent_decision`` column
values; (wire_dict) is the same with each record a plain dict, as events carried it before
``DecisionRecord`` (the reference, same run).

Then the writer's cost per event by commit size (``DuckDBStore.append``, build + insert, one
transaction per commit): the group-commit writer merges concurrent requests, and every commit
has a fixed cost, so this shows what commit sizes the server should aim for.

Run:  python bench/profile_ingest.py [--batches 60] [--cprofile 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

import _events
from _common import emit, environment, prepared_objects
from _store import prebuilt_arrow
from convtrack.collect.parse import Origin, decode_body, to_event
from convtrack.config import Settings
from convtrack.enrich.privacy import ConsentGate
from convtrack.events import Event, Rejected
from convtrack.store import duckdb_identity
from convtrack.store.arrow import COLUMNS, SCHEMA, column_values, to_arrow
from convtrack.store.duckdb_store import DuckDBStore
from convtrack.store.process import decode_jobs, encode_jobs

# The reference: ``Event`` as it was, the record a plain dict decoded per event.
_EventWithDict = msgspec.defstruct(
    "EventWithDict",
    [
        (
            f.name,
            dict[str, Any] | None if f.name == "consent_decision" else f.type,
            msgspec.field(default=f.default, default_factory=f.default_factory),
        )
        for f in msgspec.structs.fields(Event)
    ],
    omit_defaults=True,
    kw_only=True,
)
STEPS = ("decode", "to_event", "consent", "to_arrow", "insert")
EXTRA = ("stitching", "arrow_extract", "arrow_convert", "wire", "wire_dict")
_WIRE = (encode_jobs, lambda message: decode_jobs(*message))
_WIRE_DICT = (
    msgspec.msgpack.Encoder().encode,
    msgspec.msgpack.Decoder(list[tuple[int, list[_EventWithDict], list[Rejected]]]).decode,
)
_DECISION = next(i for i, (name, _, _) in enumerate(COLUMNS) if name == "consent_decision")
SWEEP_SIZES = (50, 200, 1000, 3000, 10_000)


def origin() -> Origin:
    return Origin(
        source="server",
        key_id="key_bench",
        trusted=True,
        ip="127.0.0.1",
        user_agent="bench/1.0",
        received_at=datetime.now(UTC),
    )


class StitchingClock:
    """Times ``Stitching.observe`` (inside ``DuckDBStore.append``) through the real code."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._observe = duckdb_identity.Stitching.observe

    def __enter__(self) -> StitchingClock:
        clock, observe = self, self._observe

        def timed(stitching: duckdb_identity.Stitching, *args: Any) -> None:
            started = time.perf_counter()
            try:
                observe(stitching, *args)
            finally:
                clock.seconds += time.perf_counter() - started

        duckdb_identity.Stitching.observe = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        duckdb_identity.Stitching.observe = self._observe  # type: ignore[method-assign]


def wire_trip(events: list[Event], codec: tuple[Any, Any]) -> float:
    """Seconds to carry ``events`` to the store process and get their consent_decision column."""
    encode, decode = codec
    started = time.perf_counter()
    ((_, arrived, _),) = decode(encode([(1, events, [])]))
    list(map(COLUMNS[_DECISION][2], arrived))
    return time.perf_counter() - started


def as_dict_records(events: list[Event]) -> list[Event]:
    """The events with each decision record a plain dict, shared as the gate shared it."""
    plain: dict[int, Any] = {}
    return [
        msgspec.structs.replace(
            e,
            consent_decision=plain.setdefault(id(e.consent_decision), dict(e.consent_decision))
            if e.consent_decision is not None
            else None,
        )
        for e in events
    ]


def run_batch(
    body: bytes, store: DuckDBStore, settings: Settings, gate: ConsentGate
) -> dict[str, float]:
    """One batch through every step; returns seconds per step (plus the to_arrow split)."""
    max_future = timedelta(seconds=settings.max_future_seconds)
    currency = settings.default_currency
    t0 = time.perf_counter()
    items, sent_at, is_batch = decode_body(body)
    t1 = time.perf_counter()
    org = origin()
    checked = [
        to_event(i, item, org, sent_at, default_currency=currency, max_future=max_future)
        for i, item in enumerate(items)
    ]
    t2 = time.perf_counter()
    events = [e for e in checked if isinstance(e, Event) and gate.apply(e, None) is not None]
    t3 = time.perf_counter()
    table = to_arrow(events)
    t4 = time.perf_counter()
    with prebuilt_arrow([table]), StitchingClock() as stitching:
        store.append(events)
    t5 = time.perf_counter()
    # to_arrow again, split: Python-side value extraction vs Arrow conversion.
    columns = column_values(events)
    t6 = time.perf_counter()
    arrays = [pa.array(col, type=typ) for col, (_, typ, _) in zip(columns, COLUMNS, strict=True)]
    pa.Table.from_arrays(arrays, schema=SCHEMA)
    t7 = time.perf_counter()
    wire = wire_trip(events, _WIRE)
    wire_dict = wire_trip(as_dict_records(events), _WIRE_DICT)
    if len(events) != len(items):
        raise SystemExit(f"{len(items) - len(events)} events were invalid: fix the bench mix")
    return {
        "decode": t1 - t0,
        "to_event": t2 - t1,
        "consent": t3 - t2,
        "to_arrow": t4 - t3,
        "insert": t5 - t4,
        "stitching": stitching.seconds,
        "arrow_extract": t6 - t5,
        "arrow_convert": t7 - t6,
        "wire": wire,
        "wire_dict": wire_dict,
    }


def commit_size_sweep(bodies: list[bytes], tmp: Path) -> list[dict[str, float]]:
    with prepared_objects():
        events = [e for batch in _events.canonical(bodies) for e in batch]
    print(
        f"\nwriter cost by commit size (DuckDBStore.append = to_arrow + transaction, "
        f"{len(events):,} events into a fresh file each):"
    )
    print(f"{'events/commit':>14}{'ms/commit':>11}{'us/event':>10}{'events/s':>11}")
    out = []
    for size in SWEEP_SIZES:
        if size > len(events):
            continue
        store = DuckDBStore(f"duckdb://{tmp}/sweep-{size}.duckdb")
        store.migrate()
        chunks = [events[i : i + size] for i in range(0, len(events), size)]
        started = time.perf_counter()
        for chunk in chunks:
            store.append(chunk)
        seconds = time.perf_counter() - started
        store.close()
        per_commit_ms = seconds / len(chunks) * 1000
        print(
            f"{size:>14,}{per_commit_ms:11.2f}{seconds / len(events) * 1e6:10.1f}"
            f"{len(events) / seconds:11,.0f}"
        )
        out.append(
            {
                "commit_events": size,
                "ms_per_commit": round(per_commit_ms, 3),
                "events_per_s": round(len(events) / seconds),
            }
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=60, help="1000-event batches to time")
    ap.add_argument("--batch", type=int, default=1000, help="events per batch")
    ap.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    ap.add_argument(
        "--cprofile",
        type=int,
        default=0,
        metavar="N",
        help="also profile the whole loop with cProfile and print the top N",
    )
    ap.add_argument(
        "--sweep-batches",
        type=int,
        default=30,
        help="1000-event batches used by the commit-size sweep (0: skip it)",
    )
    args = ap.parse_args()

    with prepared_objects():
        bodies = _events.encode_batches(
            _events.make_batches((args.batches + args.warmup) * args.batch, args.batch, "prof")
        )
    settings = Settings()
    tmp = Path(tempfile.mkdtemp(prefix="convtrack-prof-"))
    store = DuckDBStore(f"duckdb://{tmp}/profile.duckdb")
    store.migrate()
    gate = ConsentGate(settings)
    for body in bodies[: args.warmup]:
        run_batch(body, store, settings, gate)
    timed = bodies[args.warmup :]
    per_step: dict[str, list[float]] = {}
    for body in timed:
        for step, seconds in run_batch(body, store, settings, gate).items():
            per_step.setdefault(step, []).append(seconds)

    n = args.batch
    total_ms = sum(statistics.mean(per_step[s]) for s in STEPS) * 1000
    print(
        f"profile_ingest: {len(timed)} batches of {n} events, mean body "
        f"{sum(map(len, timed)) / len(timed) / 1024:.0f} KiB, temp store in {tmp}"
    )
    print(f"{'step':<16}{'mean ms':>9}{'p50 ms':>9}{'max ms':>9}{'us/event':>10}{'share':>8}")
    steps_out = {}
    for step in (*STEPS, *EXTRA):
        values = per_step[step]
        mean_ms = statistics.mean(values) * 1000
        label = step if step in STEPS else f"  ({step})"
        share = f"{mean_ms / total_ms:7.1%}" if step in STEPS else ""
        print(
            f"{label:<16}{mean_ms:9.2f}{statistics.median(values) * 1000:9.2f}"
            f"{max(values) * 1000:9.2f}{mean_ms * 1000 / n:10.2f}{share:>8}"
        )
        steps_out[step] = {
            "mean_ms": round(mean_ms, 3),
            "p50_ms": round(statistics.median(values) * 1000, 3),
        }
    ceiling = n / (total_ms / 1000)
    print(f"{'total':<16}{total_ms:9.2f}{'':>18}{total_ms * 1000 / n:10.2f}")
    print(
        f"single-core ceiling of this path: {ceiling:,.0f} events/s "
        "(no HTTP, no group commit: one transaction per batch)"
    )

    sweep = commit_size_sweep(bodies[args.warmup :][: args.sweep_batches], tmp)

    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        for body in timed:
            run_batch(body, store, settings, gate)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.cprofile)
        print("\ncProfile, sorted by own time (includes the split to_arrow re-run):")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        print("\n".join(lines[start:]).rstrip())
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)

    emit(
        {
            "bench": "profile_ingest",
            "batch": n,
            "batches": len(timed),
            "steps": steps_out,
            "total_ms_per_batch": round(total_ms, 3),
            "ceiling_events_per_s": round(ceiling),
            "commit_size_sweep": sweep,
            "env": environment(),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
