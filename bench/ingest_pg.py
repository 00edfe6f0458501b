"""Batch API ingest on a shared PostgreSQL: 1 and 2 collector processes vs PostgreSQL's raw COPY.

A throwaway PostgreSQL server (tests/pg.py, fsync on), one fresh database per measurement, the
same events (bench/_events.py's mix, 1000-event batches, pre-encoded) in each:

  1 collector        one ``convtrack serve --store postgresql://…`` (granian, group commit,
                     identity stitching at ingest on, as by default), ``--connections``
                     keep-alive clients posting ``POST /v1/events``
  2 collectors       two such processes (two ports, two data dirs, one database), each sent
                     every other batch by its own clients, at the same time
  store append       ``PostgresStore.append`` in this process, the canonical events prebuilt
                     (what one collector's writer costs the database, without HTTP)
  raw COPY           the same rows, binary COPY straight into ``events`` (the ceiling: no
                     idempotency, no outbox, no identity)

Only 200 answers count; every measurement checks the stored count. The machine's cores are
shared by PostgreSQL, the collectors and the client: on 2 cores a second collector competes
with the first for CPU, so the 2-collector figure says what a second host would add only
when the database has headroom (docs/deployment.md).

Run:  python bench/ingest_pg.py [--events 100000] [--connections 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import psycopg  # noqa: E402

import _events  # noqa: E402
from _common import Server, emit, environment, rate, wait_for_quiet, warn_if_busy  # noqa: E402
from convtrack.store.postgres import PostgresStore  # noqa: E402
from convtrack.store.postgres import events as pg_events  # noqa: E402
from ingest_batch import LoadResult, post_all  # noqa: E402
from pg import PgServer, start_server  # noqa: E402
from pg_append import raw_copy, raw_rows  # noqa: E402

WARMUP_BATCHES = 3


@dataclass
class Run:
    seconds: float
    acked: int
    stored: int
    bytes_per_event: float  # events table with its indexes and TOAST
    connections: int  # to the database, all collectors, after the warm-up


def scalar(url: str, sql: str) -> Any:
    with psycopg.connect(url) as con:
        return con.execute(sql).fetchall()[0][0]


def collectors(
    server: PgServer, tmp: Path, count: int, bodies: list[bytes], warm: list[bytes], conns: int
) -> Run:
    """Post ``bodies`` spread over ``count`` collectors at once."""
    url = server.url(server.create_database("collect"))
    env = {"CONVTRACK_STORE": url}
    for n in range(count):
        (tmp / f"c{count}-{n}").mkdir()
    first = Server(tmp / f"c{count}-0" / "data", env=env)
    started: list[Server] = [first]
    try:
        key = first.create_secret_key()  # in the shared store: the others load it at start
        started += [Server(tmp / f"c{count}-{n}" / "data", env=env) for n in range(1, count)]
        for srv in started:  # warm each one up (connections, plan, caches)
            post_all(srv.port, key, warm, 1, time.monotonic() + 60, LoadResult())
        connections = int(scalar(url, "SELECT count(*) - 1 FROM pg_stat_activity"
                                       " WHERE datname = current_database()"))  # fmt: skip
        results = [LoadResult() for _ in started]
        threads = [
            threading.Thread(
                target=post_all,
                args=(srv.port, key, bodies[n::count], conns, time.monotonic() + 600, result),
            )
            for n, (srv, result) in enumerate(zip(started, results, strict=True))
        ]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - began
    finally:
        for srv in started:
            srv.stop()
    stored = int(scalar(url, "SELECT count(*) FROM events"))
    size = int(scalar(url, "SELECT pg_total_relation_size('events')"))
    acked = sum(r.acked_events for r in results)
    return Run(seconds, acked, stored, size / max(stored, 1), connections)


def in_process(server: PgServer, batches: list[Any], rows: list[Any] | None) -> tuple[float, int]:
    """Seconds for ``PostgresStore.append`` of the batches (or raw COPY of ``rows``)."""
    store = PostgresStore(server.url(server.create_database("direct")))
    try:
        store.migrate()
        began = time.perf_counter()
        if rows is None:
            for batch in batches:
                store.append(batch)
        else:
            raw_copy(store, batches, rows)
        seconds = time.perf_counter() - began
        return seconds, store.count_events()
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4, help="clients per collector")
    args = parser.parse_args()

    print(f"building {args.events} events ...", flush=True)
    raw_batches = _events.make_batches(args.events, args.batch, "pgingest")
    bodies = _events.encode_batches(raw_batches)
    warm = _events.encode_batches(_events.make_batches(WARMUP_BATCHES * args.batch, args.batch,
                                                       "pgwarm", seed=11))  # fmt: skip
    batches = _events.canonical(bodies)
    rows = raw_rows([list(pg_events.rows(b)) for b in batches])
    n = sum(len(b) for b in batches)
    warm_n = WARMUP_BATCHES * args.batch
    busy = wait_for_quiet(60)
    server = start_server(durable=True)
    figures: dict[str, float] = {}
    sizes: dict[str, int] = {}
    connections: dict[str, int] = {}
    try:
        version = psycopg.connect(server.admin_url).info.server_version
        print(f"PostgreSQL {version // 10000}.{version % 10000}, fsync on;"
              f" {n} events in batches of {args.batch}")  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="convtrack-ingest-pg-") as folder:
            for count in (1, 2):
                run = collectors(server, Path(folder), count, bodies, warm, args.connections)
                if run.acked != n or run.stored != n + warm_n:  # the same warm-up ids on each
                    raise SystemExit(f"{count} collectors: acked {run.acked}, stored {run.stored}")
                name = f"{count}_collector" + ("s" if count > 1 else "")
                figures[name] = round(rate(n, run.seconds))
                sizes[name] = round(run.bytes_per_event)
                connections[name] = run.connections
                print(f"  {name:<13} {run.seconds:7.2f} s  {figures[name]:>9,} events/s"
                      f"   ({run.connections} connections, {sizes[name]} bytes/event stored)",
                      flush=True)  # fmt: skip
        for name, given in (("store_append", None), ("raw_copy", rows)):
            seconds, stored = in_process(server, batches, given)
            if stored != n:
                raise SystemExit(f"{name}: stored {stored} events, expected {n}")
            figures[name] = round(rate(n, seconds))
            print(f"  {name:<13} {seconds:7.2f} s  {figures[name]:>9,} events/s", flush=True)
    finally:
        server.stop()
    warn_if_busy(busy)
    share = {k: round(figures[k] / figures["raw_copy"], 3) for k in figures if k != "raw_copy"}
    print("  share of raw COPY: " + ", ".join(f"{k} {v:.0%}" for k, v in share.items()))
    emit(
        {
            "bench": "ingest_pg",
            "events": n,
            "batch": args.batch,
            "connections_per_collector": args.connections,
            "events_per_s": figures,
            "share_of_raw_copy": share,
            "bytes_per_event": sizes,
            "database_connections": connections,
            "other_busy_cores": round(busy, 2),
            "env": environment() | {"psycopg": psycopg.__version__, "postgresql": version},
        }
    )


if __name__ == "__main__":
    main()
