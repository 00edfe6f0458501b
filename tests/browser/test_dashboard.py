"""The dashboard in a real browser: sign-in, the overview and attribution pages with charts
that hold the data, the date range and the model switch, hostile event names rendered as
text, and the live debugger. The tracking-health page: test_dashboard_health.py. The data set
and helpers: dashboard_support.py. Every test fails on a JavaScript dialog, an uncaught page
error or a console error.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dashboard_support import (
    PAGES,
    XSS_ANON,
    XSS_NAMES,
    Watch,
    api,
    chart_data,
    series,
    shot,
    sign_in,
    tiles,
)
from playwright.sync_api import BrowserContext, Page

from live_server import Server, make_event, new_id


# -- sign-in -------------------------------------------------------------------------------
def test_every_page_needs_sign_in_and_then_shows(dash: Server, page: Page, watch: Watch) -> None:
    for name in PAGES:
        page.goto(f"{dash.url}/dashboard/{name}")
        assert page.url == f"{dash.url}/?next=/dashboard/{name}"
        assert page.locator("#secret").is_visible()
    page.fill("#secret", "wrong")
    page.click("#signin-form button[type=submit]")
    assert page.locator(".message").text_content() == "That secret is not right."
    sign_in(page, dash, "/?next=/dashboard/health")
    assert page.url == f"{dash.url}/dashboard/health"
    shot(page, "signed-in-health")
    watch.clean()


def test_signing_out_ends_the_session(dash: Server, page: Page, context: BrowserContext) -> None:
    sign_in(page, dash)
    cookie = next(c for c in context.cookies() if c["name"] == "ct_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.click("#signout")
    page.wait_for_url(f"{dash.url}/?signed_out=1")
    assert page.locator(".message").text_content() == "You are signed out."
    # The old cookie is dead on the server too, not only gone from the browser.
    old = dash.get("/v1/dashboard/session", headers={"cookie": "ct_session=" + cookie["value"]})
    assert old.status_code == 401
    page.goto(dash.url + "/dashboard/overview")
    assert "/?next=" in page.url


def test_a_change_without_the_csrf_token_is_refused(dash: Server, page: Page) -> None:
    sign_in(page, dash)
    statuses = page.evaluate(
        """async () => {
            const post = (path, headers) => fetch(path, {method: "POST", headers})
                .then(r => r.status);
            const token = (await (await fetch("/v1/dashboard/session")).json()).csrf_token;
            return {
                credits: await post("/v1/reports/attribution/credits", {}),
                signout: await post("/signout", {}),
                credits_ok: await post("/v1/reports/attribution/credits",
                                       {"x-csrf-token": token}),
            };
        }"""
    )
    assert statuses == {"credits": 403, "signout": 403, "credits_ok": 200}


# -- pages ---------------------------------------------------------------------------------
def test_overview_charts_hold_the_reports(dash: Server, page: Page, watch: Watch) -> None:
    sign_in(page, dash)
    time = chart_data(page, "overview-time")
    days = api(dash, "/v1/reports/conversions", by="day")
    expected: dict[str, int] = {}
    for day, *_rest, count, _value in days["rows"]:
        expected[day] = expected.get(day, 0) + count
    shown = {day: n for day, n in series(time, "conversions").items() if n}
    assert shown == expected == {"2024-05-20": 2}
    assert series(time, "revenue (USD)")["2024-05-20"] == 150
    roas = chart_data(page, "overview-roas")
    assert series(roas, "spend (USD)") == {"2024-05-19": 60, "2024-05-20": 0}
    categories = chart_data(page, "overview-categories")
    assert series(categories, "conversions")["purchase"] == 2
    assert "purchase/subscription" not in categories["labels"]  # roots only, until drilled
    page.click("button.drill >> text=purchase")
    page.wait_for_selector("#overview-categories[data-parent=purchase]")
    drilled = chart_data(page, "overview-categories")
    assert drilled["labels"] == ["purchase/subscription"]
    shot(page, "overview")
    watch.clean()


def apply_range(page: Page, start: str, end: str) -> None:
    renders = page.evaluate("document.body.dataset.renders")
    page.fill("#range-from", start)
    page.fill("#range-to", end)
    page.click("#overview-range button[type=submit]")
    page.wait_for_function("(n) => document.body.dataset.renders !== n", arg=renders)


def test_the_date_range_sets_every_overview_figure(dash: Server, page: Page, watch: Watch) -> None:
    sign_in(page, dash)
    for start, end, conversions, spend in (
        ("2024-05-20", "2024-05-20", 2, 0),
        ("2024-05-10", "2024-05-19", 0, 60),
    ):
        apply_range(page, start, end)
        to = (datetime.fromisoformat(end) + timedelta(days=1)).date().isoformat()
        days = api(dash, "/v1/reports/conversions", by="day", **{"from": start, "to": to})
        credits = api(dash, "/v1/reports/attribution", grain="day", **{"from": start, "to": to})
        assert sum(r[-2] for r in days["rows"]) == conversions
        assert sum(r.get("spend") or 0 for r in credits["rows"]) == spend
        figures = tiles(page, "#overview-tiles")
        assert (figures["conversions"], figures["spend (USD)"]) == (str(conversions), str(spend))
        time = chart_data(page, "overview-time")
        assert all(start <= day <= end for day in time["labels"]), time["labels"]
    assert page.url.endswith("#from=2024-05-10&to=2024-05-19")
    page.reload()
    page.wait_for_selector("body[data-state=ready]")
    assert page.input_value("#range-from") == "2024-05-10"
    assert tiles(page, "#overview-tiles")["spend (USD)"] == "60"
    # from after to: a message, and no request
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/reports/" in r.url else None)
    page.fill("#range-from", "2024-05-21")
    page.fill("#range-to", "2024-05-20")
    page.click("#overview-range button[type=submit]")
    assert "after the end" in (page.text_content("#range-error") or "")
    assert asked == [] and page.url.endswith("#from=2024-05-10&to=2024-05-19")
    renders = page.evaluate("document.body.dataset.renders")
    page.click("button[data-days='7']")  # a preset fills both days and applies them
    page.wait_for_function("(n) => document.body.dataset.renders !== n", arg=renders)
    start, end = page.input_value("#range-from"), page.input_value("#range-to")
    assert page.evaluate("document.body.dataset.range") == f"{start}..{end}"
    assert datetime.fromisoformat(end) - datetime.fromisoformat(start) == timedelta(days=6)
    assert page.text_content("#range-error") == "" and asked
    shot(page, "overview-range")
    watch.clean()


def test_attribution_model_switch_shows_what_the_api_returns(
    dash: Server, page: Page, watch: Watch
) -> None:
    sign_in(page, dash, "/?next=/dashboard/attribution")
    page.wait_for_selector("body[data-model=last_non_direct]")
    compared = api(dash, "/v1/reports/attribution", compare="true", by="channel")
    compare_chart = chart_data(page, "attr-compare")
    assert sorted(d["label"] for d in compare_chart["datasets"]) == sorted(
        m["model"] for m in compared["models"]
    )
    for model in ("first_touch", "last_touch", "linear"):
        renders = page.evaluate("document.body.dataset.renders")
        page.select_option("#model", model)
        page.wait_for_function("(n) => document.body.dataset.renders !== n", arg=renders)
        shown = series(chart_data(page, "attr-model"), "conversions")
        report = api(dash, "/v1/reports/attribution", model=model, by="channel")
        assert shown == {r["label"]: r["conversions"] for r in report["rows"]}, model
        efficiency = series(chart_data(page, "attr-efficiency"), "ROAS")
        assert efficiency == {r["label"]: r["roas"] for r in report["rows"]}
    first = api(dash, "/v1/reports/attribution", model="first_touch")["rows"]
    last = api(dash, "/v1/reports/attribution", model="last_touch")["rows"]
    assert {r["label"]: r["conversions"] for r in first} != {
        r["label"]: r["conversions"] for r in last
    }  # the switch is seen to change the numbers
    paths = api(dash, "/v1/reports/attribution")["paths"]
    length = series(chart_data(page, "attr-length"), "conversions")
    assert length == {b["touches"]: b["conversions"] for b in paths["length"]} != {}
    days = series(chart_data(page, "attr-days"), "conversions")
    assert days == {b["days"]: b["conversions"] for b in paths["days_to_convert"]}
    shot(page, "attribution")
    watch.clean()


def filter_debugger(page: Page, anonymous_id: str) -> None:
    """Filter the live debugger by ``anonymous_id`` and wait for the filtered list.

    The debugger also polls on its own every 2 s: a poll already on its way when the form is
    submitted can land after the click with the unfiltered list, so a new poll count alone
    does not mean the filter was applied. Wait until the list shows only this visitor."""
    page.fill("#filter-anonymous_id", anonymous_id)
    polls = page.evaluate("document.body.dataset.polls")
    page.click("#filters button[type=submit]")
    page.wait_for_function(
        """([anon, polls]) => document.body.dataset.polls !== polls
            && [...document.querySelectorAll("#events tbody tr")].every(
                (row) => row.querySelector("td:nth-child(5)").textContent === anon)""",
        arg=[anonymous_id, polls],
    )


def test_event_names_that_are_html_render_as_text(dash: Server, page: Page, watch: Watch) -> None:
    sign_in(page, dash, "/?next=/dashboard/debugger")
    filter_debugger(page, XSS_ANON)
    names = page.locator("#events tbody tr td:nth-child(3)").all_text_contents()
    assert sorted(names) == sorted(XSS_NAMES)
    assert page.locator("#events img, #events script").count() == 0
    shot(page, "debugger-xss")
    watch.clean()


# The debugger's requests, unfiltered ones held back 1.5 s; ``debugAnswers`` counts answers
# read, after which the awaiting code runs in the same microtask checkpoint (before the next
# animation frame, when wait_for_function looks again).
SLOW_UNFILTERED = """
window.debugAsked = 0;
window.debugAnswers = 0;
const realFetch = window.fetch;
window.fetch = (url, options) => {
  if (!String(url).includes("/v1/debug/events")) return realFetch(url, options);
  window.debugAsked += 1;
  const held = !String(url).includes("anonymous_id=");
  return new Promise((resolve) => setTimeout(resolve, held ? 1500 : 0))
    .then(() => realFetch(url, options));
};
const realJson = Response.prototype.json;
Response.prototype.json = function () {
  const body = realJson.call(this);
  if (!this.url.includes("/v1/debug/events")) return body;
  return body.finally(() => { window.debugAnswers += 1; });
};
"""


def test_an_older_refresh_landing_late_does_not_undo_the_filter(
    dash: Server, page: Page, watch: Watch
) -> None:
    page.add_init_script(SLOW_UNFILTERED)
    sign_in(page, dash, "/?next=/dashboard/debugger")
    page.wait_for_selector("#events tbody tr")
    page.click("#live")  # live off: one more unfiltered refresh, held back; no more polls
    page.fill("#filter-anonymous_id", XSS_ANON)
    page.click("#filters button[type=submit]")  # the filtered refresh overtakes it
    # Every request asked has been answered and read, the held-back one last.
    page.wait_for_function("() => window.debugAnswers === window.debugAsked")
    names = page.locator("#events tbody tr td:nth-child(3)").all_text_contents()
    assert sorted(names) == sorted(XSS_NAMES)
    watch.clean()


def test_the_debugger_updates_live_and_shows_validation_and_consent(
    dash: Server, page: Page, watch: Watch
) -> None:
    sign_in(page, dash, "/?next=/dashboard/debugger")
    anon = "anon-live-" + new_id("x")[-8:]
    filter_debugger(page, anon)
    assert page.locator("#events tbody tr").count() == 0
    dash.ingest([make_event(event_name="live_one", anonymous_id=anon)])
    dash.post_events({"events": [make_event(event_name="purchase", value="x", anonymous_id=anon)]})
    page.wait_for_function("() => document.querySelectorAll('#events tbody tr').length === 2")
    good = page.locator("#events tr.accepted")
    assert good.locator("td:nth-child(3)").text_content() == "live_one"
    assert "analytics: full" in (good.locator("td:nth-child(7)").text_content() or "")
    bad = page.locator("#events tr.quarantined")
    assert "/value" in (bad.locator("td:nth-child(6)").text_content() or "")
    shot(page, "debugger-live")
    watch.clean()
