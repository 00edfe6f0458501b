"""The ``/demo`` shop in a real browser: landing → product → cart → checkout → thanks.

Every page loads the real tag (``/t.js``); the test clicks through the shop like a visitor and
then reads the store. Each test lands with its own ``utm_campaign`` and finds its events by it.
The tag batches its sends, so the test waits for the rows (a generous deadline, never a timing
assertion).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

DEADLINE = 30.0  # seconds to wait for events to reach the store (not a timing assertion)
SHOP_EVENTS = ["add_to_cart", "begin_checkout", "purchase", "view_item"]
PAGES = ["/demo", "/demo/product", "/demo/cart", "/demo/checkout", "/demo/thanks"]


def is_events_post(response: Any) -> bool:
    return "/v1/events" in response.url and response.request.method == "POST"


def landing_url(server, **params: str) -> tuple[str, str]:
    """The landing address with this test's own campaign; returns (url, campaign)."""
    campaign = "spring-" + uuid.uuid4().hex[:12]
    query = {"key": server.public_key, **params, "utm_campaign": campaign}
    return f"{server.url}/demo?" + urlencode(query), campaign


def rows_for(server, campaign: str) -> list[dict[str, Any]]:
    query = (
        "SELECT *, epoch_ms(click_at) AS click_ms FROM events"  # noqa: S608
        f" WHERE utm_campaign = '{campaign}' ORDER BY client_timestamp, received_at"
    )
    return server.sql(query)


