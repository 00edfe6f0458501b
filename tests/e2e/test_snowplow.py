"""The Snowplow tracker protocol on a live server: the real ``snowplow-tracker`` Python package
with its GET and POST emitters, raw protocol requests (specs/tracking-protocols.md §2), bad
payloads and the ``sp`` network user id cookie."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
import warnings
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import requests
from snowplow_tracker import (
    Emitter,
    PageView,
    SelfDescribing,
    SelfDescribingJson,
    StructuredEvent,
    Subject,
    Tracker,
)

from live_server import Server, expect_error

TP2 = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
PAGE_URL = "https://shop.example/p/1?utm_source=news&utm_campaign=spring&gclid=Cj0-sp&x=1"
CHECKOUT = "iglu:com.acme/checkout_started/jsonschema/1-0-0"
USER_ENTITY = "iglu:com.acme/user/jsonschema/1-0-0"
GIF = base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tracker uses requests, which honours proxy variables: loopback must stay direct."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


class Sent:
    """What the emitter reports: the payloads it delivered and any it failed to."""

    def __init__(self) -> None:
        self.ok: list[dict[str, Any]] = []
        self.failed: list[Any] = []

    def on_success(self, payloads: list[dict[str, Any]]) -> None:
        self.ok += payloads

    def on_failure(self, count: int, payloads: list[dict[str, Any]]) -> None:
        self.failed.append((count, payloads))

    def eids(self, kind: str) -> list[str]:
        return [str(p["eid"]) for p in self.ok if p["e"] == kind]


def make_tracker(
    server: Server, method: str, sent: Sent, session: requests.Session | None = None
) -> Tracker:
    emitter = Emitter(
        server.url,
        method=method,  # type: ignore[arg-type]
        batch_size=50,
        on_success=sent.on_success,
        on_failure=sent.on_failure,
        session=session,
    )
    # The convtrack public key as the app id: no header or URL change needed.
    return Tracker("sp-e2e", emitter, app_id=server.public_key)


def send_everything(tracker: Tracker, subject: Subject, order_id: str) -> None:
    entity = SelfDescribingJson(USER_ENTITY, {"tier": "gold"})
    tracker.track(PageView(PAGE_URL, "Shoe 1", "https://mail.example/", event_subject=subject))
    tracker.track(
        StructuredEvent("shop", "add-to-basket", "sku-1", "red", 2.5, event_subject=subject)
    )
    checkout = SelfDescribingJson(CHECKOUT, {"step": 2, "coupon": "SPRING"})
    tracker.track(SelfDescribing(checkout, event_subject=subject, context=[entity]))
    with warnings.catch_warnings():  # the legacy transaction API is deprecated in 1.x
        warnings.simplefilter("ignore", DeprecationWarning)
        tracker.track_ecommerce_transaction(
            order_id, 42.5, tax_value=5, shipping=3, currency="EUR", event_subject=subject,
            items=[{"sku": "sku-1", "price": 42.5, "quantity": 1, "name": "Shoe"}],
        )  # fmt: skip
    tracker.flush()


def rows_by_eid(server: Server, eids: list[str]) -> dict[str, dict[str, Any]]:
    found = server.sql(
        f"SELECT * FROM events WHERE list_contains({server.sql_list(eids)}, event_id)"  # noqa: S608
    )
    return {r["event_id"]: r for r in found}


@pytest.mark.parametrize("method", ["get", "post"])
def test_tracker_events_arrive_once_with_their_fields(server: Server, method: str) -> None:
    sent, duid = Sent(), "duid-" + uuid.uuid4().hex
    subject = Subject().set_domain_user_id(duid).set_user_id("user-" + duid)
    order_id = "order-" + uuid.uuid4().hex
    send_everything(make_tracker(server, method, sent), subject, order_id)
    assert sent.failed == [] and len(sent.ok) == 5
    eids = [str(p["eid"]) for p in sent.ok]
    stored = rows_by_eid(server, eids)
    assert server.id_counts(eids) == dict.fromkeys(eids, 1)
    assert {r["source"] for r in stored.values()} == {"snowplow"}
    assert {r["anonymous_id"] for r in stored.values()} == {duid}
    assert {r["user_id"] for r in stored.values()} == {"user-" + duid}

    page = stored[sent.eids("pv")[0]]
    assert (page["type"], page["event_name"]) == ("page", "page_view")
    assert (page["page_url"], page["page_title"]) == (PAGE_URL, "Shoe 1")
    assert page["referrer"] == "https://mail.example/"
    assert (page["utm_source"], page["utm_campaign"], page["gclid"]) == ("news", "spring",
                                                                        "Cj0-sp")  # fmt: skip

    struct = stored[sent.eids("se")[0]]
    props = json.loads(struct["properties"])
    assert struct["event_name"] == "add-to-basket"
    assert (props["category"], props["label"], props["property"]) == ("shop", "sku-1", "red")
    assert props["value"] == 2.5 and props["tracker"].startswith("py-")

    checkout = stored[sent.eids("ue")[0]]
    props = json.loads(checkout["properties"])
    assert checkout["event_name"] == "checkout_started"
    assert (props["step"], props["coupon"], props["event_schema"]) == (2, "SPRING", CHECKOUT)
    assert props["contexts"] == [{"schema": USER_ENTITY, "data": {"tier": "gold"}}]

    order = stored[sent.eids("tr")[0]]
    assert (order["event_name"], order["type"]) == ("purchase", "track")
    assert (order["order_id"], float(order["value"]), order["currency"]) == (order_id, 42.5,
                                                                            "EUR")  # fmt: skip
    line = stored[sent.eids("ti")[0]]
    assert line["event_name"] == "transaction_item"
    assert json.loads(line["properties"])["order_id"] == order_id


def test_the_network_user_id_cookie(server: Server) -> None:
    """No domain user id: the ``sp`` cookie is the anonymous id, set once and then kept."""
    session, sent = requests.Session(), Sent()
    tracker = make_tracker(server, "get", sent, session)
    for n in range(2):
        tracker.track(PageView(f"https://shop.example/{n}"))
    tracker.flush()
    assert sent.failed == [] and len(sent.ok) == 2
    cookie = session.cookies.get("sp")
    assert cookie
    stored = rows_by_eid(server, sent.eids("pv"))
    assert {r["anonymous_id"] for r in stored.values()} == {cookie}

    params = {"e": "pv", "tv": "js-3", "p": "web", "aid": server.public_key, "url": "https://x/"}
    fresh = server.get("/i", params=params)
    set_cookie = fresh.headers["set-cookie"]
    assert set_cookie.startswith("sp=") and "Max-Age=31536000" in set_cookie
    assert "HttpOnly" in set_cookie
    again = server.get("/i", params=params, headers={"cookie": f"sp={cookie}"})
    assert again.headers["set-cookie"].startswith(f"sp={cookie};")
    anonymous = server.get("/i", params=params, headers={"sp-anonymous": "*"})
    assert anonymous.status_code == 200 and "set-cookie" not in anonymous.headers
    secret = server.get(
        "/i",
        params={**params, "aid": "shop"},
        headers={"authorization": f"Bearer {server.secret_key}"},
    )
    assert secret.status_code == 200 and "set-cookie" not in secret.headers


def test_collector_responses_and_cors(server: Server) -> None:
    params = {"e": "pv", "tv": "js-3", "p": "web", "duid": "d-1", "url": "https://x/"}
    pixel = server.get("/i", params={**params, "k": server.public_key})
    assert pixel.status_code == 200 and pixel.content == GIF
    assert pixel.headers["content-type"] == "image/gif"
    assert pixel.headers["cache-control"] == "no-cache, no-store, must-revalidate"
    assert server.get("/ice.png", params={**params, "aid": server.public_key}).content == GIF

    body = {"schema": PAYLOAD, "data": [params]}
    posted = server.http.post(
        server.url + TP2, json=body, params={"k": server.public_key},
        headers={"origin": "https://shop.example"},
    )  # fmt: skip
    assert (posted.status_code, posted.text) == (200, "ok")
    assert posted.headers["content-type"].startswith("text/plain")
    assert posted.headers["access-control-allow-origin"] == "https://shop.example"
    assert posted.headers["access-control-allow-credentials"] == "true"

    preflight = server.http.options(
        server.url + TP2,
        headers={"origin": "https://shop.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    assert "SP-Anonymous" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["access-control-max-age"] == "3600"


def raw_get(server: Server, params: dict[str, str]) -> tuple[int, bytes]:
    """GET /i with a query string longer than httpx allows in a URL."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", "/i?" + urlencode(params))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post_tp2(server: Server, body: Any, **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return server.http.post(
        server.url + TP2,
        content=content,
        params={"k": server.public_key},
        headers={"content-type": "application/json"},
        **kw,
    )


def event(**params: str) -> dict[str, str]:
    return {"e": "pv", "tv": "js-3", "p": "web", "duid": "d-bad", "eid": str(uuid.uuid4())} | params


def test_a_resent_batch_is_stored_once(server: Server) -> None:
    batch = {"schema": PAYLOAD, "data": [event(url="https://x/once")]}
    for _ in range(2):
        assert post_tp2(server, batch).text == "ok"
    eid = batch["data"][0]["eid"]
    assert server.id_counts([eid]) == {eid: 1}


def quarantined(server: Server, marker: str) -> list[dict[str, Any]]:
    return server.sql(
        "SELECT source, reasons, payload FROM quarantine"  # noqa: S608
        f" WHERE payload LIKE '%{marker}%'"
    )


def test_bad_events_are_quarantined_with_the_reason_and_good_ones_kept(server: Server) -> None:
    marker = uuid.uuid4().hex
    good = event(url=f"https://x/{marker}")
    bad = [
        event(e="ue", ue_px="%%%" + marker, url=f"https://x/{marker}"),
        event(e="ue", ue_px=base64.b64encode(b'{"oops": ').decode(), url=f"https://x/{marker}"),
        event(e="tr", tr_id="o", tr_tt="lots", url=f"https://x/{marker}"),
    ]
    assert post_tp2(server, {"schema": PAYLOAD, "data": [good, *bad]}).text == "ok"
    assert server.id_counts([good["eid"]]) == {good["eid"]: 1}
    rows = quarantined(server, marker)
    assert {r["source"] for r in rows} == {"snowplow"} and len(rows) == 3
    reasons = sorted(json.loads(r["reasons"])[0]["reason"] for r in rows)
    assert ["is not a number" in r or "base64" in r or "JSON" in r for r in reasons] == [True] * 3

    # One GET event with an undecodable ue_px: still the GIF, and kept in quarantine.
    gif = server.get("/i", params={**bad[0], "aid": server.public_key, "eid": marker + "-get"})
    assert gif.status_code == 200 and gif.content == GIF
    assert len(quarantined(server, marker + "-get")) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        ([1, 2], 400, "invalid_payload"),
        ({"schema": "iglu:com.acme/x/jsonschema/1-0-0", "data": [{}]}, 400, "invalid_payload"),
        ({"schema": PAYLOAD, "data": []}, 400, "invalid_payload"),
        ({"schema": PAYLOAD, "data": {"e": "pv"}}, 400, "invalid_payload"),
        (
            b'{"schema": "' + PAYLOAD.encode() + b'", "data": [' + b"[" * 100_000,
            400,
            "malformed_json",
        ),  # fmt: skip
    ],
)
def test_unreadable_bodies_are_refused_clearly(
    server: Server, body: Any, status: int, code: str
) -> None:
    expect_error(post_tp2(server, body), status, code)


