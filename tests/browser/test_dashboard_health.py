"""The dashboard's tracking-health page in a real browser: every panel charts what the QA APIs
return, the forecast band shows the injected drop, the window selector sets from and to, and
hostile source, destination and reason strings render as text. The data set and helpers:
dashboard_support.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dashboard_support import (
    XSS_DEST,
    XSS_REASON,
    XSS_SOURCE,
    Watch,
    admin,
    api,
    chart_data,
    no_injected_markup,
    series,
    shot,
    sign_in,
    tiles,
)
from playwright.sync_api import Page

from live_server import Server


def test_tracking_health_shows_qa_or_says_it_is_not_available(
    dash: Server, page: Page, watch: Watch
) -> None:
    sign_in(page, dash, "/?next=/dashboard/health")
    for section in page.locator("section[data-endpoint]").all():
        endpoint = section.get_attribute("data-endpoint")
        status = dash.get(endpoint, headers=admin(dash)).status_code
        unavailable = "unavailable" in (section.get_attribute("class") or "")
        assert unavailable == (status == 404), (endpoint, status)
        if status == 200:  # the QA API's figures are shown
            assert section.locator("table, .tile, canvas").count() > 0, endpoint
    sources = chart_data(page, "health-sources")
    assert series(sources, "quarantined")["server"] >= 1
    assert series(sources, "accepted")["server"] >= 2
    shot(page, "health")
    watch.clean()


def test_health_panels_chart_the_qa_figures(dash: Server, page: Page, watch: Watch) -> None:
    sign_in(page, dash, "/?next=/dashboard/health")
    window = page.evaluate(
        "document.body.dataset.healthFrom + ' ' + document.body.dataset.healthTo"
    )
    start, end = window.split()
    health = api(dash, "/v1/qa/health", **{"from": start, "to": end})
    volume = chart_data(page, "health-volume")
    assert sorted(d["label"] for d in volume["datasets"]) == sorted(health["volume"]["by_source"])
    shown = {d["label"]: sum(d["data"]) for d in volume["datasets"]}
    assert shown[XSS_SOURCE] > 0 and len(volume["labels"]) == 60  # one point a minute
    figures = tiles(page, "#health-volume-tiles")
    assert figures["all sources"] == f"{health['volume']['events']:,}"
    hostile = health["volume"]["by_source"][XSS_SOURCE]["events"]
    assert hostile >= 4 and figures[XSS_SOURCE].startswith(f"{hostile:,} ")  # a label, as text
    reasons = chart_data(page, "health-reasons")
    assert reasons["labels"] == [
        f"{r['path']} {r['reason']}" for r in health["quarantine"]["top_reasons"]
    ]
    cells = page.locator("#health-quarantine tbody td").all_text_contents()
    assert XSS_REASON["path"] in cells and XSS_REASON["reason"] in cells
    c = health["conversions"]
    if c["conversions"]:
        match = chart_data(page, "health-match")
        assert match["datasets"][0]["data"] == [
            c[k] for k in ("both", "browser_only", "server_only", "other")
        ]
    quality = chart_data(page, "health-quality")
    assert quality["labels"] == [XSS_DEST]
    assert series(quality, "email") == {XSS_DEST: 1} and series(quality, "IP + UA") == {XSS_DEST: 1}
    row = page.locator("#health-destinations tbody tr", has_text=XSS_DEST)
    cells = row.locator("td").all_text_contents()
    assert cells[:3] == [XSS_DEST, "4", "100 %"] and "<i>too many failures</i>" in cells[-1]
    assert tiles(page, "#health-dedup")  # dedup figures as tiles
    no_injected_markup(page)
    shot(page, "health-panels")
    watch.clean()


def test_the_band_chart_shows_the_injected_drop(dash: Server, page: Page, watch: Watch) -> None:
    sign_in(page, dash, "/?next=/dashboard/health")
    report = api(dash, "/v1/qa/anomalies", hours=24, series=5)
    drops = [a for a in report["anomalies"] if a["source"] == XSS_SOURCE]
    assert [a["kind"] for a in drops] == ["drop"] and drops[0]["count"] == 2
    assert page.locator("#health-band").get_attribute("data-series") == XSS_SOURCE + "/band_probe"
    band = chart_data(page, "health-band")
    assert [d["label"] for d in band["datasets"]] == [
        "lower",
        "upper",
        "forecast",
        "observed",
        "anomalies",
    ]
    observed, lower = series(band, "observed"), series(band, "lower")
    marked = {k: v for k, v in series(band, "anomalies").items() if v is not None}
    assert list(marked.values()) == [2]
    (hour,) = marked
    assert observed[hour] == 2 < lower[hour]
    assert all(v is not None and v > 0 for v in series(band, "upper").values())
    assert sum(1 for v in observed.values() if v == 40) >= 22  # the other hours (an hour may
    # have passed since the data was written: then the window moved by one)
    cells = page.locator("#health-anomalies tbody td").all_text_contents()
    assert XSS_SOURCE in cells and "drop" in cells
    assert XSS_SOURCE in (page.locator("#band-series").text_content() or "")
    no_injected_markup(page)
    shot(page, "health-band")
    watch.clean()


def test_the_health_window_sets_from_and_to(dash: Server, page: Page, watch: Watch) -> None:
    sign_in(page, dash, "/?next=/dashboard/health")
    renders = page.evaluate("document.body.dataset.renders")
    page.select_option("#health-window", "7d")
    page.wait_for_function("(n) => document.body.dataset.renders !== n", arg=renders)
    assert page.url.endswith("#window=7d")
    start, end = (page.evaluate(f"document.body.dataset.health{k}") for k in ("From", "To"))
    assert (datetime.fromisoformat(end) - datetime.fromisoformat(start)) == timedelta(days=7)
    health = api(dash, "/v1/qa/health", **{"from": start, "to": end})
    assert tiles(page, "#health-volume-tiles")["all sources"] == f"{health['volume']['events']:,}"
    assert len(chart_data(page, "health-volume")["labels"]) == 168  # hourly points
    page.reload()
    page.wait_for_selector("body[data-state=ready]")
    assert page.input_value("#health-window") == "7d"
    watch.clean()


# -- the live debugger and hostile data ------------------------------------------------------
