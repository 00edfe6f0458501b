"""Three ``convtrack serve`` processes (three ports, as if on three hosts) on one PostgreSQL.

Interleaved batches arrive at all three at once, some batches at two of them (the same event
ids), and each person's identity links are spread over the servers. The shared store must
hold every acknowledged event once, one person per linked group, one outbox job per event and
destination, and every job claimed by one server's worker: the webhook receives each
conversion exactly once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from forward.fakes import FakePlatform
from live_server import Server, make_event, new_id
from pg import PgServer, start_server

SERVERS = 3
GROUPS = 30  # people, each with two devices and a login on both
DEADLINE = 90.0
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
GRANTED = {s: "granted" for s in
           ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")}  # fmt: skip


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def webhook() -> Iterator[FakePlatform]:
    with FakePlatform("webhook") as fake:
        yield fake


@pytest.fixture
def collectors(
    pg: PgServer, webhook: FakePlatform, tmp_path: Path
) -> Iterator[tuple[list[Server], str]]:
    """Three servers with their own data dirs and ports, one database; the database URL."""
    url = pg.url(pg.create_database("multi"))
    env = {
        "CONVTRACK_STORE": url,
        "CONVTRACK_DESTINATIONS": "webhook",
        "CONVTRACK_FORWARD_POLL_MS": "50",
        "CONVTRACK_FORWARD_RETRY_BASE_SECONDS": "0.05",
        "CONVTRACK_FORWARD_RETRY_MAX_SECONDS": "0.2",
        "CONVTRACK_FORWARD_TIMEOUT_SECONDS": "30",
        **webhook.env(),
    }
    servers = [Server(tmp_path / f"host{n}", env) for n in range(SERVERS)]
    try:
        for srv in servers:
            srv.root.mkdir()
        first = servers[0].start()  # migrates the database and prints the first write key
        secret = first.secret_key  # keys live in the shared store: every server knows them
        for srv in servers[1:]:
            srv.public_key, srv._secret_key = first.public_key, secret
            srv.start()  # migrations already applied: nothing to do, no second key
        yield servers, url
    finally:
        for srv in servers:
            srv.close()
    for srv in servers:
        srv.assert_clean_logs()


def page(anonymous_id: str, user_id: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "event_name": "page_view",
        "type": "page",
        "anonymous_id": anonymous_id,
    }
    if user_id:
        fields["user_id"] = user_id
    return make_event(**fields)


def purchase(anonymous_id: str) -> dict[str, Any]:
    event_id = new_id("buy")
    return make_event(
        event_name="purchase", event_id=event_id, anonymous_id=anonymous_id, value=19.5,
        currency="EUR", order_id=f"O-{event_id}", consent=dict(GRANTED),
        properties={"order_id": f"O-{event_id}", "value": 19.5},
        context={"url": "https://shop.example.com/thanks", "user_agent": UA,
                 "ip": "203.0.113.7"},
    )  # fmt: skip


def journeys(rnd: random.Random) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every group's events (two devices, a login on each, a purchase) shuffled; the group of
    each anonymous id."""
    events, group_of = [], {}
    for g in range(GROUPS):
        phone, laptop = f"g{g}-phone", f"g{g}-laptop"
        group_of |= {phone: g, laptop: g}
        events += [page(phone), page(laptop), page(phone, f"user-{g}"),
                   page(laptop, f"user-{g}"), purchase(rnd.choice([phone, laptop]))]  # fmt: skip
    rnd.shuffle(events)
    return events, group_of


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as con:
        return con.execute(sql).fetchall()


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def test_three_collectors_on_one_postgresql_lose_nothing_and_stitch_alike(
    collectors: tuple[list[Server], str], webhook: FakePlatform
) -> None:
    servers, url = collectors
    rnd = random.Random(9)
    events, group_of = journeys(rnd)
    batches = [events[n : n + 4] for n in range(0, len(events), 4)]
    plans: list[list[list[dict[str, Any]]]] = [[] for _ in servers]
    for n, batch in enumerate(batches):  # round robin, every third batch also to another host
        plans[n % SERVERS].append(batch)
        if n % 3 == 0:
            plans[(n + 1) % SERVERS].append(batch)
    barrier = threading.Barrier(SERVERS)
    failures: list[BaseException] = []

    def send(srv: Server, plan: list[list[dict[str, Any]]]) -> None:
        barrier.wait()
        try:
            for batch in plan:
                srv.ingest(batch)
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=send, args=p) for p in zip(servers, plans, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []

    acked = set().union(*(srv.acked for srv in servers))
    assert acked == {e["event_id"] for e in events}
    stored = Counter(r[0] for r in rows(url, "SELECT event_id FROM events"))
    assert set(stored) == acked and set(stored.values()) == {1}, "each event stored once"

    people = dict(rows(url, "SELECT anonymous_id, person_id FROM identity_people"))
    assert set(people) == set(group_of)
    persons_by_group: dict[int, set[str]] = {}
    for anonymous_id, person in people.items():
        persons_by_group.setdefault(group_of[anonymous_id], set()).add(person)
    assert all(len(p) == 1 for p in persons_by_group.values()), "one person per linked group"
    assert len({p for ps in persons_by_group.values() for p in ps}) == GROUPS
    assert rows(url, "SELECT count(*) FROM identity_identifiers")[0][0] == GROUPS * 3

    bought = sorted(e["event_id"] for e in events if e["event_name"] == "purchase")
    jobs = rows(url, "SELECT event_id, destination, status FROM outbox")
    assert sorted((e, d) for e, d, _ in jobs) == [(e, "webhook") for e in bought]
    wait_for(lambda: len(webhook.received_event_ids()) >= len(bought), "webhook deliveries")
    wait_for(
        lambda: {s for *_, s in rows(url, "SELECT status FROM outbox")} == {"delivered"},
        "every job marked delivered",
    )
    assert rows(url, "SELECT DISTINCT attempts FROM outbox") == [(1,)], "each claimed once"
    assert webhook.errors == []
    assert sorted(webhook.received_event_ids()) == bought, "each conversion delivered once"


def test_a_key_made_or_revoked_on_one_collector_reaches_the_others(
    collectors: tuple[list[Server], str],
) -> None:
    servers, _ = collectors
    key = servers[0].create_key("made-on-host0", secret=True)
    batch = [page("visitor-1")]

    def accepted_everywhere() -> bool:
        return all(
            srv.post_events({"events": batch}, key=key).status_code == 200 for srv in servers
        )

    wait_for(accepted_everywhere, "the new key on every collector")
    servers[1].cli("keys", "revoke", "made-on-host0")

    def refused_everywhere() -> bool:
        return all(
            srv.post_events({"events": batch}, key=key).status_code == 401 for srv in servers
        )

    wait_for(refused_everywhere, "the revoked key refused by every collector")
