"""IAB ECAPI events on ``POST /v1/ecapi/events`` (specs/more-conversion-apis.md §2), live."""

from __future__ import annotations

import time
from typing import Any

from live_server import Server

# The spec's own hash examples (§2.2): user@example.com and +12125550000, SHA-256 hex.
EMAIL_SHA = Server.sha256("user@example.com")
PHONE_SHA = Server.sha256("+12125550000")


def purchase(event_id: str, **over: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "data_set_id": "shop-eu",
        "id": event_id,
        "timestamp": int(time.time()) - 60,
        "event_type": "purchase",
        "value": 129.9,
        "currency_code": "EUR",
        "source": "website",
        "user_data": {
            "email_address": [EMAIL_SHA],
            "phone_numbers": [PHONE_SHA],
            "event_ip_address": "203.0.113.7",
            "event_user_agent": "Mozilla/5.0 (ECAPI test)",
            "click_id": "click-123",
        },
        "properties": {
            "transaction_id": "order-" + event_id[-8:],
            "page_url": "https://shop.example/thanks",
            "items": [{"id": "sku-1", "name": "Shoe", "price": 129.9, "quantity": 1}],
            "coupon": ["SPRING"],
            "shipping": 4.5,
            "tax": 20.0,
        },
    }
    event.update(over)
    return event


def post(server: Server, body: Any, key: str | None = None) -> Any:
    return server.http.post(
        server.url + "/v1/ecapi/events",
        json=body,
        headers={"authorization": f"Bearer {key or server.secret_key}"},
    )


def test_a_purchase_becomes_a_canonical_conversion_once(server: Server) -> None:
    event = purchase(server.new_id("ecapi"))
    for _ in range(2):  # data_set_id + id is the dedupe key: a re-send is stored once
        response = post(server, event)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
    assert server.id_counts([event["id"]]) == {event["id"]: 1}
    row = server.event_row(event["id"])
    assert (row["event_name"], row["source"]) == ("purchase", "server")
    assert float(row["value"]) == 129.9 and row["currency"] == "EUR"
    assert row["order_id"] == event["properties"]["transaction_id"]
    assert row["email_sha256"] == EMAIL_SHA  # already hashed: kept as sent
    assert row["page_url"] == "https://shop.example/thanks"
    assert row["user_agent"] == "Mozilla/5.0 (ECAPI test)"
    query = f"SELECT epoch(occurred_at) AS t FROM events WHERE event_id = '{event['id']}'"  # noqa: S608
    assert server.sql(query) == [{"t": event["timestamp"]}]  # epoch seconds


def test_a_batch_with_custom_and_renamed_event_types(server: Server) -> None:
    ids = [server.new_id("ec") for _ in range(3)]
    base = {"data_set_id": "shop-eu", "timestamp": int(time.time()),
            "user_data": {"customer_identifier": "cust-9"}}  # fmt: skip
    events = [
        {**base, "id": ids[0], "event_type": "viewed_item"},
        {**base, "id": ids[1], "event_type": "custom", "custom_event": "quote_requested"},
        {**base, "id": ids[2], "event_type": "page_view"},
    ]
    response = post(server, {"events": events})
    assert response.status_code == 200, response.text
    rows = {i: server.event_row(i) for i in ids}
    assert [rows[i]["event_name"] for i in ids] == ["view_item", "quote_requested", "page_view"]
    assert rows[ids[2]]["type"] == "page"


def test_invalid_events_are_quarantined_with_their_reason(server: Server) -> None:
    good = purchase(server.new_id("ok"))
    no_set = purchase(server.new_id("noset"))
    del no_set["data_set_id"]
    no_time = purchase(server.new_id("notime"), timestamp="yesterday")
    response = post(server, [good, no_set, no_time])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [(e["index"], e["path"]) for e in body["errors"]] == [
        (1, "/data_set_id"),
        (2, "/timestamp"),
    ]
    raw_email = "Raw@Example.com"
    no_set["user_data"]["email_address"] = [raw_email]  # not hashed as ECAPI asks
    response = post(server, no_set)
    error = server.expect_error(response, 400, "no_valid_events")
    assert error["details"][0]["path"] == "/data_set_id"
    payloads = server.sql(
        "SELECT payload FROM quarantine WHERE payload LIKE '%" + no_set["id"] + "%'"  # noqa: S608
    )
    assert len(payloads) == 2 and not any(
        raw_email.lower() in p["payload"].lower() for p in payloads
    )


def test_a_bad_key_is_refused(server: Server) -> None:
    response = post(server, purchase(server.new_id("k")), key="ctk_sec_nope")
    server.expect_error(response, 401, "invalid_key")
