"""What ``DuckDBStore.append`` writes for many varied batches: a fingerprint to compare trees.

Not a benchmark: a check for changes to the store's append path (the insert, identity
stitching at ingest, the conversion copies, the outbox) that must not change what it stores.
Deterministic canonical events go through ``DuckDBStore.append`` in batches of varied size:
a pool of people whose anonymous ids, user ids and hashed email/phone/external/advertising
ids repeat and cross (merges, and refusals under a small stitching policy), events re-sent in
a later batch and twice in one batch, conversions sent by the browser and the server under
one id (``event_copies``), delivery jobs (``outbox``), an event with no identifier, then a
reopen of the store and more batches. Prints the SHA-256 of every table the append writes
(rows sorted; the outbox without its time columns), and of them all.

  PYTHONPATH=/path/to/old/src python bench/append_output.py
  python bench/append_output.py    [--seed N] [--events N] [--policy small|default] [--pool N]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta

import msgspec

from convtrack.events import Event, HashedIds
from convtrack.identity.records import StitchPolicy
from convtrack.store.duckdb_store import DuckDBStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TABLES = {
    "events": "SELECT * FROM events",
    "identity_identifiers": "SELECT * FROM identity_identifiers",
    "identity_people": "SELECT * FROM identity_people",
    "identity_merges": "SELECT * FROM identity_merges",
    "identity_refused": "SELECT * FROM identity_refused",
    "event_copies": "SELECT * FROM event_copies",
    "outbox": "SELECT job_id, event_id, destination, conversion, platform_event, status"
    " FROM outbox",
}
SMALL = StitchPolicy(
    max_person_identifiers=6, max_person_anonymous_ids=3, max_per_kind={"user_id": 1}
)
_HASHED = set(msgspec.structs.asdict(HashedIds()))  # the hashed identifier fields this tree has


POOL = [1]  # how many times larger the pools of identifiers are (--pool)


# Before and after migration 0019 (advertising_id_sha256): a fixed list, so two trees compared
# with this script draw the same random numbers.
DRAWN = ("advertising_id_sha256", "email_sha256", "external_id_sha256", "phone_sha256")


def digest(rng: random.Random, pool: int) -> str:
    return hashlib.sha256(str(rng.randrange(pool * POOL[0])).encode()).hexdigest()


def make_event(rng: random.Random, n: int) -> Event:
    kind = rng.random()
    conversion = kind < 0.3
    hashed: dict[str, str] = {}
    if conversion or rng.random() < 0.1:
        for field in DRAWN:  # the same draws whichever fields this tree's HashedIds has
            chosen, value = rng.random() < 0.6, digest(rng, 400)
            if chosen and field in _HASHED:
                hashed[field] = value
    at = T0 + timedelta(seconds=rng.randrange(0, 86_400), microseconds=rng.randrange(10**6))
    return Event(
        event_id=f"ev-{n}",
        event_name="purchase" if conversion else "page_view",
        type="conversion" if kind < 0.2 else ("page" if kind > 0.5 else "track"),
        source=rng.choice(["browser", "server", "pixel"]),
        occurred_at=at,
        received_at=at + timedelta(milliseconds=rng.randrange(0, 5000)),
        anonymous_id=None if rng.random() < 0.05 else f"anon-{rng.randrange(2000 * POOL[0])}",
        user_id=f"user-{rng.randrange(300 * POOL[0])}" if rng.random() < 0.25 else None,
        hashed=HashedIds(**hashed),
        value=round(rng.uniform(1, 500), 2) if conversion else None,
        currency="EUR" if conversion else None,
        order_id=f"order-{n}" if conversion else None,
        properties={"n": n, "tag": rng.choice(["a", "b", None])},
        deliveries=[("meta", "purchase", "Purchase")] if conversion and rng.random() < 0.5 else [],
        conversion=kind < 0.3 and rng.random() < 0.8,
    )


def batches(rng: random.Random, count: int) -> list[list[Event]]:
    events = [make_event(rng, n) for n in range(count)]
    out: list[list[Event]] = []
    i = 0
    while i < len(events):
        size = rng.choice([1, 2, 7, 50, 300, 1000, 2500])
        batch = events[i : i + size]
        i += size
        if out and rng.random() < 0.3:  # re-sent: some events of an earlier batch again
            earlier = rng.choice(out)
            batch += rng.sample(earlier, min(len(earlier), rng.randrange(1, 20)))
        if batch and rng.random() < 0.3:  # one event twice in a batch, from another source
            twin = rng.choice(batch)
            batch.append(msgspec.structs.replace(twin, source="browser", received_at=T0))
        rng.shuffle(batch)
        out.append(batch)
    return out


def fingerprint(store: DuckDBStore) -> dict[str, str]:
    out = {}
    for name, sql in TABLES.items():
        rows = sorted(store._con.execute(sql).fetchall(), key=repr)
        out[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
        out[name + "_rows"] = str(len(rows))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--policy", choices=["small", "default"], default="small")
    ap.add_argument("--pool", type=int, default=1, help="identifier pools N times larger")
    args = ap.parse_args()
    POOL[0] = args.pool
    rng = random.Random(args.seed)
    work = batches(rng, args.events)
    url = f"duckdb://{tempfile.mkdtemp(prefix='convtrack-append-')}/append.duckdb"
    policy = SMALL if args.policy == "small" else StitchPolicy()
    half = len(work) // 2
    for part in (work[:half], work[half:]):  # a reopen between the halves
        store = DuckDBStore(url)
        store.migrate()
        store.configure_identity(policy)
        for batch in part:
            store.append(batch)
        store.close()
    store = DuckDBStore(url)
    found = fingerprint(store)
    store.close()
    for name, value in found.items():
        print(f"{name:28}{value}")
    whole = hashlib.sha256(repr(sorted(found.items())).encode()).hexdigest()
    print(f"{len(work)} batches; all tables: {whole}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
