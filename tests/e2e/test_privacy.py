"""Rights end to end on a live server: erase (API and CLI), tombstones, export, who may ask."""

from __future__ import annotations

import json
import time
import uuid

EMAIL = "Ann.Privacy@Example.com"


def ids() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "ann_laptop": f"ann-laptop-{tag}",
        "ann_phone": f"ann-phone-{tag}",
        "ann_tablet": f"ann-tablet-{tag}",
        "ann_user": f"ann-user-{tag}",
        "bob_laptop": f"bob-laptop-{tag}",
        "bob_user": f"bob-user-{tag}",
    }


def store_ann_and_bob(srv, who: dict[str, str]) -> None:
    srv.ingest(
        [
            srv.event(anonymous_id=who["ann_laptop"], user_id=who["ann_user"]),
            srv.event(anonymous_id=who["ann_phone"], identifiers={"email": EMAIL}),
            srv.event(anonymous_id=who["ann_laptop"], identifiers={"email": EMAIL}),
            srv.event(anonymous_id=who["bob_laptop"], user_id=who["bob_user"]),
        ]
    )
    bad = [  # quarantined: value is not a number
        srv.event(anonymous_id=who["ann_phone"], value="lots"),
        srv.event(anonymous_id=who["bob_laptop"], value="lots"),
    ]
    response = srv.post_events({"events": bad})  # 422, and both are kept in quarantine
    assert response.status_code == 422 and len(response.json()["error"]["details"]) == 2
    srv.cli("people", "rebuild")


def mentions(srv, values: list[str]) -> dict[str, int]:
    """Rows of every table whose text mentions one of ``values`` (a generic scan)."""
    found = {}
    tables = srv.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
    )
    for table in (t["table_name"] for t in tables):
        needle = " OR ".join(f"contains(CAST(t AS VARCHAR), '{v}')" for v in values)
        n = srv.sql(f'SELECT count(*) AS n FROM "{table}" t WHERE {needle}')[0]["n"]  # noqa: S608
        if n:
            found[table] = n
    return found


def event_ids(srv, anonymous_ids: list[str]) -> set[str]:
    rows = srv.sql(
        "SELECT event_id FROM events WHERE list_contains("  # noqa: S608
        f"{srv.sql_list(anonymous_ids)}, anonymous_id)"
    )
    return {r["event_id"] for r in rows}


def test_erase_through_the_api_leaves_nothing_and_drops_late_events(new_server):
    srv = new_server()
    who = ids()
    store_ann_and_bob(srv, who)
    ann = [who["ann_laptop"], who["ann_phone"], who["ann_user"], srv.sha256(EMAIL.lower())]
    bob = [who["bob_laptop"], who["bob_user"]]
    assert {"events", "quarantine", "identity_identifiers"} <= set(mentions(srv, ann))
    bob_before = mentions(srv, bob)
    auth = {"authorization": f"Bearer {srv.secret_key}"}

    exported = srv.get("/v1/privacy/export", params={"user_id": who["ann_user"]}, headers=auth)
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert len(document["tables"]["events"]) == 3
    assert who["bob_laptop"] not in exported.text and EMAIL not in exported.text

    erased = srv.http.post(srv.url + "/v1/privacy/erase", json={"email": EMAIL}, headers=auth)
    assert erased.status_code == 200, erased.text
    assert erased.json()["deleted"]["events"] == 3
    assert erased.json()["deleted"]["quarantine"] == 1

    raw = ann[:3]
    assert mentions(srv, raw) == {}
    assert set(mentions(srv, ann[3:])) <= {"privacy_tombstones", "privacy_erasures"}
    assert mentions(srv, bob) == bob_before
    tombstones = srv.sql("SELECT * FROM privacy_tombstones")
    assert len(tombstones) == 4 and all(raw_id not in str(tombstones) for raw_id in raw)

    late_same_device = srv.event(anonymous_id=who["ann_laptop"])
    late_new_device = srv.event(anonymous_id=who["ann_tablet"], identifiers={"email": EMAIL})
    late_bob = srv.event(anonymous_id=who["bob_laptop"])
    response = srv.post_events({"events": [late_same_device, late_new_device, late_bob]})
    assert response.status_code == 200 and response.json()["accepted"] == 3, response.text
    assert event_ids(srv, [who["ann_laptop"], who["ann_tablet"]]) == set()
    assert late_bob["event_id"] in event_ids(srv, [who["bob_laptop"]])
    assert srv.sql("SELECT count(*) AS n FROM privacy_erasures")[0]["n"] == 1


