"""Rights and retention in the store: erase with tombstones, person data, purge, raw-IP expiry."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec
import pytest

from convtrack.events import Context, Event, HashedIds, Rejected
from convtrack.identity import GraphRows
from convtrack.identity.graph import person_id_for
from convtrack.identity.records import StitchPolicy
from convtrack.privacy.erase import erase
from convtrack.privacy.export import export
from convtrack.privacy.retention import Retention, purge
from convtrack.store import EventStore
from convtrack.store.base import Person
from convtrack.store.process import StoreProcess

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EMAIL = "ann@example.com"
EMAIL_SHA = hashlib.sha256(EMAIL.encode()).hexdigest()
ANN = ("ann-laptop", "ann-phone", "ann-user", EMAIL_SHA)
BOB = ("bob-laptop", "bob-user")
TOKEN = re.compile(r"[A-Za-z0-9_.@-]+")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ann_and_bob(store: EventStore, make: Callable[..., Event]) -> None:
    """Ann: two devices stitched by her user id and email; Bob: one device. Each has events,
    a quarantined payload, identity rows and a conversion credit."""
    store.append(
        [
            make(
                "a1",
                anonymous_id="ann-laptop",
                user_id="ann-user",
                context=Context(ip="203.0.113.7"),
            ),
            make("a2", anonymous_id="ann-phone", hashed=HashedIds(email_sha256=EMAIL_SHA)),
            make(
                "b1",
                anonymous_id="bob-laptop",
                user_id="bob-user",
                context=Context(ip="198.51.100.9"),
            ),
        ],
        [
            reject("ra", {"anonymous_id": "ann-phone", "event_name": "Bad Name"}),
            reject("rb", {"anonymous_id": "bob-laptop", "event_name": "Bad Name"}),
            reject("re", {"identifiers": {"email_sha256": EMAIL_SHA}, "event_name": "x y"}),
        ],
    )
    ann, bob = "person:ann", "person:bob"
    rows = GraphRows(
        identifiers=[
            ("anonymous_id", "ann-laptop", ann, 0), ("user_id", "ann-user", ann, 1),
            ("anonymous_id", "ann-phone", ann, 2), ("email_sha256", EMAIL_SHA, ann, 3),
            ("anonymous_id", "bob-laptop", bob, 4), ("user_id", "bob-user", bob, 5),
        ],
        merges=[(ann, "person:ann2", "email_sha256", EMAIL_SHA, "a2", T0)],
        refused=[],
    )  # fmt: skip
    store.replace_identity(rows, [("ann-laptop", ann), ("ann-phone", ann), ("bob-laptop", bob)])
    for event_id in ("a1", "b1"):
        credit(store, event_id)


def reject(reject_id: str, payload: dict[str, Any]) -> Rejected:
    return Rejected(
        reject_id=reject_id, received_at=T0, source="server",
        payload=msgspec.json.encode(payload).decode(), reasons=[{"reason": "bad"}],
        ip="203.0.113.7",
    )  # fmt: skip


def credit(store: EventStore, event_id: str) -> None:
    from convtrack.store.base import CreditsJob

    sql = (
        "SELECT ? || chr(31) || 'purchase' AS conversion_key, ? AS event_id,"
        " 'purchase' AS conversion, CAST(? AS TIMESTAMPTZ) AS converted_at, ? AS model,"
        " ? AS touch_id, CAST(? AS TIMESTAMPTZ) AS touch_at, 'click' AS kind, 0 AS position,"
        " 1 AS touches, 'direct' AS channel, '' AS source, '' AS medium, '' AS campaign,"
        " '' AS ad, 1.0 AS credit, NULL AS value_credit, NULL AS currency"
    )
    params = [event_id, event_id, T0, f"last_{event_id}", event_id, T0]
    store.save_credits(CreditsJob(sql, params, None, [f"last_{event_id}"], None, None))


def mentions(store: EventStore, values: tuple[str, ...]) -> dict[str, int]:
    """Rows of every table whose text mentions one of ``values`` (a generic scan, in Python
    so it reads the same on every engine)."""
    tables = store.query(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE' AND table_schema = current_schema()"
    ).rows
    wanted = set(values)
    found = {}
    for (table,) in tables:
        rows = store.query(f'SELECT * FROM "{table}"').rows  # noqa: S608
        n = sum(
            bool(wanted & set(TOKEN.findall(" ".join(str(v) for v in row if v is not None))))
            for row in rows
        )
        if n:
            found[table] = n
    return found


def test_erase_deletes_the_whole_person_and_only_them(
    store: EventStore, event: Callable[..., Event]
) -> None:
    ann_and_bob(store, event)
    assert mentions(store, ANN)  # the scan sees Ann before
    before_bob = mentions(store, BOB)

    done = erase(store, "email", " Ann@Example.com ")

    assert done["deleted"]["events"] == 2 and done["deleted"]["quarantine"] == 2
    assert done["deleted"]["conversion_credits"] == 1
    assert done["deleted"]["identity_identifiers"] == 4
    assert mentions(store, (*ANN[:3], EMAIL)) == {}
    # A hashed kind's tombstone is its hash (as the brief for tombstones says): only there.
    assert set(mentions(store, (EMAIL_SHA,))) == {"privacy_tombstones", "privacy_erasures"}
    assert mentions(store, BOB) == before_bob
    assert store.query("SELECT event_id FROM events").rows == [("b1",)]


def test_tombstones_hold_no_raw_value_and_drop_later_events(
    store: EventStore, event: Callable[..., Event]
) -> None:
    ann_and_bob(store, event)
    erase(store, "user_id", "ann-user")
    tombstones = store.query("SELECT hash, kind FROM privacy_tombstones ORDER BY hash, kind").rows
    assert sorted(h for h, _ in tombstones) == sorted(
        [sha("anonymous_id:ann-laptop"), sha("anonymous_id:ann-phone"), sha("user_id:ann-user"),
         EMAIL_SHA]
    )  # fmt: skip
    log = store.query("SELECT requested, CAST(hashes AS VARCHAR) FROM privacy_erasures").rows
    assert log[0][0] == "user_id" and "ann-" not in log[0][1]

    new = store.append(
        [
            event("late1", anonymous_id="ann-phone"),  # the same device
            event("late2", anonymous_id="new-tablet", hashed=HashedIds(email_sha256=EMAIL_SHA)),
            event("late3", anonymous_id="bob-laptop"),
        ],
        [reject("late-r", {"anonymous_id": "ann-laptop"})],
    )
    assert new == 1
    assert store.query("SELECT event_id FROM events ORDER BY 1").rows == [("b1",), ("late3",)]
    assert store.query("SELECT count(*) FROM quarantine WHERE reject_id = 'late-r'").rows == [(0,)]


def test_tombstones_survive_a_reopen(
    open_migrated: Callable[[], EventStore], event: Callable[..., Event]
) -> None:
    store = open_migrated()
    ann_and_bob(store, event)
    erase(store, "anonymous_id", "ann-laptop")
    store.close()
    store = open_migrated()
    assert store.append([event("late", anonymous_id="ann-laptop")]) == 0
    assert store.count_events() == 1


def test_an_unknown_identifier_erases_itself_alone(
    store: EventStore, event: Callable[..., Event]
) -> None:
    store.append([event("x1", anonymous_id="loner"), event("x2", anonymous_id="other")])
    done = erase(store, "anonymous_id", "loner", dry_run=True)
    assert done["deleted"]["events"] == 1 and store.count_events() == 2  # dry run: counted
    assert erase(store, "anonymous_id", "loner")["deleted"]["events"] == 1
    assert store.query("SELECT event_id FROM events").rows == [("x2",)]


def test_export_holds_the_person_and_nobody_else(
    store: EventStore, event: Callable[..., Event]
) -> None:
    ann_and_bob(store, event)
    doc = export(store, "anonymous_id", "ann-phone")
    text = msgspec.json.encode(doc).decode()
    assert {e["event_id"] for e in doc["tables"]["events"]} == {"a1", "a2"}
    assert {r["reject_id"] for r in doc["tables"]["quarantine"]} == {"ra", "re"}
    assert len(doc["tables"]["identity_merges"]) == 1
    assert [c["event_id"] for c in doc["tables"]["conversion_credits"]] == ["a1"]
    assert {"kind": "email_sha256", "value": EMAIL_SHA} in doc["identifiers"]
    assert len(doc["consent"]) == 2
    assert "bob" not in text and EMAIL not in text


def test_purge_deletes_only_rows_past_retention(
    store: EventStore, event: Callable[..., Event]
) -> None:
    old, recent = T0 - timedelta(days=40), T0 - timedelta(days=5)
    store.append(
        [event("old", received_at=old), event("recent", received_at=recent)],
        [
            Rejected("r-old", old, "server", "{}", []),
            Rejected("r-new", recent, "server", "{}", []),
        ],
    )
    credit(store, "old")
    policy = Retention(days=30)
    dry = purge(store, policy, now=T0, dry_run=True)
    assert dry["purged"]["events"] == 1 and store.count_events() == 2
    done = purge(store, policy, now=T0)
    assert done["purged"]["events"] == 1 and done["purged"]["quarantine"] == 1
    assert store.query("SELECT event_id FROM events").rows == [("recent",)]
    assert store.query("SELECT reject_id FROM quarantine").rows == [("r-new",)]
    assert store.query("SELECT count(*) FROM conversion_credits").rows == [(1,)]  # aggregates


def test_purge_deletes_finished_jobs_and_their_log_but_not_pending_ones(
    store: EventStore, event: Callable[..., Event]
) -> None:
    from convtrack.store.outbox_model import Attempt

    made = [event(i, type="conversion") for i in ("done", "later")]
    for e in made:
        e.deliveries = [("webhook", "purchase", "purchase")]
    store.append(made)
    now = datetime.now(UTC)
    jobs = {j.event_id: j for j in store.claim_jobs("webhook", 10, 60, now)}
    store.complete_jobs(
        "webhook",
        [
            Attempt(jobs["done"].job_id, "done", "delivered", 1),
            Attempt(jobs["later"].job_id, "later", "retry", 1, now + timedelta(hours=1)),
        ],
    )
    done = store.purge_before(now + timedelta(days=1))
    assert (done["outbox"], done["delivery_log"]) == (1, 2)
    assert store.query("SELECT event_id, status FROM outbox").rows == [("later", "pending")]


def test_raw_ips_expire_only_in_old_rows(store: EventStore, event: Callable[..., Event]) -> None:
    old, recent = T0 - timedelta(hours=30), T0 - timedelta(hours=2)
    store.append(
        [
            event("old4", received_at=old, context=Context(ip="203.0.113.77")),
            event("old6", received_at=old, context=Context(ip="2001:db8:1234:5678::1")),
            event("old-bad", received_at=old, context=Context(ip="not-an-ip")),
            event("new4", received_at=recent, context=Context(ip="203.0.113.77")),
        ],
        [Rejected("r-old", old, "server", "{}", [], ip="198.51.100.23")],
    )
    done = purge(store, Retention(raw_ip_hours=24), now=T0)
    assert done["raw_ips"]["events"] == 3 and done["raw_ips"]["quarantine"] == 1
    ips = dict(store.query("SELECT event_id, ip FROM events").rows)
    assert ips == {
        "old4": "203.0.113.0", "old6": "2001:db8:1234::", "old-bad": None,
        "new4": "203.0.113.77",
    }  # fmt: skip
    assert store.query("SELECT ip FROM quarantine").rows == [("198.51.100.0",)]
    again = purge(store, Retention(raw_ip_hours=24), now=T0)  # idempotent: nothing left to do
    assert again["raw_ips"]["distinct_ips"] == 0


@pytest.fixture
def process(store_url: str) -> Iterator[StoreProcess]:
    proc = StoreProcess(store_url, {}, queue_max_events=10)
    proc.store.migrate()
    yield proc
    proc.stop()


def test_the_store_process_forwards_rights_and_retention(
    process: StoreProcess, event: Callable[..., Event]
) -> None:
    store = process.store
    store.append([event("p1", anonymous_id="gone", context=Context(ip="203.0.113.5"))])
    person = Person((("anonymous_id", "gone"),), (), "anonymous_id")
    assert [r["event_id"] for r in store.person_data(person)["events"]] == ["p1"]
    assert store.raw_ips(T0 + timedelta(days=1)) == ["203.0.113.5"]
    assert store.replace_ips(T0 + timedelta(days=1), {"203.0.113.5": "203.0.113.0"})["events"] == 1
    assert store.erase_person(person, True)["events"] == 1
    assert store.erase_person(person)["events"] == 1
    assert store.append([event("p2", anonymous_id="gone")]) == 0
    assert set(store.purge_before(T0 + timedelta(days=1)).values()) == {0}


# -- retention of the identity graph ------------------------------------------------------------
OLD, RECENT, CUTOFF = T0 - timedelta(days=40), T0 - timedelta(days=5), T0 - timedelta(days=30)
E_GONE, E_KEPT = sha("gone@example.com"), sha("kept@example.com")
GONE_EMAIL = HashedIds(email_sha256=E_GONE)
IDENTITY_TABLES = ("identity_identifiers", "identity_people", "identity_merges", "identity_refused")


def identity(store: EventStore) -> dict[str, set[tuple[Any, ...]]]:
    """The identity tables' rows (without first_seen and event details)."""
    columns = {
        "identifiers": "kind, value, person_id FROM identity_identifiers",
        "people": "anonymous_id, person_id FROM identity_people",
        "merges": "kept, absorbed, via_value FROM identity_merges",
        "refused": "person_id, other_person_id, via_value FROM identity_refused",
    }
    return {name: set(store.query(f"SELECT {sql}").rows) for name, sql in columns.items()}


