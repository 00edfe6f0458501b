"""What the dashboard's browser tests share: the data set, the sign-in, reading charts and
tiles from the page, and ``Watch`` (no dialog, page error or console error may happen).

The data set (``seed_health`` + the ``dash`` fixture in conftest.py): the journeys of
tests/journey_wire.py, spend, a quarantined event and two event names that are HTML,
and, written into the store before the server starts, what the tracking-health panels need:
five weeks of one hourly series with a drop in the last day, a quarantine reason, a paused
destination with deliveries, all named with HTML. Charts are read from the page through
Chart.js's own registry (``Chart.getChart(canvas).data``), never from pixels. Screenshots go
to tests/artifacts/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
from playwright.sync_api import Page

from convtrack.events import Context, HashedIds, Rejected
from convtrack.store import open_store
from live_server import Server, new_id
from qa_events import ev

SECRET = "dashboard-secret-for-tests"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
XSS_NAMES = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>']
XSS_ANON = "anon-xss"
XSS_SOURCE = "<img src=x onerror=alert(3)>"
XSS_DEST = "<svg onload=alert(4)>"
XSS_REASON = {"path": "/<b>x</b>", "reason": "<script>alert(5)</script>"}
HOUR = 3600
DROP_AGO = 5  # hours before the last complete hour
PAGES = ["overview", "attribution", "health", "debugger"]
QA_PATHS = ["/v1/qa/health", "/v1/qa/anomalies", "/v1/qa/alerts", "/v1/qa/modeled"]
EXPECTED_FAILURES = {*QA_PATHS, "/signin"}


def seed_health(data_dir: Path, now: datetime) -> None:
    """Before the server starts: the band series (source XSS_SOURCE, 40 events an hour over
    the last 24 complete hours and the same hours of the 4 weeks before, 2 in the dropped
    hour), a hostile quarantine reason, and a paused hostile destination with deliveries."""
    last = int(now.timestamp()) // HOUR
    hours = [h - 168 * k for h in range(last - 24, last) for k in range(5)]
    events = []
    for h in hours:
        start = datetime.fromtimestamp(h * HOUR, UTC)
        n = 2 if h == last - DROP_AGO else 40
        events += [ev(f"band-{h}-{i}", start + timedelta(seconds=i), source=XSS_SOURCE,
                      event_name="band_probe", type="track") for i in range(n)]  # fmt: skip
    recent = now - timedelta(minutes=2)
    sent = [ev(f"sent-{i}", recent, source=XSS_SOURCE, event_name="band_probe", type="track",
               hashed=HashedIds(email_sha256="e" * 64),
               context=Context(ip="192.0.2.1", user_agent="UA"))
            for i in range(4)]  # fmt: skip
    bad = Rejected(new_id("rej"), recent, "server", "{}", [XSS_REASON], event_name="x")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "convtrack.duckdb"
    with open_store(f"duckdb://{path}") as store:
        store.migrate()
        store.append([*events, *sent], [bad])
        store.pause_destination(XSS_DEST, "<i>too many failures</i>", recent)
    con = duckdb.connect(str(path))
    try:
        for i, e in enumerate(sent):
            con.execute(
                "INSERT INTO outbox (job_id, event_id, destination, conversion, platform_event, "
                "status, attempts, created_at, next_attempt_at, delivered_at) "
                "VALUES (?, ?, ?, 'purchase', 'Purchase', 'delivered', 1, ?, ?, ?)",
                [f"job-{i}", e.event_id, XSS_DEST, recent, recent, recent],
            )
            con.execute(
                "INSERT INTO delivery_log VALUES (?, ?, ?, 1, ?, ?, 200, ?, NULL)",
                [f"job-{i}", e.event_id, XSS_DEST, recent, "delivered", 100.0 + i],
            )
    finally:
        con.close()


def admin(srv: Server) -> dict[str, str]:
    return {"authorization": "Bearer " + (srv.data_dir / "admin.token").read_text().strip()}


class Watch:
    """Dialogs, page errors and console errors seen by one page: there must be none."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        path = urlsplit(message.location.get("url", "")).path
        if "Failed to load resource" in message.text and path in EXPECTED_FAILURES:
            return  # a 404 from a QA API this server lacks, a refused sign-in: on purpose
        self.problems.append(f"console error: {message.text} ({message.location})")

    def clean(self) -> None:
        assert not self.problems, self.problems


def sign_in(page: Page, srv: Server, path: str = "/") -> None:
    page.goto(srv.url + path)
    page.fill("#secret", SECRET)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("body[data-state=ready]")


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def chart_data(page: Page, box_id: str) -> dict[str, Any]:
    """The chart's labels and datasets as Chart.js holds them."""
    data: dict[str, Any] = page.evaluate(
        """(id) => {
            const chart = Chart.getChart(document.querySelector(`#${id} canvas`));
            if (!chart) return null;
            return {labels: chart.data.labels,
                    datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data}))};
        }""",
        box_id,
    )
    assert data is not None, f"no chart in #{box_id}"
    return data


def series(data: dict[str, Any], label: str) -> dict[str, Any]:
    found = [d for d in data["datasets"] if d["label"] == label]
    assert found, (label, data)
    return dict(zip(data["labels"], found[0]["data"], strict=True))


def api(srv: Server, path: str, **params: Any) -> dict[str, Any]:
    response = srv.get(path, params=params, headers=admin(srv))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def tiles(page: Page, box: str) -> dict[str, str]:
    """The tiles in ``box`` as {label: value text}."""
    found: dict[str, str] = page.evaluate(
        """(sel) => Object.fromEntries([...document.querySelectorAll(`${sel} .tile`)].map(
            (t) => [t.querySelector(".label").textContent,
                    t.querySelector(".value").textContent]))""",
        box,
    )
    return found


def no_injected_markup(page: Page) -> None:
    """Hostile names are text: no element they spell exists in the page."""
    assert page.locator("#page img, #page script, #page svg, #page b, #page i").count() == 0