def wait_rows(
    server, campaign: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        rows = rows_for(server, campaign)
        if done(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"events never arrived; stored so far: {rows}")
        time.sleep(0.1)


def shop_complete(rows: list[dict[str, Any]]) -> bool:
    """All five page views and the four shop events are stored."""
    names = sorted(r["event_name"] for r in rows if r["type"] != "page")
    return len([r for r in rows if r["type"] == "page"]) >= len(PAGES) and names == SHOP_EVENTS


def buy(page, url: str) -> None:
    """Land, then click through product (quantity 2) → cart → checkout → thanks."""
    with page.expect_response(is_events_post):  # the landing's page view has been answered
        page.goto(url)
    page.click("#to-product")
    page.wait_for_url("**/demo/product")
    page.fill("#quantity", "2")
    page.click("#add")
    page.wait_for_url("**/demo/cart")
    page.click("#to-checkout")
    page.wait_for_url("**/demo/checkout")
    page.click("#place")
    page.wait_for_url("**/demo/thanks?order=*")


def server_copy(page) -> dict[str, Any]:
    """The JSON body of the ready-to-copy curl command on the thank-you page."""
    command = page.text_content("#curl") or ""
    assert "Authorization: Bearer $KEY" in command and "/v1/events" in command, command
    body = command.split(" -d '", 1)[1].rsplit("'", 1)[0].replace("'\\''", "'")
    return json.loads(body)


def test_shop_journey_carries_the_campaign_and_one_server_set_visitor_id(server, context):
    url, campaign = landing_url(server, gclid="TeSt123", utm_source="google", utm_medium="cpc")
    set_cookies: list[str] = []

    def on_response(response) -> None:
        if is_events_post(response):
            set_cookies.extend(
                h["value"] for h in response.headers_array() if h["name"].lower() == "set-cookie"
            )

    context.on("response", on_response)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    started_ms = int(time.time() * 1000)
    buy(page, url)
    shown_event_id = page.text_content("#event-id")
    order_id = page.text_content("#order-id")
    assert shown_event_id and order_id and shown_event_id == f"purchase-{order_id}"

    rows = wait_rows(server, campaign, shop_complete)
    assert errors == []
    pages = [r for r in rows if r["type"] == "page"]
    assert [r["page_url"].split("?")[0].removeprefix(server.url) for r in pages] == PAGES
    assert pages[0]["page_url"] == url
    assert len({r["event_id"] for r in rows}) == len(rows)

    # One visitor: the id the collector set in its response's cookie, on every event.
    anon = rows[0]["anonymous_id"]
    assert anon and {r["anonymous_id"] for r in rows} == {anon}, rows
    aid_cookies = {v.split(";")[0] for v in set_cookies if v.startswith("ct_aid=")}
    assert aid_cookies == {f"ct_aid={anon}"}, set_cookies
    cookie = [c for c in context.cookies() if c["name"] == "ct_aid"]
    assert len(cookie) == 1 and cookie[0]["value"] == anon and cookie[0]["httpOnly"], cookie

    # The landing's campaign, with the landing's click time, on every event.
    click_ms = rows[0]["click_ms"]
    assert started_ms - 5_000 <= click_ms <= int(time.time() * 1000)
    for row in rows:
        assert row["source"] == "tag", row
        assert row["gclid"] == "TeSt123", row
        assert (row["utm_source"], row["utm_medium"]) == ("google", "cpc"), row
        assert row["click_ms"] == click_ms, row

    by_name = {r["event_name"]: r for r in rows if r["type"] != "page"}
    item = {"item_id": "TSHIRT-1", "price": 24.95}
    assert json.loads(by_name["view_item"]["properties"]) == {**item, "currency": "EUR"}
    added = json.loads(by_name["add_to_cart"]["properties"])
    assert added == {**item, "quantity": 2, "value": 49.9, "currency": "EUR"}
    assert json.loads(by_name["begin_checkout"]["properties"]) == {"value": 49.9, "currency": "EUR"}
    purchase = by_name["purchase"]
    assert purchase["type"] == "conversion"
    assert purchase["event_id"] == shown_event_id
    assert purchase["order_id"] == order_id
    assert float(purchase["value"]) == 49.9 and purchase["currency"] == "EUR"
    items = json.loads(purchase["properties"])["items"]
    assert items == [{**item, "item_name": "convtrack T-shirt", "quantity": 2}]

    # The page's server-side copy (secret key, same event_id): still one stored purchase.
    copy = server_copy(page)
    assert copy["event_id"] == shown_event_id and copy["anonymous_id"] == anon
    response = server.post_events({"events": [copy]})
    assert response.status_code == 200, response.text
    assert server.id_counts([shown_event_id]) == {shown_event_id: 1}
    assert server.event_row(shown_event_id)["source"] == "tag"
    purchases = [r for r in rows_for(server, campaign) if r["event_name"] == "purchase"]
    assert len(purchases) == 1

    # Reloading the thank-you page sends the purchase again, with the same event_id.
    with page.expect_response(is_events_post):
        page.reload()
        page.evaluate("convtrack('flush')")
    assert server.id_counts([shown_event_id]) == {shown_event_id: 1}


def test_with_the_tag_blocked_the_shop_works_and_the_server_copy_counts(server, context):
    """Ad blockers abort ``/t.js``: the shop still works, and its server-side copy counts."""
    aborted: list[str] = []

    def block(route) -> None:
        aborted.append(route.request.url)
        route.abort("blockedbyclient")

    context.route("**/t.js*", block)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    url, campaign = landing_url(server, utm_source="blocked")
    page.goto(url)
    page.click("#to-product")
    page.wait_for_url("**/demo/product")
    page.click("#add")
    page.wait_for_url("**/demo/cart")
    page.click("#to-checkout")
    page.wait_for_url("**/demo/checkout")
    page.click("#place")
    page.wait_for_url("**/demo/thanks?order=*")

    assert errors == []
    assert len(aborted) == len(PAGES)
    event_id = page.text_content("#event-id")
    copy = server_copy(page)
    assert copy["event_id"] == event_id and copy["user_id"] == "demo-customer"
    assert "anonymous_id" not in copy  # the tag never ran, so the page knows no visitor id
    server.ingest([copy])
    assert server.id_counts([event_id]) == {event_id: 1}
    assert server.event_row(event_id)["source"] != "tag"
    assert rows_for(server, campaign) == []  # nothing from the browser


def test_the_address_bar_is_shown_as_text_only(server, page):
    """What the thank-you page shows from its URL is text, never markup."""
    evil = "<img src=x onerror=\"document.title='pwned'\">"
    page.goto(f"{server.url}/demo/thanks?" + urlencode({"order": evil}))
    assert page.text_content("#asked") == evil
    assert page.locator("#missing img").count() == 0
    assert page.title() != "pwned"


def test_without_a_key_the_landing_asks_for_one(server, page):
    page.goto(f"{server.url}/demo")
    assert page.is_visible("#no-key") and not page.is_visible("#shop")
    page.fill("#no-key input[name=key]", server.public_key)
    page.click("#no-key button")
    page.wait_for_url("**/demo?key=*")
    assert page.is_visible("#shop")
    assert page.evaluate("localStorage.getItem('convtrack_demo_key')") == json.dumps(
        server.public_key
    )
