"""The browser tag ``/t.js`` in a real browser, against a real server.

Each test serves its own small shop page at the server's origin (``context.route`` answers
``/shop/<token>/…`` with HTML that loads the real ``/t.js``), so every request the tag makes
goes to the real collector, and each test finds its own events by the token in their
``page_url``. The tag batches its sends, so tests wait for the rows to arrive in the store
(with a generous deadline that is never a timing assertion). Tests that need the tag use the
``tag_url`` fixture: it skips them, with the reason, only when ``GET /t.js`` answers 404.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

DEADLINE = 30.0  # seconds to wait for events to reach the store (not a timing assertion)
SNIPPET = (
    "window.convtrack=window.convtrack||function(){"
    "(window.convtrack.q=window.convtrack.q||[]).push(arguments)};"
)


def shop(
    context, server, *, first: str = "", before: str = "", options: str = "", load_tag: bool = True
) -> str:
    """Serve ``/shop/<token>/…`` pages: the snippet (``first``, init with ``options``, then
    ``before``) and the tag; return the base."""
    token = uuid.uuid4().hex
    init = json.dumps(server.public_key)
    tag = '<script async src="/t.js"></script>' if load_tag else ""
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Test shop</title>"
        f"<script>{SNIPPET}{first}convtrack('init', {init}, {{flushMs: 50{options}}});"
        f"{before}</script>"
        f"{tag}</head><body><h1>Test shop</h1></body></html>"
    )
    context.route(
        f"{server.url}/shop/{token}/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )
    return f"{server.url}/shop/{token}/"


def rows_for(server, base: str) -> list[dict[str, Any]]:
    query = (
        f"SELECT * FROM events WHERE starts_with(page_url, '{base}')"  # noqa: S608
        " ORDER BY client_timestamp, received_at"
    )
    return server.sql(query)


def wait_rows(
    server, base: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The shop's stored events once ``done(rows)`` holds; fail with the rows after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while True:
        rows = rows_for(server, base)
        if done(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"events never arrived; stored so far: {rows}")
        time.sleep(0.1)


def named(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["event_name"] == name]


def pages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["type"] == "page"]


def fbc_cookie(context) -> str | None:
    found = [c["value"] for c in context.cookies() if c["name"] == "_fbc"]
    return found[0] if found else None


def test_the_queue_stub_keeps_calls_made_before_the_script_loads(server, context, tag_url):
    early = (
        "window.stubbed = Array.isArray(convtrack.q) ? convtrack.q.length : -1;"
        "convtrack('track', 'early_call', {step: 1});"
        "convtrack('conversion', 'purchase', {value: 12.5, currency: 'EUR', order_id: 'q-1'});"
    )
    base = shop(context, server, before=early)
    page = context.new_page()
    page.goto(base + "landing")

    rows = wait_rows(server, base, lambda r: len(r) >= 3)
    assert page.evaluate("window.stubbed") == 1  # only init was queued: the tag had not run
    assert [r["event_name"] for r in rows if r["type"] != "page"] == ["early_call", "purchase"]
    assert len(pages(rows)) == 1
    assert json.loads(named(rows, "early_call")[0]["properties"]) == {"step": 1}
    purchase = named(rows, "purchase")[0]
    assert float(purchase["value"]) == 12.5 and purchase["order_id"] == "q-1"
    assert len({r["anonymous_id"] for r in rows}) == 1 and rows[0]["anonymous_id"]


def test_spa_navigations_fire_page(server, context, tag_url):
    base = shop(context, server)
    page = context.new_page()
    page.goto(base + "landing")
    wait_rows(server, base, lambda r: len(pages(r)) == 1)

    page.evaluate("history.pushState({}, '', 'product')")
    page.evaluate("history.replaceState({}, '', 'product?variant=red')")
    page.evaluate("history.back()")  # popstate, back to the landing

    expected = [base + "landing", base + "product", base + "product?variant=red", base + "landing"]
    rows = wait_rows(server, base, lambda r: len(pages(r)) >= len(expected))
    assert [r["page_url"] for r in pages(rows)] == expected
    assert len({r["event_id"] for r in rows}) == len(rows)


def test_fbclid_landing_mints_fbc_once_and_never_restamps_it(server, context, tag_url):
    base = shop(context, server, before="convtrack('track', 'seen');")
    page = context.new_page()
    before_ms = int(time.time() * 1000)
    page.goto(base + "landing?fbclid=FbTest1&utm_source=facebook")
    wait_rows(server, base, lambda r: len(named(r, "seen")) == 1)
    fbc = fbc_cookie(context)
    assert fbc is not None and fbc.startswith("fb.1.") and fbc.endswith(".FbTest1"), fbc
    click_ms = int(fbc.split(".")[2])
    assert before_ms - 5_000 <= click_ms <= int(time.time() * 1000)

    # Later pages, and landing again with the same fbclid, keep the very same _fbc.
    page.goto(base + "product")
    page.goto(base + "landing?fbclid=FbTest1&utm_source=facebook")
    page.goto(base + "cart")
    rows = wait_rows(server, base, lambda r: len(named(r, "seen")) == 4)
    assert fbc_cookie(context) == fbc
    assert [r["fbc"] for r in rows] == [fbc] * len(rows), rows
    assert all(r["fbclid"] == "FbTest1" for r in rows)
    assert len({r["fbp"] for r in rows}) == 1 and rows[0]["fbp"].startswith("fb.1.")

    # A new fbclid is a new click: a new _fbc.
    page.goto(base + "landing?fbclid=FbTest2")
    rows = wait_rows(server, base, lambda r: len(named(r, "seen")) == 5)
    new_fbc = fbc_cookie(context)
    assert new_fbc is not None and new_fbc.endswith(".FbTest2") and new_fbc != fbc
    assert rows[-1]["fbc"] == new_fbc


def test_a_server_side_copy_of_the_purchase_is_stored_once(server, context, tag_url):
    event_id = server.new_id("tag-purchase")
    buy = (
        "convtrack('conversion', 'purchase', {value: 49.9, currency: 'EUR', "
        f"order_id: 'o-{event_id}', event_id: '{event_id}'}});"
    )
    base = shop(context, server, before=buy)
    page = context.new_page()
    page.goto(base + "checkout")
    rows = wait_rows(server, base, lambda r: len(named(r, "purchase")) == 1)
    assert named(rows, "purchase")[0]["event_id"] == event_id
    assert named(rows, "purchase")[0]["source"] == "tag"

    copy = server.event(
        event_id=event_id,
        type="conversion",
        event_name="purchase",
        value=49.9,
        currency="EUR",
        order_id=f"o-{event_id}",
    )
    response = server.post_events({"events": [copy]})
    assert response.status_code == 200, response.text
    assert server.id_counts([event_id]) == {event_id: 1}
    assert server.event_row(event_id)["source"] == "tag"  # the first copy is the one kept


def test_a_blocked_tag_breaks_nothing_and_the_server_side_purchase_counts(server, context):
    """No ``tag_url``: this holds whether or not the tag is served."""
    aborted: list[str] = []

    def block(route) -> None:
        aborted.append(route.request.url)
        route.abort("blockedbyclient")

    context.route("**/t.js*", block)
    base = shop(context, server, before="convtrack('conversion', 'purchase', {value: 5});")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + "checkout")
    page.wait_for_load_state("load")

    assert aborted == [server.url + "/t.js"]
    assert errors == []
    assert page.evaluate("convtrack.q.length") == 2  # kept by the stub, harmlessly
    event_id = server.new_id("blocked")
    purchase = server.event(
        event_id=event_id,
        type="conversion",
        event_name="purchase",
        value=5,
        currency="EUR",
        order_id=f"o-{event_id}",
    )
    server.ingest([purchase])
    assert server.id_counts([event_id]) == {event_id: 1}
    assert rows_for(server, base) == []


def is_send(response) -> bool:
    return "/v1/events" in response.url and response.request.method == "POST"


def test_journey_keeps_the_campaign_and_the_server_set_anonymous_id(server, context, tag_url):
    base = shop(context, server)
    page = context.new_page()
    landing = base + "landing?gclid=TeSt123&utm_source=google&utm_medium=cpc&utm_campaign=spring"
    # The product page must know the visitor: wait for the landing's answer (and its cookie)
    # to reach the browser, not only for its row, which is stored before the answer is sent.
    with page.expect_response(is_send):
        page.goto(landing)
    wait_rows(server, base, lambda r: len(r) == 1)
    page.goto(base + "product")

    # Wait for the response itself: the rows are stored (and polled) before the browser reports
    # the response that acknowledged them, so a listener could still be empty here.
    with page.expect_response(is_send) as sent:
        page.evaluate(
            "convtrack('conversion', 'purchase', {value: 49.9, currency: 'EUR', order_id: 'j-1'})"
        )
    set_cookies = [
        h["value"] for h in sent.value.headers_array() if h["name"].lower() == "set-cookie"
    ]
    rows = wait_rows(server, base, lambda r: len(named(r, "purchase")) == 1 and len(r) >= 3)

    anon = rows[0]["anonymous_id"]
    assert anon and {r["anonymous_id"] for r in rows} == {anon}
    for row in rows:
        assert row["gclid"] == "TeSt123", row
        assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == (
            "google",
            "cpc",
            "spring",
        )
        assert row["click_at"] is not None
    assert len({r["click_at"] for r in rows}) == 1  # the landing's click time, not each send's

    # The anonymous id lives in a cookie the collector set (HttpOnly: no script wrote it).
    assert any(v.startswith(f"ct_aid={anon};") for v in set_cookies), set_cookies
    cookie = [c for c in context.cookies() if c["name"] == "ct_aid"]
    assert len(cookie) == 1 and cookie[0]["value"] == anon and cookie[0]["httpOnly"], cookie
    assert cookie[0]["sameSite"] == "Lax"
    assert "ct_aid=" not in page.evaluate("document.cookie")


ADS_DENIED = (
    "{ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied',"
    " analytics_storage: 'granted'}"
)
AD_COLUMNS = ("gclid", "gbraid", "wbraid", "fbclid", "fbc", "fbp")


def assert_no_ad_identifiers(context, page, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert {k: row[k] for k in AD_COLUMNS} == dict.fromkeys(AD_COLUMNS), row
        if "landing?" in row["page_url"]:  # utm_* are still sent (this URL's only: unstored)
            assert row["utm_source"] == "google", row
        consent = json.loads(row["consent"])
        assert consent["ad_storage"] == "denied" and consent["ad_user_data"] == "denied", row
    assert not [c for c in context.cookies() if c["name"] in ("_fbc", "_fbp")]
    assert page.evaluate("localStorage.getItem('ct_c')") is None


@pytest.mark.parametrize(
    "where",
    [
        {"first": f"convtrack('consent', {ADS_DENIED});"},  # before init
        {"before": f"convtrack('consent', {ADS_DENIED});"},  # after init, as docs/tag.md shows
        {"options": f", consent: {ADS_DENIED}"},  # the configured default
    ],
    ids=["consent-before-init", "consent-after-init", "default-consent"],
)
def test_consent_denied_for_ads_stores_no_ad_identifiers(server, context, tag_url, where):
    where = {**where, "before": where.get("before", "") + "convtrack('track', 'seen');"}
    base = shop(context, server, **where)
    page = context.new_page()
    page.goto(base + "landing?gclid=TeSt123&gbraid=GbR1&fbclid=FbDenied&utm_source=google")
    wait_rows(server, base, lambda r: len(r) == 2)  # the server has set the visitor's cookie
    page.goto(base + "product")
    rows = wait_rows(server, base, lambda r: len(named(r, "seen")) == 2 and len(pages(r)) == 2)
    assert_no_ad_identifiers(context, page, rows)
    assert len({r["anonymous_id"] for r in rows}) == 1  # analytics_storage stays granted


def test_ads_denied_later_removes_the_stored_click_ids(server, context, tag_url):
    """A consent banner answered after the tag ran: later events carry no ad ids, and the
    stored click ids, ``_fbc`` and ``_fbp`` are deleted."""
    base = shop(context, server)
    page = context.new_page()
    page.goto(base + "landing?gclid=TeSt123&fbclid=FbLater&utm_source=google")
    first = wait_rows(server, base, lambda r: len(r) == 1)
    assert first[0]["gclid"] == "TeSt123" and first[0]["fbc"]  # granted by default
    page.evaluate(f"convtrack('consent', {ADS_DENIED})")
    page.evaluate("convtrack('track', 'seen')")
    page.goto(base + "product")
    rows = wait_rows(server, base, lambda r: len(named(r, "seen")) == 1 and len(pages(r)) == 2)
    assert_no_ad_identifiers(context, page, rows[1:])
