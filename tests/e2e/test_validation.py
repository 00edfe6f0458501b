"""Per-field validation: accepted count, per-event index/path/reason, quarantine with reasons."""

from __future__ import annotations

import json


def quarantined(server, event_id: str) -> list[dict]:
    rows = server.sql(
        f"SELECT * FROM quarantine WHERE payload LIKE '%{event_id}%'"  # noqa: S608
    )
    for row in rows:
        row["payload"] = json.loads(row["payload"])
        row["reasons"] = json.loads(row["reasons"])
    return rows


def test_batch_reports_each_rejected_event_and_keeps_the_good_ones(server):
    good = server.event()
    bad = [
        (server.event(value="12.50"), "/value"),
        (server.event(currency="eur"), "/currency"),
        (server.event(currency="XYZ"), "/currency"),
        (server.event(evnt_name="typo"), "/evnt_name"),
        (server.event(anonymous_id=None), "/anonymous_id"),
        (server.event(context={"url": 5}), "/context/url"),
        (server.event(event_name=None), "/event_name"),
        (server.event(type="purchase"), "/type"),
        (server.event(properties={"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}), "/properties"),
        (server.event(timestamp="2999-01-01T00:00:00Z"), "/timestamp"),
        (server.event(campaign={"gclid": 123}), "/campaign/gclid"),
        (server.event(properties={f"k{i}": i for i in range(201)}), "/properties"),
        (server.event(properties={"s": "x" * 4097}), "/properties"),
        (server.event(properties={f"k{i}": "y" * 1000 for i in range(20)}), "/properties"),
        (server.event(identifiers={"email": "a" * 321}), "/identifiers/email"),
        (server.event(value=1e13), "/value"),
    ]
    for event, _ in bad:
        if event.get("anonymous_id") is None:
            event.pop("anonymous_id", None)
        if event.get("event_name") is None:
            event.pop("event_name", None)
    events = [good] + [event for event, _ in bad]
    response = server.post_events({"events": events})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"] == len(bad)
    server.acked.add(good["event_id"])
    errors = body["errors"]
    assert [e["index"] for e in errors] == list(range(1, len(events)))
    assert [e["path"] for e in errors] == [path for _, path in bad]
    for error in errors:
        assert set(error) == {"index", "path", "reason"}
        assert isinstance(error["reason"], str) and error["reason"].strip()
    reasons = {e["path"]: e["reason"] for e in errors}
    assert "unknown field" in reasons["/evnt_name"]
    assert "future" in reasons["/timestamp"]
    assert [e["reason"] for e in errors if e["path"] == "/properties"] == [
        "nested deeper than 5 levels",
        "more than 200 keys in total",
        "a string is longer than 4096 characters",
        "larger than 16384 bytes as JSON",
    ]

    assert server.id_counts(e["event_id"] for e in events) == {good["event_id"]: 1}
    for (event, path), error in zip(bad, errors, strict=True):
        rows = quarantined(server, event["event_id"])
        assert len(rows) == 1, event
        row = rows[0]
        assert row["source"] == "server" and row["key_id"]
        assert row["reasons"] == [error]
        assert row["payload"]["event_id"] == event["event_id"], path


def test_single_invalid_event_is_a_422_with_details_and_is_quarantined(server):
    event = server.event(value="not a number", identifiers={"email": " Bad.Input@E2E-Mail.TEST"})
    error = server.expect_error(server.post_events(event), 422, "no_valid_events")
    assert len(error["details"]) == 1
    detail = error["details"][0]
    assert detail["path"] == "/value" and detail["reason"]

    rows = quarantined(server, event["event_id"])
    assert len(rows) == 1
    assert rows[0]["reasons"] == [detail]
    # The e-mail is hashed in quarantine too; the raw address is nowhere.
    ids = rows[0]["payload"]["identifiers"]
    assert ids == {"email_sha256": server.sha256("bad.input@e2e-mail.test")}
    raw = json.dumps(rows[0]).lower()
    assert "bad.input" not in raw and "e2e-mail" not in raw
    assert server.id_counts([event["event_id"]]) == {}


def test_rejected_batch_events_have_their_email_hashed_in_quarantine(server):
    good = server.event()
    bad = server.event(currency="euro", identifiers={"email": "Batch.Reject@E2E-Mail.test"})
    response = server.post_events({"events": [good, bad]})
    assert response.status_code == 200 and response.json()["rejected"] == 1
    server.acked.add(good["event_id"])
    rows = quarantined(server, bad["event_id"])
    assert len(rows) == 1
    assert rows[0]["payload"]["identifiers"] == {
        "email_sha256": server.sha256("batch.reject@e2e-mail.test")
    }
    assert "batch.reject" not in json.dumps(rows[0]).lower()


def test_no_raw_email_anywhere(server):
    """Across everything the suite stored so far, no address of ours is in the clear."""
    for table, column in (("events", "CAST(COLUMNS(*) AS VARCHAR)"), ("quarantine", "payload")):
        rows = server.sql(f"SELECT {column} FROM {table}")  # noqa: S608
        text = json.dumps(rows).lower()
        assert "@e2e-mail" not in text and "@example.com" not in text, table