def gone_and_kept(store: EventStore, make: Callable[..., Event]) -> None:
    """Gus: every event past retention, with a merge and a refusal. Kim: founded by an old event
    on her laptop (with her email), then seen on her phone with the same user id recently."""
    store.configure_identity(StitchPolicy(), at_ingest=True)
    store.append(
        [
            make("g1", received_at=OLD, anonymous_id="gus-a"),
            make("g2", received_at=OLD, anonymous_id="gus-b"),
            make("g3", received_at=OLD, anonymous_id="gus-a", hashed=GONE_EMAIL),
            make("g4", received_at=OLD, anonymous_id="gus-b", hashed=GONE_EMAIL),
            make("g5", received_at=OLD, anonymous_id="gus-a", user_id="gus-1"),
            make("g6", received_at=OLD, anonymous_id="gus-b", user_id="gus-2"),
            make("k1", received_at=OLD, anonymous_id="kim-laptop", user_id="kim",
                 hashed=HashedIds(email_sha256=E_KEPT)),
        ]
    )  # fmt: skip
    store.append([make("k2", received_at=RECENT, anonymous_id="kim-phone", user_id="kim")])


GUS = ("gus-a", "gus-b", "gus-1", "gus-2", E_GONE)


def test_purge_expires_the_identity_rows_no_kept_event_holds(
    store: EventStore, event: Callable[..., Event]
) -> None:
    gone_and_kept(store, event)
    kim_was = person_id_for(("anonymous_id", "kim-laptop"))
    before = identity(store)
    gus_ids = {person_id_for(i) for i in (("anonymous_id", "gus-a"), ("anonymous_id", "gus-b"),
                                          ("user_id", "gus-2"))}  # fmt: skip
    assert {p for _, _, p in before["identifiers"]} == gus_ids - {
        person_id_for(("anonymous_id", "gus-b"))  # absorbed
    } | {kim_was}
    assert before["merges"] and before["refused"], "Gus's events merged and refused"

    done = purge(store, Retention(days=30), now=T0)["purged"]

    kim = person_id_for(("user_id", "kim"))  # named after her oldest identifier left
    after = identity(store)
    assert after["identifiers"] == {("anonymous_id", "kim-phone", kim), ("user_id", "kim", kim)}
    assert after["people"] == {("kim-phone", kim)}
    assert not {p for row in after["merges"] | after["refused"] for p in row} & gus_ids
    assert all(kim_was not in row for rows in after.values() for row in rows)
    assert mentions(store, GUS) == {}, "nothing of Gus is left"
    assert (done["identity_identifiers"], done["identity_people"]) == (7, 3)
    assert (done["identity_merges"], done["identity_refused"]) == (1, 1)  # Gus's, all old
    # nothing left to expire: a second purge deletes nothing
    assert set(store.purge_before(CUTOFF).values()) == {0}