def test_limits_keys_and_methods(server: Server) -> None:
    too_many = {"schema": PAYLOAD, "data": [event() for _ in range(1001)]}
    response = post_tp2(server, too_many)
    assert response.status_code == 413, response.text
    huge = {"schema": PAYLOAD, "data": [event(ue_pr="x" * 2_000_000)]}
    expect_error(post_tp2(server, huge), 413, "payload_too_large")
    # An ue_px past 64 KiB: refused by the server's URL limit or quarantined, never stored.
    status, gif = raw_get(server, {**event(e="ue"), "k": server.public_key, "ue_px": "A" * 70_000})
    assert status == 200 and gif == GIF or 400 <= status < 500, status

    no_key = {"schema": PAYLOAD, "data": [event()]}
    expect_error(server.http.post(server.url + TP2, json=no_key), 401, "missing_key")
    expect_error(server.get("/i", params=event()), 401, "missing_key")
    expect_error(server.get("/i", params={**event(), "aid": "ctk_pub_nope"}), 401, "invalid_key")
    secret = server.get("/i", params={**event(), "aid": server.secret_key})
    expect_error(secret, 401, "secret_key_in_url")
    expect_error(server.get(TP2), 405, "method_not_allowed")
    expect_error(server.http.put(server.url + "/i"), 405, "method_not_allowed")
    health = server.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
