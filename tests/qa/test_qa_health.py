"""Health figures from a real store: volume, quarantine, browser-vs-server match, dedup,
match quality and delivery per destination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from convtrack.events import Campaign, Context, HashedIds, Rejected
from convtrack.qa.health import health
from convtrack.qa.sql import Conversions, Window
from convtrack.store import EventStore
from convtrack.store.outbox_model import Attempt
from qa_events import ev

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
W = Window(T0, T0 + timedelta(hours=1))


def conv(event_id: str, source: str, order_id: str | None, minute: int = 1, **kw: object) -> object:
    return ev(event_id, T0 + timedelta(minutes=minute), type="conversion",
              event_name="purchase", source=source, order_id=order_id, **kw)  # fmt: skip


def test_volume_quarantine_match_and_dedup(store: EventStore) -> None:
    store.append([ev(f"p{i}", T0 + timedelta(minutes=i % 3)) for i in range(6)])
    store.append([ev("old", T0 - timedelta(hours=2))])  # outside the window
    store.append(
        [conv("c1b", "tag", "o1"), conv("c1s", "server", "o1"),  # seen by both
         conv("c2", "tag", "o2"), conv("c3", "server", "o3"), conv("c4", "tag", None)],
        [Rejected("r1", T0, "tag", "{}", [{"path": "/event_name", "reason": "required"}])],
    )  # fmt: skip
    out = health(store, W, {"events_committed": 15, "events_new": 12})
    vol = out["volume"]
    assert vol["events"] == 11 and vol["by_source"]["server"]["events"] == 2
    assert vol["per_minute"][0] == {"minute": "2026-03-02T12:00:00Z", "source": "tag", "events": 2}
    q = out["quarantine"]
    assert q["quarantined"] == 1 and q["rate"] == round(1 / 12, 4)
    assert q["top_reasons"] == [{"path": "/event_name", "reason": "required", "count": 1}]
    c = out["conversions"]
    assert (c["conversions"], c["both"], c["browser_only"], c["server_only"]) == (4, 1, 2, 1)
    assert c["match_rate"] == 0.25
    d = out["dedup"]
    assert d["order_duplicates"] == 1 and d["orders"] == 3
    assert d["since_start"] == {"received": 15, "stored": 12, "duplicates": 3, "dedup_rate": 0.2}


def test_copies_sharing_one_event_id_are_seen_by_both(store: EventStore) -> None:
    """The browser tag and the backend send one purchase under one event_id: the store keeps
    one row, and event_copies remembers the other copy's source."""
    store.append([conv("s1", "tag", None), conv("s1", "server", None)])  # one batch
    store.append([conv("s2", "server", "o2")])
    assert store.append([conv("s2", "tag", "o2", minute=5)]) == 0  # a later batch: duplicate
    store.append([conv("s2", "tag", "o2", minute=6)])  # and once more from the browser
    store.append([conv("s3", "tag", None)])  # browser only
    store.append([conv("s4", "pixel", "o4"), conv("s4", "pixel", "o4")])  # browser only, twice
    store.append([ev("v1", T0 + timedelta(minutes=2)), ev("v1", T0 + timedelta(minutes=3))])
    assert store.count_events() == 5
    c = health(store, W)["conversions"]
    assert (c["conversions"], c["both"], c["browser_only"], c["server_only"]) == (4, 2, 2, 0)
    assert c["match_rate"] == 0.5
    d = health(store, W)["dedup"]["conversions"]  # page views are not tallied
    assert d == {"received": 8, "stored": 4, "duplicates": 4, "dedup_rate": 0.5}
    copies = store.query(
        "SELECT event_id, source, sum(copies) FROM event_copies GROUP BY 1, 2 ORDER BY 1, 2"
    ).rows  # fmt: skip
    assert [tuple(r) for r in copies] == [
        ("s1", "server", 1), ("s1", "tag", 1), ("s2", "server", 1), ("s2", "tag", 2),
        ("s3", "tag", 1), ("s4", "pixel", 2),
    ]  # fmt: skip