def test_privacy_endpoints_need_a_secret_key_or_the_admin_token(new_server):
    srv = new_server()
    erase, export = srv.url + "/v1/privacy/erase", srv.url + "/v1/privacy/export"
    body = {"anonymous_id": "nobody", "dry_run": True}
    srv.expect_error(srv.http.post(erase, json=body), 401, "unauthorised")
    srv.expect_error(srv.http.get(export, params={"anonymous_id": "x"}), 401, "unauthorised")
    wrong = {"authorization": "Bearer ctk_sec_not-a-key"}
    srv.expect_error(srv.http.post(erase, json=body, headers=wrong), 401, "unauthorised")
    public = {"authorization": f"Bearer {srv.public_key}"}
    srv.expect_error(srv.http.post(erase, json=body, headers=public), 403, "forbidden")
    srv.expect_error(
        srv.http.get(export, params={"user_id": "x"}, headers=public), 403, "forbidden"
    )
    admin = srv._admin_auth()
    assert srv.http.post(erase, json=body, headers=admin).status_code == 200
    two = {"anonymous_id": "a", "user_id": "b"}
    srv.expect_error(srv.http.post(erase, json=two, headers=admin), 422, "invalid_identifier")


def test_cli_export_erase_and_purge_through_the_server(new_server, tmp_path):
    srv = new_server()
    who = ids()
    store_ann_and_bob(srv, who)

    out = tmp_path / "bob.json"
    srv.cli("privacy", "export", "--anonymous-id", who["bob_laptop"], "--out", str(out))
    document = json.loads(out.read_text())
    assert {e["anonymous_id"] for e in document["tables"]["events"]} == {who["bob_laptop"]}
    assert (out.stat().st_mode & 0o777) == 0o600

    refused = srv.cli("privacy", "erase", "--user-id", who["bob_user"], check=False)
    assert refused.returncode == 1 and "this erases" in refused.stdout
    assert event_ids(srv, [who["bob_laptop"]])  # nothing erased without --yes

    done = srv.cli("privacy", "erase", "--user-id", who["bob_user"], "--yes")
    assert "erased" in done.stdout
    assert event_ids(srv, [who["bob_laptop"]]) == set()
    assert event_ids(srv, [who["ann_laptop"]])  # Ann untouched

    assert "nothing to do" in srv.cli("privacy", "purge").stdout


def test_serve_applies_retention_in_the_background(new_server):
    from datetime import UTC, datetime, timedelta

    from convtrack.events import Context, Event
    from convtrack.store import open_store

    srv = new_server({"CONVTRACK_RETENTION_DAYS": "30", "CONVTRACK_RAW_IP_HOURS": "24"})
    srv.stop()
    now = datetime.now(UTC)

    def old(event_id: str, age: timedelta, ip: str) -> Event:
        at = now - age
        return Event(event_id, "e2e_test", "track", "server", at, at, context=Context(ip=ip))

    store = open_store(f"duckdb://{srv.data_dir / 'convtrack.duckdb'}")
    try:
        store.append(
            [
                old("ret-gone", timedelta(days=45), "203.0.113.9"),
                old("ret-ip", timedelta(days=3), "203.0.113.9"),
                old("ret-fresh", timedelta(hours=1), "203.0.113.9"),
            ]
        )
    finally:
        store.close()
    srv.start()
    expected = {"ret-ip": "203.0.113.0", "ret-fresh": "203.0.113.9"}
    deadline = time.monotonic() + 60  # waits for the start-up run; not a timing assertion
    while True:
        rows = srv.sql("SELECT event_id, ip FROM events WHERE starts_with(event_id, 'ret-')")
        if {r["event_id"]: r["ip"] for r in rows} == expected:
            break
        assert time.monotonic() < deadline, (rows, srv.log())
        time.sleep(0.1)
    assert "retention:" in srv.log()
