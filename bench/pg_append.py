"""Appending events to PostgreSQL: binary COPY (what ``PostgresStore`` does) vs executemany.

A throwaway PostgreSQL server (tests/pg.py: initdb + pg_ctl in a temp dir, 127.0.0.1, fsync
on), one fresh database per measurement, the same canonical events (bench/_events.py's mix)
in each, appended in batches of ``--batch`` in one committed transaction per batch:

  store append         ``PostgresStore.append``: rows built from the events, binary COPY
                       into a temporary table, INSERT … ON CONFLICT DO NOTHING RETURNING
  copy + insert        the same SQL from prebuilt rows (the database's share of the above)
  executemany          prebuilt rows, ``executemany`` of INSERT … ON CONFLICT DO NOTHING
  raw COPY             prebuilt rows, binary COPY straight into ``events`` (the ceiling: no
                       idempotency)

Each row checks the stored count. Run:  python bench/pg_append.py [--events 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import psycopg  # noqa: E402
from psycopg.adapt import Dumper  # noqa: E402
from psycopg.pq import Format  # noqa: E402

from _common import emit, environment, rate, wait_for_quiet, warn_if_busy  # noqa: E402
from _events import canonical, encode_batches, make_batches  # noqa: E402
from convtrack.events import Event  # noqa: E402
from convtrack.store.arrow import COLUMNS, JSON_COLUMNS  # noqa: E402
from convtrack.store.postgres import PostgresStore  # noqa: E402
from convtrack.store.postgres import events as pg_events  # noqa: E402
from pg import PgServer, start_server  # noqa: E402

Rows = list[tuple[Any, ...]]
_NAMES = ", ".join(f'"{name}"' for name, _, _ in COLUMNS)
_VALUES = ", ".join("%s::jsonb" if name in JSON_COLUMNS else "%s" for name, _, _ in COLUMNS)
EXECUTEMANY = f"INSERT INTO events ({_NAMES}) VALUES ({_VALUES}) ON CONFLICT (event_id) DO NOTHING"  # noqa: S608
RAW_COPY = f"COPY events ({_NAMES}) FROM STDIN (FORMAT BINARY)"
RAW_TYPES = [
    "jsonb" if name in JSON_COLUMNS else "numeric" if t == "float8" else t
    for (name, _, _), t in zip(COLUMNS, pg_events.TYPES, strict=True)
]
_VALUE = [name for name, _, _ in COLUMNS].index("value")


def raw_rows(rows: Sequence[Rows]) -> list[Rows]:
    """Rows with ``value`` as Decimal (numeric's binary form), built before the clock."""
    return [
        [(*r[:_VALUE], None if r[_VALUE] is None else Decimal(str(r[_VALUE])), *r[_VALUE + 1 :])
         for r in batch]
        for batch in rows
    ]  # fmt: skip


class _JsonText(str):
    """JSON text to send as jsonb in binary COPY (registering its dumper sets jsonb's)."""


class JsonbTextDumper(Dumper):
    """jsonb's binary form is a version byte (1) and the JSON text: no re-encoding."""

    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + obj.encode()


def fresh_store(server: PgServer) -> PostgresStore:
    store = PostgresStore(server.url(server.create_database("bench")))
    store.migrate()
    return store


def store_append(store: PostgresStore, batches: Sequence[list[Event]], _: Sequence[Rows]) -> None:
    for batch in batches:
        store.append(batch)


def copy_insert(store: PostgresStore, _: Sequence[list[Event]], rows: Sequence[Rows]) -> None:
    con = store._con  # the store's own writer connection, batch table made
    con.execute(pg_events.CREATE_BATCH)
    for batch in rows:
        with con.transaction(), con.cursor() as cur:
            with cur.copy(pg_events.COPY_BATCH) as copy:
                copy.set_types(pg_events.TYPES)
                for row in batch:
                    copy.write_row(row)
            cur.execute(pg_events.INSERT_NEW).fetchall()


def executemany(store: PostgresStore, _: Sequence[list[Event]], rows: Sequence[Rows]) -> None:
    con = store._con
    for batch in rows:
        with con.transaction(), con.cursor() as cur:
            cur.executemany(EXECUTEMANY, batch)


def raw_copy(store: PostgresStore, _: Sequence[list[Event]], rows: Sequence[Rows]) -> None:
    con = store._con
    JsonbTextDumper.oid = con.adapters.types["jsonb"].oid
    con.adapters.register_dumper(_JsonText, JsonbTextDumper)
    for batch in rows:
        with con.transaction(), con.cursor() as cur, cur.copy(RAW_COPY) as copy:
            copy.set_types(RAW_TYPES)
            for row in batch:
                copy.write_row(row)


METHODS: dict[str, Callable[[PostgresStore, Sequence[list[Event]], Sequence[Rows]], None]] = {
    "store_append": store_append,
    "copy_insert": copy_insert,
    "executemany": executemany,
    "raw_copy": raw_copy,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    print(f"building {args.events} canonical events ...", flush=True)
    batches = canonical(encode_batches(make_batches(args.events, args.batch, "pgbench")))
    rows = [list(pg_events.rows(b)) for b in batches]
    raw = raw_rows(rows)
    n = sum(len(b) for b in batches)
    busy = wait_for_quiet(60)
    server = start_server(durable=True)
    results: dict[str, float] = {}
    try:
        version = psycopg.connect(server.admin_url).info.server_version
        print(f"PostgreSQL {version // 10000}.{version % 10000}, psycopg {psycopg.__version__}")
        print(f"{n} events in batches of {args.batch}, one transaction per batch, fsync on")
        for name, method in METHODS.items():
            store = fresh_store(server)
            try:
                started = time.perf_counter()
                method(store, batches, raw if name == "raw_copy" else rows)
                seconds = time.perf_counter() - started
                stored = store.count_events()
            finally:
                store.close()
            if stored != n:
                raise SystemExit(f"{name}: stored {stored} events, expected {n}")
            results[name] = round(rate(n, seconds))
            print(f"  {name:<13} {seconds:7.2f} s  {results[name]:>9,} events/s")
    finally:
        server.stop()
    warn_if_busy(busy)
    ratio = results["copy_insert"] / results["executemany"]
    print(f"COPY + insert vs executemany: {ratio:.1f}x")
    emit(
        {
            "bench": "pg_append",
            "events": n,
            "batch": args.batch,
            "events_per_s": results,
            "copy_vs_executemany": round(ratio, 2),
            "other_busy_cores": round(busy, 2),
            "env": environment() | {"psycopg": psycopg.__version__},
        }
    )


if __name__ == "__main__":
    main()
