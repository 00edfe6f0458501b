"""The ``/demo`` shop in a real browser: clicks become stored events with the landing's campaign."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

LANDING = {
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "spring",
    "gclid": "TeSt123",
}


def is_events_post(response: Any) -> bool:
    return "/v1/events" in response.url and response.request.method == "POST"


def stored_for(server, anon: str) -> list[dict]:
    query = f"SELECT * FROM events WHERE anonymous_id = '{anon}' ORDER BY occurred_at"  # noqa: S608
    return server.sql(query)


def send_and_wait(page, action) -> None:
    """Run ``action`` and wait for the page's POST /v1/events answer (a 2xx means committed)."""
    with page.expect_response(is_events_post) as answer:
        action()
    response = answer.value
    assert response.status == 200, (response.status, response.text())


def test_landing_browsing_and_purchase_are_stored_with_one_visitor_and_the_campaign(server, page):
    url = f"{server.url}/demo?" + urlencode({"key": server.public_key, **LANDING})
    send_and_wait(page, lambda: page.goto(url))
    send_and_wait(page, lambda: page.click("text=View product"))
    send_and_wait(page, lambda: page.click("text=Buy for 49.90 EUR"))
    assert page.text_content("#out").startswith("200 ")

    anon = page.evaluate("localStorage.getItem('convtrack_demo_anon')")
    assert anon
    rows = stored_for(server, anon)
    assert [r["type"] for r in rows] == ["page", "track", "conversion"], rows
    view, purchase = rows[1], rows[2]
    assert view["event_name"] == "view_item"
    assert purchase["event_name"] == "purchase"
    assert float(purchase["value"]) == 49.9 and purchase["currency"] == "EUR"
    assert purchase["order_id"].startswith("demo-")
    for row in rows:
        assert row["source"] != "pixel"
        assert {k: row[k] for k in LANDING} == LANDING, row
        assert row["page_url"] == url
    assert len({r["event_id"] for r in rows}) == 3


def test_an_aborted_tag_request_does_not_break_the_demo(server, page):
    """Ad blockers abort ``/t.js``: the page still loads and its own sends still arrive."""
    aborted: list[str] = []

    def block(route) -> None:
        aborted.append(route.request.url)
        route.abort("blockedbyclient")

    page.route("**/t.js*", block)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    url = f"{server.url}/demo?" + urlencode({"key": server.public_key, "utm_source": "blocked"})
    send_and_wait(page, lambda: page.goto(url))
    send_and_wait(page, lambda: page.click("text=Buy for 49.90 EUR"))

    assert errors == []
    anon = page.evaluate("localStorage.getItem('convtrack_demo_anon')")
    rows = stored_for(server, anon)
    purchases = [r for r in rows if r["event_name"] == "purchase"]
    assert len(purchases) == 1 and purchases[0]["utm_source"] == "blocked", rows
