"""What the ingest path stores for many varied events: a fingerprint to compare two trees.

Not a benchmark: a check for changes that make the hot path faster and must not change what
it stores. 30,000 deterministic events (every identifier field in good, odd and invalid
spellings: emails with dots, tags, whitespace or already hashed; phone numbers of many
calling codes, national ones with a region, vanity numbers, extensions, junk; a pool of
people whose identifiers repeat; consent granted, denied, missing, GPC) go through
``to_event``, the consent gate (nine regions), the msgpack trip to the store process,
``to_arrow`` and ``DuckDBStore.append``. Prints the SHA-256 of the Arrow IPC file of the
inserted tables and of the stored ``events`` rows; ``--out PREFIX`` keeps both files.

Run it on the old and the new tree and compare the last lines:

  PYTHONPATH=/path/to/old/src python bench/ingest_output.py
  python bench/ingest_output.py            [--seed N] [--events N] [--out PREFIX]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from convtrack.collect.parse import Invalid, Origin, decode_body, to_event
from convtrack.config import Settings
from convtrack.enrich.privacy import ConsentGate
from convtrack.events import Event
from convtrack.store import process
from convtrack.store.arrow import to_arrow
from convtrack.store.duckdb_store import DuckDBStore

DIGEST = hashlib.sha256(b"x").hexdigest()
REGIONS = [None, "US", "GB", "DE", "IT", "FR", "CA", "RE", "AU"]


def phone(rng: random.Random) -> str:
    def n(low: int, high: int) -> int:
        return rng.randrange(low, high)

    return rng.choice([
        f"+1 (555) {n(100, 999)}-{n(1000, 9999)}", f"+1 212 {n(200, 999)} {n(1000, 9999)}",
        f"(212) {n(200, 999)}-{n(1000, 9999)}", f"020 7946 0{n(100, 999)}",
        f"07700 900{n(100, 999)}", f"+44 844 412 {n(1000, 9999)}",
        f"0044 844 412 {n(1000, 9999)}", f"448444124{n(100, 999)}", f"+49 30 {n(10**6, 10**7)}",
        f"030 {n(10**6, 10**7)}", f"+39 06 {n(10**7, 10**8)}", f"+800 {n(10**7, 10**8)}",
        f"+262 262 {n(10**5, 10**6)}", f"+7 495 {n(10**6, 10**7)}", f"+33 6 {n(10**7, 10**8)}",
        "1-800-FLOWERS", "+1 800 FLOWERS", f"+1 212 555 {n(1000, 9999)} ext. 12", "abc", "+",
        "00", DIGEST, f"+{n(10**11, 10**12)}", f"{n(10**9, 10**10)}", f"+1 {n(10**9, 10**10)}",
        f"+61 4{n(10**7, 10**8)}", f"+1 1 212 {n(200, 999)} {n(1000, 9999)}",
    ])  # fmt: skip


def email(rng: random.Random) -> str:
    user = rng.choice(["John.Doe", "j.o.h.n", "Ann+tag", "x", "Müller", "ok_1"])
    user += str(rng.randrange(3000))
    return rng.choice([
        f"  {user}@Example.COM ", f"{user}@gmail.com", f"{user}@GoogleMail.com",
        f"{user} @ex ample.com", "not-an-email", "a@b", "@x.com", DIGEST, DIGEST.upper(),
        f" {DIGEST} ", f"{user}@exa\tmple.org", "  ",
    ])  # fmt: skip


OTHER_FIELDS: dict[str, list[str]] = {
    "external_id": [" CRM-7 ", "ID 42", DIGEST, "x"],
    "first_name": ["Mrs. Jane", " O'Brien ", "Jean-Luc", "Ünal", "Dr", "12"],
    "last_name": ["Doe Jr.", "van der Berg", "SMITH", "ii"],
    "city": ["New York 10001", "São Paulo", "  ", "St. Louis"],
    "state": ["CA", "New South Wales", "ny"],
    "zip": ["10001-1234", "SW1A 1AA", "1234", "9", "94105"],
    "country": ["us", "United Kingdom", "DE", "XX", "u.s."],
    "date_of_birth": ["1990-01-31", "19900131", "1990/02/30", "31.01.1990"],
    "gender": ["Male", "f", "woman", "x", "Mr"],
}


def identifiers(rng: random.Random) -> dict[str, str]:
    ids: dict[str, str] = {}
    if rng.random() < 0.7:
        ids["email"] = email(rng)
    if rng.random() < 0.7:
        ids["phone"] = phone(rng)
    for name, choices in OTHER_FIELDS.items():
        if rng.random() < (0.7 if name == "external_id" else 0.25):
            ids[name] = rng.choice(choices)
    return ids


def consent(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.15:
        return None
    signals = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
    out: dict[str, Any] = {s: rng.choice(["granted", "granted", "denied"]) for s in signals}
    if rng.random() < 0.05:
        out["gpc"] = True
    return out


def wire_events(rng: random.Random, count: int) -> list[dict[str, Any]]:
    people = [identifiers(rng) for _ in range(2500)]  # repeated: the identifier cache's case
    now_ms = 1_764_000_000_000
    events = []
    for i in range(count):
        kind = rng.choice(["track", "conversion", "page"])
        event: dict[str, Any] = {
            "event_id": f"ev-{i}",
            "timestamp": now_ms - rng.randrange(60_000),
            "anonymous_id": f"anon-{rng.randrange(5000)}",
            "type": kind,
            "context": {"ip": f"203.0.113.{rng.randrange(1, 255)}", "user_agent": "Mozilla/5.0"},
        }
        if kind != "page":
            event["event_name"] = rng.choice(["purchase", "signup", "view_item"])
        ids = rng.choice(people) if rng.random() < 0.7 else identifiers(rng)
        if ids and rng.random() < 0.8:
            event["identifiers"] = ids
        if (signals := consent(rng)) is not None:
            event["consent"] = signals
        if kind == "conversion":
            event |= {"value": round(rng.uniform(1, 500), 2), "currency": "USD"}
        events.append(event)
    return events


def store_trip() -> Callable[[Any], Any]:
    """The batch's msgpack trip to the store process, as this tree makes it."""
    if hasattr(process, "encode_jobs"):
        return lambda jobs: process.decode_jobs(*process.encode_jobs(jobs))
    return lambda jobs: process._decode_jobs(process._encode_jobs(jobs))  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--out", help="keep PREFIX.arrow and PREFIX.rows")
    args = ap.parse_args()

    events = wire_events(random.Random(args.seed), args.events)
    gate = ConsentGate(Settings())
    origin = Origin(
        source="server", key_id="key_cmp", trusted=True, ip="127.0.0.1", user_agent="cmp",
        received_at=datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
    )  # fmt: skip
    trip, encode = store_trip(), msgspec.json.Encoder().encode
    tmp = Path(tempfile.mkdtemp(prefix="convtrack-output-"))
    store = DuckDBStore(f"duckdb://{tmp}/out.duckdb")
    store.migrate()
    tables = []
    for start in range(0, len(events), 500):
        body = encode({"events": events[start : start + 500], "sent_at": 1_764_000_000_000})
        items, sent_at, _ = decode_body(body)
        region = REGIONS[start // 500 % len(REGIONS)]
        kept = []
        for i, item in enumerate(items):
            if isinstance(item, Invalid):
                continue
            event = to_event(
                i, item, origin, sent_at, default_currency="USD", max_future=timedelta(days=1)
            )
            if isinstance(event, Event) and gate.apply(event, region) is not None:
                kept.append(event)
        ((_, arrived, _),) = trip([(1, kept, [])])
        tables.append(to_arrow(arrived))
        store.append(arrived)
    table = pa.concat_tables(tables)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    arrow_bytes = sink.getvalue().to_pybytes()
    rows = store._con.execute("SELECT * FROM events ORDER BY event_id").fetchall()
    store.close()
    row_bytes = "\n".join(map(repr, rows)).encode()
    if args.out:
        Path(args.out + ".arrow").write_bytes(arrow_bytes)
        Path(args.out + ".rows").write_bytes(row_bytes)
    phones = sum(1 for value in table.column("phone_sha256").to_pylist() if value)
    print(f"{len(table):,} events inserted, {len(rows):,} stored, {phones:,} phones hashed")
    print(
        f"arrow {hashlib.sha256(arrow_bytes).hexdigest()} "
        f"rows {hashlib.sha256(row_bytes).hexdigest()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