def test_the_plan_says_which_events_are_conversions(store: EventStore) -> None:
    """A ``purchase`` sent as a ``track`` is a conversion when the plan defines one on it; the
    pipeline marks it (``Event.conversion``) so its copies are tallied too."""
    copies = [
        ev("t1", T0 + timedelta(minutes=1), event_name="purchase", type="track", source=s,
           conversion=True)
        for s in ("tag", "server")
    ]  # fmt: skip
    store.append(copies)
    store.append([ev("t2", T0 + timedelta(minutes=2), event_name="signup", type="track")])
    assert health(store, W)["conversions"]["conversions"] == 0  # by type alone: none
    plan = health(store, W, conv=Conversions(("purchase", "signup")))
    c, d = plan["conversions"], plan["dedup"]["conversions"]
    assert (c["conversions"], c["both"], c["browser_only"], c["server_only"]) == (2, 1, 1, 0)
    assert d == {"received": 2, "stored": 1, "duplicates": 1, "dedup_rate": 0.5}


def test_conversions_of_the_default_plan() -> None:
    from convtrack.plan import load_configured_plan

    plan = load_configured_plan("")
    conv = Conversions.of_plan(plan)
    assert "purchase" in conv.names and plan.converts("purchase")
    assert not plan.converts("page_view") and "page_view" not in conv.names
    assert conv.where("e") == (
        "(e.type = 'conversion' OR e.event_name IN ("
        + ", ".join("?" for _ in conv.names) + "))"
    )  # fmt: skip


def test_an_erased_or_purged_conversion_leaves_no_copies(store: EventStore) -> None:
    from convtrack.store.base import Person

    store.append([conv("e1", "tag", None, anonymous_id="gone"), conv("e1", "server", None)])
    store.append([conv("e2", "tag", None, anonymous_id="kept")])
    store.erase_person(Person((("anonymous_id", "gone"),), (), "anonymous_id"))
    assert [r[0] for r in store.query("SELECT event_id FROM event_copies").rows] == ["e2"]
    assert store.purge_before(T0 + timedelta(days=1))["event_copies"] == 1
    assert store.query("SELECT count(*) FROM event_copies").rows[0][0] == 0


def test_match_quality_delivery_and_dead_letters(store: EventStore) -> None:
    rich = conv(
        "m1", "server", "o1",
        hashed=HashedIds(email_sha256="a" * 64, phone_sha256="b" * 64),
        campaign=Campaign(fbc="fb.1.1.x", gclid="g1"),
        context=Context(ip="203.0.113.1", user_agent="UA"),
    )  # fmt: skip
    bare = conv("m2", "tag", "o2")
    for e in (rich, bare):
        e.deliveries = [("meta", "purchase", "Purchase")]  # type: ignore[attr-defined]
    store.append([rich, bare])  # type: ignore[list-item]
    jobs = {j.event_id: j for j in store.claim_jobs("meta", 10, 60, datetime.now(UTC))}
    attempts = [
        Attempt(jobs["m1"].job_id, "m1", "delivered", 1, latency_ms=100.0),
        Attempt(jobs["m2"].job_id, "m2", "dead", 1, http_status=400, latency_ms=300.0),
    ]
    store.complete_jobs("meta", attempts)
    window = Window(T0, datetime.now(UTC) + timedelta(minutes=1))  # the log is stamped now
    meta = health(store, window)["destinations"]["meta"]
    assert meta["match_quality"]["events"] == 2
    assert meta["match_quality"]["shares"] == {
        "email": 0.5, "phone": 0.5, "fbc_fbp": 0.5, "click_id": 0.5, "ip_user_agent": 0.5,
    }  # fmt: skip
    sent = meta["delivery"]
    assert (sent["attempts"], sent["delivered"], sent["dead_letters"]) == (2, 1, 1)
    assert sent["success_rate"] == 0.5
    assert sent["latency_ms"] == {"p50": 200.0, "p95": 290.0}
    assert meta["dead_letters_total"] == 1 and meta["paused_at"] is None
