"""The Segment HTTP Tracking API on a live server: the real Segment and RudderStack Python
SDKs, the analytics.js request shapes (specs/tracking-protocols.md §1), gzip and its bounds."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from live_server import Server

EMAIL = "Jane.Doe@Example.com"
CAMPAIGN = {"name": "spring", "source": "newsletter", "medium": "email", "term": "shoes",
            "content": "hero"}  # fmt: skip
PAGE = {"url": "https://shop.example/p/1?gclid=Cj0-test&x=1", "referrer": "https://mail.example/",
        "title": "Shoe 1", "path": "/p/1", "search": "?gclid=Cj0-test&x=1"}  # fmt: skip


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs use requests, which honours proxy variables: loopback must stay direct."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def expect_segment_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape, plus the top-level ``code`` and ``message`` the Segment SDK reads."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error", "code", "message"}, body
    assert body["code"] == body["error"]["code"] == code, body
    assert body["message"] == body["error"]["message"] and body["message"].strip()
    return dict(body["error"])


def rows(server: Server, ids: list[str]) -> dict[str, dict[str, Any]]:
    found = server.sql(
        f"SELECT * FROM events WHERE list_contains({server.sql_list(ids)}, event_id)"  # noqa: S608
    )
    return {r["event_id"]: r for r in found}


def assert_no_raw_email(row: dict[str, Any]) -> None:
    text = json.dumps(row, default=str).lower()
    assert EMAIL.lower() not in text, row
    assert row["email_sha256"] == Server.sha256(EMAIL.lower()), row


def order_properties(order_id: str) -> dict[str, Any]:
    return {
        "order_id": order_id, "revenue": 42.5, "total": 50.0, "currency": "eur",
        "products": [{"product_id": "sku-1", "price": 42.5, "quantity": 1}],
    }  # fmt: skip


def send_with_sdk(client: Any, user: str, ids: dict[str, str]) -> None:
    context = {"campaign": CAMPAIGN, "page": PAGE, "traits": {"email": EMAIL}}
    client.track(
        anonymous_id=user,
        event="Order Completed",
        properties=order_properties(ids["order"]),
        context=context,
        message_id=ids["track"],
    )
    client.identify(
        user_id="user-" + user,
        anonymous_id=user,
        traits={"email": EMAIL, "plan": "pro", "name": "Jane Doe"},
        message_id=ids["identify"],
    )
    client.page(anonymous_id=user, name="Shoe", properties=PAGE, message_id=ids["page"])
    client.flush()
    client.join()


@pytest.fixture(params=["segment", "rudderstack"])
def sdk(request: pytest.FixtureRequest, server: Server) -> Iterator[tuple[Any, list[Any]]]:
    errors: list[Any] = []
    on_error = lambda error, _batch: errors.append(error)  # noqa: E731
    cls = SegmentClient if request.param == "segment" else RudderClient
    # The RudderStack SDK gzips by default (specs §1.4): exercised as it ships.
    client = cls(write_key=server.secret_key, host=server.url, on_error=on_error, max_retries=1)
    yield client, errors
    client.shutdown()


def test_sdk_events_arrive_once_with_their_fields(
    server: Server, sdk: tuple[Any, list[Any]]
) -> None:
    client, errors = sdk
    user = uuid.uuid4().hex
    ids = {k: server.new_id(k) for k in ("track", "identify", "page", "order")}
    send_with_sdk(client, user, ids)
    assert errors == []
    stored = rows(server, [ids["track"], ids["identify"], ids["page"]])
    assert server.id_counts(stored) == dict.fromkeys(stored, 1)

    order = stored[ids["track"]]
    assert order["event_name"] == "purchase"  # "Order Completed" by the plan's alias
    assert order["source"] == "segment" and order["anonymous_id"] == user
    assert float(order["value"]) == 42.5 and order["currency"] == "EUR"
    assert order["order_id"] == ids["order"]
    campaign = {k: order[f"utm_{k}"] for k in ("source", "medium", "campaign", "term", "content")}
    assert campaign == {"source": "newsletter", "medium": "email", "campaign": "spring",
                        "term": "shoes", "content": "hero"}  # fmt: skip
    assert order["gclid"] == "Cj0-test"
    assert order["page_url"] == PAGE["url"] and order["referrer"] == PAGE["referrer"]
    assert order["page_title"] == "Shoe 1"
    assert json.loads(order["properties"])["contents"] == [  # forwarded as contents / items
        {"id": "sku-1", "quantity": 1, "item_price": 42.5}
    ]
    assert_no_raw_email(order)

    who = stored[ids["identify"]]
    assert (who["event_name"], who["user_id"]) == ("identify", "user-" + user)
    assert_no_raw_email(who)
    assert "Jane Doe" not in json.dumps(who, default=str)

    page = stored[ids["page"]]
    assert (page["event_name"], page["type"]) == ("page_view", "page")
    assert page["page_url"] == PAGE["url"]


def test_a_resent_batch_is_stored_once(server: Server) -> None:
    message = {"type": "track", "event": "Product Viewed", "anonymousId": "a-1",
               "messageId": server.new_id("dup"), "properties": {"product_id": "p"}}  # fmt: skip
    for _ in range(2):
        response = server.http.post(
            server.url + "/v1/batch",
            json={"batch": [message]},
            headers={"authorization": basic(server.secret_key)},
        )
        assert response.status_code == 200 and response.json()["success"] is True
    assert server.id_counts([message["messageId"]]) == {message["messageId"]: 1}
    assert server.event_row(message["messageId"])["event_name"] == "view_item"


def iso(seconds_from_now: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def analytics_js(path: str, body: dict[str, Any], server: Server) -> Any:
    """As analytics.js sends: text/plain JSON, the key in the body, from a page origin."""
    return server.http.post(
        server.url + path,
        content=json.dumps(body).encode(),
        headers={"content-type": "text/plain", "origin": "https://shop.example"},
    )


def test_analytics_js_short_paths_and_batches(server: Server) -> None:
    key, anon = server.public_key, str(uuid.uuid4())
    assert key is not None
    track = {"type": "track", "event": "Product Added", "anonymousId": anon,
             "messageId": server.new_id("t"), "properties": {"product_id": "p", "price": 3},
             "context": {"page": PAGE, "campaign": CAMPAIGN}, "writeKey": key,
             "timestamp": iso(-1.0), "sentAt": iso(-0.9)}  # fmt: skip
    response = analytics_js("/v1/t", track, server)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True and response.json()["accepted"] == 1
    assert response.headers["access-control-allow-origin"] == "https://shop.example"

    page = {"type": "page", "anonymousId": anon, "messageId": server.new_id("p"),
            "properties": PAGE, "writeKey": key}  # fmt: skip
    assert analytics_js("/v1/p", page, server).status_code == 200

    batch_ids = [server.new_id("b") for _ in range(3)]
    kinds = ("track", "page", "screen")
    messages = [
        {"type": t, "anonymousId": anon, "messageId": i, "event": "Cart Viewed"}
        for t, i in zip(kinds, batch_ids, strict=True)
    ]
    batch = {"writeKey": key, "sentAt": iso(0), "batch": messages}
    response = analytics_js("/v1/b", batch, server)
    assert response.status_code == 200 and response.json()["accepted"] == 3

    stored = rows(server, [track["messageId"], page["messageId"], *batch_ids])
    assert len(stored) == 5
    added = stored[track["messageId"]]
    assert (added["event_name"], added["source"]) == ("add_to_cart", "segment")
    assert added["utm_campaign"] == "spring" and added["gclid"] == "Cj0-test"
    assert [stored[i]["event_name"] for i in batch_ids] == ["Cart Viewed", "page_view",
                                                          "screen_view"]  # fmt: skip


def test_cors_preflight(server: Server) -> None:
    response = server.http.options(
        server.url + "/v1/t",
        headers={"origin": "https://shop.example", "access-control-request-method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_gzip_bodies_and_a_zip_bomb(server: Server) -> None:
    message_id = server.new_id("gz")
    body = {"batch": [{"type": "track", "event": "Checkout Started", "anonymousId": "gz",
                       "messageId": message_id}]}  # fmt: skip
    headers = {"authorization": basic(server.secret_key), "content-encoding": "gzip",
               "content-type": "application/json"}  # fmt: skip
    response = server.http.post(
        server.url + "/v1/batch", content=gzip.compress(json.dumps(body).encode()), headers=headers
    )
    assert response.status_code == 200, response.text
    assert server.event_row(message_id)["event_name"] == "begin_checkout"

    # ~60 KB on the wire, 64 MB inflated: refused without inflating it.
    bomb = gzip.compress(b'{"batch": [' + b" " * (64 << 20) + b"]}", compresslevel=9)
    response = server.http.post(server.url + "/v1/batch", content=bomb, headers=headers)
    error = expect_segment_error(response, 413, "payload_too_large")
    assert "inflates" in error["message"]
    assert server.get("/healthz").status_code == 200

    response = server.http.post(server.url + "/v1/batch", content=b"not gzip", headers=headers)
    expect_segment_error(response, 400, "malformed_gzip")


def test_errors_in_the_shape_the_sdks_read(server: Server) -> None:
    body = {"batch": [{"type": "track", "event": "x", "anonymousId": "a"}]}
    response = server.http.post(
        server.url + "/v1/batch", json=body, headers={"authorization": basic("nope")}
    )
    expect_segment_error(response, 401, "invalid_key")
    response = server.http.post(server.url + "/v1/batch", json=body)
    error = expect_segment_error(response, 401, "missing_key")
    assert "HTTP Basic" in error["message"] and "Bearer" not in error["message"]
    response = server.http.post(
        server.url + "/v1/track",
        content=b"{nope",
        headers={"authorization": basic(server.secret_key)},
    )
    expect_segment_error(response, 400, "malformed_json")
    response = server.http.post(
        server.url + "/v1/batch",
        json={"batch": {"type": "track"}},
        headers={"authorization": basic(server.secret_key)},
    )
    expect_segment_error(response, 400, "invalid_batch")


def test_invalid_messages_are_quarantined_not_refused(server: Server) -> None:
    good = {"type": "track", "event": "Coupon Entered", "anonymousId": "q",
            "messageId": server.new_id("ok")}  # fmt: skip
    no_ids = {"type": "track", "event": "Coupon Entered", "messageId": server.new_id("bad")}
    no_type = {
        "event": "Coupon Entered",
        "anonymousId": "q",
        "context": {"traits": {"email": EMAIL}},
        "messageId": server.new_id("notype"),
    }
    response = server.http.post(
        server.url + "/v1/batch",
        json={"batch": [good, no_ids, no_type]},
        headers={"authorization": basic(server.secret_key)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["accepted"], body["rejected"]) == (True, 1, 2)
    assert [(e["index"], e["path"]) for e in body["errors"]] == [(1, "/anonymous_id"), (2, "/type")]
    quarantined = server.sql(
        "SELECT source FROM quarantine WHERE payload LIKE '%" + no_ids["messageId"] + "%'"  # noqa: S608
    )
    assert quarantined == [{"source": "segment"}]
    payloads = server.sql(
        "SELECT payload FROM quarantine WHERE payload LIKE '%" + no_type["messageId"] + "%'"  # noqa: S608
    )
    assert len(payloads) == 1 and EMAIL.lower() not in payloads[0]["payload"].lower()
    assert Server.sha256(EMAIL.lower()) in payloads[0]["payload"]


def test_cmp_category_choices_are_consent(server: Server) -> None:
    """Segment's ``context.consent.categoryPreferences`` and RudderStack's
    ``context.consentManagement`` decide consent: advertising denied keeps no click id or
    hashed email and allows no ads destination; analytics granted keeps the visitor."""
    ids = [server.new_id(k) for k in ("segment", "rudder", "granted")]
    page = {"url": "https://shop.example/p/1?gclid=Cj0-cmp", "path": "/p/1"}
    choices = [
        {"consent": {"categoryPreferences": {"Advertising": False, "Analytics": True}}},
        {"consentManagement": {"provider": "oneTrust", "allowedConsentIds": ["C0002"],
                               "deniedConsentIds": ["C0004"], "resolutionStrategy": "and"}},
        {"consent": {"categoryPreferences": {"Advertising": True, "Analytics": True}}},
    ]  # fmt: skip
    batch = [
        {"type": "track", "event": "Product Viewed", "messageId": i, "anonymousId": f"anon-{i}",
         "properties": {"product_id": "p"}, "context": {"page": page, "traits": {"email": EMAIL},
                                                        **c}}
        for i, c in zip(ids, choices, strict=True)
    ]  # fmt: skip
    response = server.http.post(
        server.url + "/v1/batch",
        json={"batch": batch},
        headers={"authorization": basic(server.secret_key)},
    )
    assert response.status_code == 200, response.text
    found = rows(server, ids)
    for denied in ids[:2]:
        row = found[denied]
        assert (row["gclid"], row["email_sha256"]) == (None, None), row
        assert row["anonymous_id"] == f"anon-{denied}"  # analytics granted: kept in full
        decision = json.loads(row["consent_decision"])
        assert decision["ads"] == "nothing" and decision["analytics"] == "full"
    assert found[ids[2]]["gclid"] == "Cj0-cmp"
    assert_no_raw_email(found[ids[2]])
