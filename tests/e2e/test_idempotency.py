"""``event_id`` is the idempotency key: however often an event arrives, it is stored once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor


def stored_copy(server, event_id: str) -> int:
    return json.loads(server.event_row(event_id)["properties"])["copy"]


def test_same_id_twice_in_one_batch(server):
    event_id = server.new_id("dup-batch")
    copies = [server.event(event_id=event_id, properties={"copy": n}) for n in (1, 2)]
    response = server.post_events({"events": copies})
    assert response.status_code == 200
    assert response.json()["accepted"] == 2  # a re-send is a success
    server.acked.add(event_id)
    assert server.id_counts([event_id]) == {event_id: 1}
    assert stored_copy(server, event_id) == 1  # the first copy wins


def test_same_id_in_two_requests(server):
    event_id = server.new_id("dup-requests")
    server.ingest([server.event(event_id=event_id, properties={"copy": 1})])
    server.ingest([server.event(event_id=event_id, properties={"copy": 2})], key=server.public_key)
    assert server.id_counts([event_id]) == {event_id: 1}
    assert stored_copy(server, event_id) == 1


def test_same_ids_in_concurrent_requests(server):
    """Concurrent copies may share one group commit or race across commits: still once."""
    ids = [server.new_id("dup-concurrent") for _ in range(20)]
    batch = {"events": [server.event(event_id=i) for i in ids]}

    def send(_: int) -> int:
        return server.post_events(batch).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(32)))
    assert statuses == [200] * 32
    server.acked.update(ids)
    assert server.id_counts(ids) == {i: 1 for i in ids}


def test_pixel_and_api_share_the_key(server):
    event_id = server.new_id("dup-pixel")
    for _ in range(3):
        server.pixel({"k": server.public_key, "id": event_id, "e": "signup", "a": "px-dup"})
    server.flush()
    server.ingest([server.event(event_id=event_id)])
    assert server.id_counts([event_id]) == {event_id: 1}
    assert server.event_row(event_id)["source"] == "pixel"


def test_same_id_across_restarts(new_server):
    srv = new_server()
    events = [srv.event(properties={"copy": 1}) for _ in range(10)]
    srv.ingest(events)
    resend = [dict(e, properties={"copy": 2}) for e in events]

    srv.restart()  # graceful stop and start on the same data dir
    srv.ingest(resend)
    srv.restart(crash=True)  # kill -9 of the process group, then start
    srv.ingest(resend)
    srv.pixel({"k": srv.public_key, "id": events[0]["event_id"], "e": "again", "a": "px"})
    srv.flush()

    ids = [e["event_id"] for e in events]
    assert srv.id_counts(ids) == {i: 1 for i in ids}
    assert all(stored_copy(srv, i) == 1 for i in ids)
    srv.stop()
    assert srv.id_counts(ids) == {i: 1 for i in ids}  # read from the file itself


def test_a_browser_and_a_server_copy_of_one_purchase_are_matched(new_server):
    """The tag and the backend both send one purchase under one event_id: stored once, and
    the tracking-health match sees it from both sides (``event_copies``)."""
    srv = new_server()
    event_id = srv.new_id("matched")
    purchase = {"event_name": "purchase", "value": 20.0, "currency": "EUR", "order_id": "o-1"}
    srv.ingest([srv.event(event_id=event_id, **purchase)], key=srv.public_key)  # browser tag
    srv.ingest([srv.event(event_id=event_id, **purchase)])  # backend, secret key
    srv.ingest([srv.event(event_id=event_id, **purchase)])  # a backend retry
    purchase["order_id"] = "o-2"
    srv.ingest([srv.event(**purchase)], key=srv.public_key)  # another, browser only
    assert srv.id_counts([event_id]) == {event_id: 1}
    rows = srv.sql(
        "SELECT source, sum(copies) AS copies FROM event_copies"  # noqa: S608
        f" WHERE event_id = '{event_id}' GROUP BY 1 ORDER BY 1"
    )
    assert [(r["source"], r["copies"]) for r in rows] == [("server", 2), ("tag", 1)]
    health = srv.get("/v1/qa/health", headers=srv._admin_auth()).json()
    c = health["conversions"]
    assert (c["conversions"], c["both"], c["browser_only"], c["server_only"]) == (2, 1, 1, 0)
    assert health["dedup"]["conversions"] == {
        "received": 4, "stored": 2, "duplicates": 2, "dedup_rate": 0.5,
    }  # fmt: skip
