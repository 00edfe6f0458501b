"""Real-browser harness: Debian's chromium driven by Playwright, against a real server.

The browser is ``/usr/bin/chromium`` (``scripts/test`` installs it; Playwright's own browser
download is not reachable here), started once per test module, headless, with the flags that keep
it off the network; Playwright gives it a new empty profile (user data dir) at every launch.
Every test gets a fresh browser context (its own cookies, localStorage and cache), so tests
never see each other's visitors. The server is one ``convtrack serve`` per session
(``tests/live_server.py``); tests tell their events apart by the visitor's anonymous id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dashboard_support import SECRET, XSS_ANON, XSS_NAMES, Watch, admin, seed_health
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from journey_wire import journey_events
from live_server import Server, make_event, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000  # a generous ceiling for any one browser action, never a timing assertion
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder carries the ``browser`` marker (``-m 'not browser'`` skips)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module: Playwright's sync API keeps its asyncio loop marked
    running while it is open, and ``asyncio.run()`` in any later (non-browser) test would
    fail, so it must close when the module's tests are done, not at the end of the session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/test (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh context per test: no cookies, storage or cache from any other test."""
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for the browser tests; its logs must stay free of errors."""
    with running_server(tmp_path_factory.mktemp("browser")) as srv:
        yield srv


@pytest.fixture
def tag_url(server: Server) -> str:
    """The browser tag's URL; the tag tests are skipped (with the reason) only on a 404."""
    response = server.get("/t.js")
    if response.status_code == 404:
        pytest.skip("GET /t.js answers 404: the browser tag is not served yet")
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return server.url + "/t.js"


# -- the dashboard tests (tests/browser/dashboard_support.py) -------------------------
@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("dashboard"), env={"CONVTRACK_DASHBOARD_SECRET": SECRET})
    seed_health(srv.data_dir, datetime.now(UTC))
    try:
        srv.start()
        srv.ingest(journey_events())
        srv.ingest([make_event(event_name=name, anonymous_id=XSS_ANON) for name in XSS_NAMES])
        bad = srv.post_events({"events": [make_event(event_name="purchase", value="oops",
                                                     anonymous_id="anon-bad")]})  # fmt: skip
        assert bad.status_code == 422, bad.text  # kept in quarantine
        spend = {"rows": [{"date": "2024-05-19", "platform": "google_ads", "spend": "60",
                           "currency": "USD"}]}  # fmt: skip
        response = srv.http.post(srv.url + "/v1/admin/spend", json=spend, headers=admin(srv))
        assert response.status_code == 200, response.text
        yield srv
    finally:
        srv.close()
    srv.assert_clean_logs()


@pytest.fixture
def watch(page: Page) -> Watch:
    return Watch(page)