def test_after_the_purge_a_purged_identifier_founds_a_new_person(
    store: EventStore, event: Callable[..., Event]
) -> None:
    gone_and_kept(store, event)
    store.purge_before(CUTOFF)  # DuckDB: its graph in memory still knew kim-laptop and Gus
    kim = person_id_for(("user_id", "kim"))
    store.append(
        [
            event("n1", received_at=T0, anonymous_id="kim-laptop"),  # purged: someone new
            event("n2", received_at=T0, anonymous_id="kim-tablet", user_id="kim"),  # kept: Kim
            event("n3", received_at=T0, anonymous_id="gus-a", hashed=GONE_EMAIL),
        ]
    )  # fmt: skip
    people = dict(store.query("SELECT anonymous_id, person_id FROM identity_people").rows)
    assert people == {
        "kim-phone": kim,
        "kim-tablet": kim,
        "kim-laptop": person_id_for(("anonymous_id", "kim-laptop")),
        "gus-a": person_id_for(("anonymous_id", "gus-a")),
    }
    persons = store.query("SELECT person_id, identifiers FROM identity_persons").rows
    assert sorted(persons) == sorted([(kim, 3), (people["kim-laptop"], 1), (people["gus-a"], 2)])


def test_an_identifier_seen_again_during_the_scan_is_kept(
    store: EventStore, event: Callable[..., Event], engine: str
) -> None:
    """PostgreSQL purges in three steps so appends never wait for the scan of the events: an
    event arriving between the scan and the locked step keeps the identifier it holds."""
    if engine != "postgresql":
        pytest.skip("DuckDB purges in one transaction of its one writer: nothing comes between")
    from convtrack.store.postgres import privacy as pg_privacy

    gone_and_kept(store, event)
    pg = cast(Any, store)  # the PostgresStore's own steps, one at a time
    with pg._transaction() as con:
        pg_privacy.purge(con, CUTOFF, False)
    with pg._transaction() as con:
        scanned_at = con.execute("SELECT now()").fetchall()[0][0]
        unheld = pg_privacy.unheld_identifiers(con, CUTOFF)
    assert ("anonymous_id", "kim-laptop") in unheld and ("anonymous_id", "gus-a") in unheld
    store.append([event("late", received_at=datetime.now(UTC), anonymous_id="kim-laptop")])
    with pg._transaction() as con:
        done = pg_privacy.expire_identifiers(con, unheld, scanned_at, False)
    people = dict(store.query("SELECT anonymous_id, person_id FROM identity_people").rows)
    assert "kim-laptop" in people and "gus-a" not in people
    assert done["identity_people"] == 2  # gus-a and gus-b; kim-laptop came back


def test_a_dry_run_counts_the_identity_rows_and_deletes_nothing(
    store: EventStore, event: Callable[..., Event]
) -> None:
    gone_and_kept(store, event)
    before = identity(store)
    dry = store.purge_before(CUTOFF, dry_run=True)
    assert identity(store) == before
    assert all(dry[t] for t in IDENTITY_TABLES)
    assert store.purge_before(CUTOFF) == dry
