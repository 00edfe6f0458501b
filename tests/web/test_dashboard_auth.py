"""Dashboard sign-in over HTTP (in-process app): every page and API behind it needs the session
or the admin token, the cookie's attributes, CSRF on changes, sign-out and the sign-in limit;
sessions live in the store (hashed), so they outlive a restart and sign-out ends them on every
server sharing it."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from convtrack.config import Settings
from convtrack.server import App
from convtrack.store import EventStore, open_store
from convtrack.store.dashboard_model import address_hash
from convtrack.web.dashboard import PAGE_PATHS
from convtrack.web.session import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    PURGE_EVERY,
    DashboardAuth,
    FailedSignIns,
    Sessions,
)

ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = Callable[[], dict[str, str]]
SECRET = "a-dashboard-secret-for-tests"
KEY = SECRET.encode()
APIS = [
    "/v1/reports/attribution",
    "/v1/reports/conversions",
    "/v1/debug/events",
    "/v1/dashboard/session",
]
CHART_JS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"
STATIC = Path(__file__).resolve().parents[2] / "src/convtrack/web/static/dashboard"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    opened = open_store(f"duckdb://{tmp_path / 'sessions.duckdb'}")
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def with_secret(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dashboard_secret=SECRET)


async def sign_in(client: httpx.AsyncClient, secret: str = SECRET, **form: str) -> httpx.Response:
    return await client.post("/signin", data={"secret": secret, **form})


async def csrf(client: httpx.AsyncClient) -> str:
    response = await client.get("/v1/dashboard/session")
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_pages_and_apis_need_sign_in(
    serve: Callable[..., Any], with_secret: Settings, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        home = await client.get("/")
        assert home.status_code == 200 and 'name="secret"' in home.text
        assert "default-src 'self'" in home.headers["content-security-policy"]
        for path in sorted(PAGE_PATHS):
            page = await client.get(path)
            assert page.status_code == 303, path
            assert page.headers["location"] == "/?next=" + path
        for path in APIS:
            error_shape(await client.get(path), 401, "unauthorised")
        error_shape(await client.post("/v1/reports/attribution/credits"), 401, "unauthorised")
        error_shape(await client.post("/signout"), 401, "unauthorised")
        bad = await client.get("/", headers={"cookie": "ct_session=made-up"})
        assert 'name="secret"' in bad.text  # an unknown session id is no session

    serve(scenario, with_secret)


def test_signing_in_opens_every_page_and_api(
    serve: Callable[..., Any], with_secret: Settings
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        response = await sign_in(client, next="/dashboard/attribution")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/attribution"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("ct_session=")
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
            assert attribute in cookie, cookie
        assert "Secure" not in cookie  # plain http on loopback; see the https test
        for path in ["/", *sorted(PAGE_PATHS)]:
            page = await client.get(path)
            assert page.status_code == 200 and "/static/dashboard/app.js" in page.text, path
        for path in APIS:
            assert (await client.get(path)).status_code == 200, path

    serve(scenario, with_secret)


def test_the_cookie_is_secure_over_https(serve: Callable[..., Any], with_secret: Settings) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        response = await client.post("https://convtrack.test/signin", data={"secret": SECRET})
        assert response.status_code == 303
        assert "; Secure" in response.headers["set-cookie"]

    serve(scenario, with_secret)


def test_a_next_page_outside_the_dashboard_is_ignored(
    serve: Callable[..., Any], with_secret: Settings
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        response = await sign_in(client, next="https://evil.example/")
        assert response.headers["location"] == "/"
        page = await client.get("/?next=%22%3E%3Cscript%3E")
        assert "<script>" not in page.text

    serve(scenario, with_secret)


def test_the_admin_token_opens_the_apis_and_signs_in_too(
    serve: Callable[..., Any], with_secret: Settings, admin_headers: Headers
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        for path in APIS[:3]:
            assert (await client.get(path, headers=admin_headers())).status_code == 200, path
        token = admin_headers()["authorization"].split()[1]
        assert (await sign_in(client, token)).status_code == 303

    serve(scenario, with_secret)


def test_without_a_dashboard_secret_the_admin_token_is_the_secret(
    serve: Callable[..., Any], settings: Settings, admin_headers: Headers
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        assert (await sign_in(client, "")).status_code == 401
        assert (await sign_in(client, SECRET)).status_code == 401
        token = admin_headers()["authorization"].split()[1]
        assert (await sign_in(client, token)).status_code == 303

    serve(scenario, settings)


def test_changes_need_the_csrf_token(
    serve: Callable[..., Any], with_secret: Settings, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        await sign_in(client)
        token = await csrf(client)
        credits = "/v1/reports/attribution/credits"
        error_shape(await client.post(credits), 403, "csrf_token_invalid")
        error_shape(
            await client.post(credits, headers={"x-csrf-token": "wrong"}), 403, "csrf_token_invalid"
        )
        assert (await client.post(credits, headers={"x-csrf-token": token})).status_code == 200
        error_shape(await client.post("/signout"), 403, "csrf_token_invalid")
        out = await client.post("/signout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/?signed_out=1"
        assert "Max-Age=0" in out.headers["set-cookie"]

    serve(scenario, with_secret)


def test_signing_out_kills_the_session_on_the_server(
    serve: Callable[..., Any], with_secret: Settings, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        response = await sign_in(client)
        session = response.headers["set-cookie"].split(";")[0]
        token = await csrf(client)
        await client.post("/signout", headers={"x-csrf-token": token})
        replayed = await client.get("/v1/debug/events", headers={"cookie": session})
        error_shape(replayed, 401, "unauthorised")

    serve(scenario, with_secret)


def test_failed_sign_ins_are_limited_per_address(
    serve: Callable[..., Any], with_secret: Settings
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        for _ in range(MAX_FAILURES):
            wrong = await sign_in(client, "wrong")
            assert wrong.status_code == 401 and "That secret is not right." in wrong.text
        locked = await sign_in(client)  # even the right secret, while locked out
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0

    serve(scenario, with_secret)


def test_the_failure_counter_forgets_after_its_window(store: EventStore) -> None:
    now = [1000.0]
    failures = FailedSignIns(store, KEY, clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        assert failures.attempt("192.0.2.1") == 0
    assert failures.attempt("192.0.2.1") == FAILURE_WINDOW + 1
    now[0] += 60
    assert failures.attempt("192.0.2.1") == FAILURE_WINDOW - 60 + 1  # from the first attempt
    assert failures.attempt("192.0.2.2") == 0  # per address
    now[0] += FAILURE_WINDOW - 60
    assert failures.attempt("192.0.2.1") == 0


def test_a_sign_in_forgets_the_failures(store: EventStore) -> None:
    failures = FailedSignIns(store, KEY, clock=lambda: 1000.0)
    for _ in range(MAX_FAILURES):
        failures.attempt("192.0.2.1")
    failures.succeeded("192.0.2.1")
    assert [failures.attempt("192.0.2.1") for _ in range(MAX_FAILURES)] == [0] * MAX_FAILURES
    assert failures.attempt("192.0.2.1") > 0
    rows = store.query("SELECT * FROM signin_failures").rows
    assert "192.0.2.1" not in str(rows)  # only the address's hash is stored


def attempts_stored(store: EventStore) -> dict[str, int]:
    rows = store.query("SELECT ip_hash, attempts FROM signin_failures").rows
    return {row[0]: row[1] for row in rows}


def test_the_address_is_kept_as_a_keyed_hash_and_ipv6_counts_by_its_64(
    store: EventStore,
) -> None:
    failures = FailedSignIns(store, KEY, clock=lambda: 1000.0)
    failures.attempt("192.0.2.1")
    keyed = address_hash("192.0.2.1", KEY)
    assert attempts_stored(store) == {keyed: 1}
    assert keyed != address_hash("192.0.2.1") != hashlib.sha256(b"192.0.2.1").hexdigest()
    for host in range(MAX_FAILURES):  # one /64, many hosts: one count
        failures.attempt(f"2001:db8:1:2::{host + 1:x}")
    assert failures.attempt("2001:db8:1:2:ffff::1") > 0
    assert failures.attempt("2001:db8:1:3::1") == 0  # the next /64


def test_a_locked_out_address_is_answered_from_memory_and_purges_are_spaced(
    store: EventStore,
) -> None:
    now = [1000.0]
    failures = FailedSignIns(store, KEY, clock=lambda: now[0])
    for _ in range(MAX_FAILURES + 1):
        failures.attempt("192.0.2.1")
    hashed = address_hash("192.0.2.1", KEY)
    assert attempts_stored(store)[hashed] == MAX_FAILURES + 1
    waits = [failures.attempt("192.0.2.1") for _ in range(50)]
    assert waits == [FAILURE_WINDOW + 1] * 50
    assert attempts_stored(store)[hashed] == MAX_FAILURES + 1  # no store write for them
    # an ended window's row goes at the first purge PURGE_EVERY after the one before
    failures.attempt("192.0.2.9")  # its window ends at 1000 + FAILURE_WINDOW
    now[0] += FAILURE_WINDOW - 10
    failures.attempt("192.0.2.2")  # a purge (the last was at 1000): nothing has ended yet
    now[0] += 20
    failures.attempt("192.0.2.2")  # too soon for another purge
    assert address_hash("192.0.2.9", KEY) in attempts_stored(store)
    now[0] += PURGE_EVERY
    failures.attempt("192.0.2.2")
    assert address_hash("192.0.2.9", KEY) not in attempts_stored(store)
    assert failures.attempt("192.0.2.1") == 0  # its lockout ended with its window


def test_failed_sign_ins_are_limited_across_collectors_sharing_a_store(
    pg_settings: Callable[[str], Settings], asgi_lifespan: Callable[[App], Any]
) -> None:
    nodes = [
        dataclasses.replace(pg_settings(name), dashboard_secret=SECRET) for name in ("a", "b")
    ]  # two collectors, each with its own store process: two PostgreSQL sessions

    def client(app: App, ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url="http://convtrack.test")

    async def scenario() -> None:
        apps = [App(settings) for settings in nodes]
        async with asgi_lifespan(apps[0]), asgi_lifespan(apps[1]):
            both = [client(app, "203.0.113.50") for app in apps]
            for i in range(MAX_FAILURES - 1):
                assert (await sign_in(both[i % 2], "wrong")).status_code == 401
            assert (await sign_in(both[1])).status_code == 303  # a sign-in forgets them
            for i in range(MAX_FAILURES):  # so five more tries, spread over both nodes
                assert (await sign_in(both[i % 2], "wrong")).status_code == 401
            for node in both:  # locked out on every node, even with the right secret
                locked = await sign_in(node)
                assert locked.status_code == 429, locked.text
                assert 0 < int(locked.headers["retry-after"]) <= FAILURE_WINDOW + 1
                assert locked.headers["content-type"].startswith("text/html")
                assert "Too many failed sign-ins" in locked.text
            elsewhere = client(apps[0], "203.0.113.51")
            assert (await sign_in(elsewhere)).status_code == 303  # per address
            for c in (*both, elsewhere):
                await c.aclose()

    asyncio.run(scenario())


def test_sessions_expire_and_are_purged_at_the_next_sign_in(store: EventStore) -> None:
    now = [1_000_000.0]
    sessions = Sessions(store, clock=lambda: now[0], lifetime=60)
    session = sessions.create()
    assert sessions.get(session.id) == session
    now[0] += 61
    assert sessions.get(session.id) is None
    sessions.create()  # deletes the expired one
    assert store.query("SELECT count(*) FROM dashboard_sessions").rows == [(1,)]


def test_a_session_outlives_its_server_and_signing_out_ends_it_everywhere(
    serve: Callable[..., Any], with_secret: Settings, error_shape: ErrorShape
) -> None:
    async def sign_in_once(client: httpx.AsyncClient, app: App) -> str:
        response = await sign_in(client)
        return response.headers["set-cookie"].split(";")[0]

    async def use_then_sign_out(client: httpx.AsyncClient, app: App) -> None:
        assert (await client.get("/v1/debug/events", headers={"cookie": cookie})).status_code == 200
        token = (await client.get("/v1/dashboard/session", headers={"cookie": cookie})).json()
        out = await client.post(
            "/signout", headers={"cookie": cookie, "x-csrf-token": token["csrf_token"]}
        )
        assert out.status_code == 303

    async def refused(client: httpx.AsyncClient, app: App) -> None:
        response = await client.get("/v1/debug/events", headers={"cookie": cookie})
        error_shape(response, 401, "unauthorised")

    cookie = serve(sign_in_once, with_secret)
    raw_id = cookie.partition("=")[2]
    serve(use_then_sign_out, with_secret)  # a restarted server (or another node) knows it
    serve(refused, with_secret)
    with duckdb.connect(str(with_secret.data_dir / "convtrack.duckdb"), read_only=True) as con:
        dumped = str(con.execute("SELECT * FROM dashboard_sessions").fetchall())
    assert raw_id and raw_id not in dumped


def test_the_qa_bridge_passes_only_a_live_session_on(store: EventStore) -> None:
    auth = DashboardAuth(SECRET, "admin-token", store)
    session = auth.sessions.create()
    cookie = (b"cookie", b"ct_session=" + session.id.encode())

    def scope(method: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
        return {"method": method, "path": "/v1/qa/health", "headers": list(headers)}

    bridged = auth.bridge(scope("GET", cookie))
    assert (b"authorization", b"Bearer admin-token") in bridged["headers"]
    for untouched in (
        scope("GET"),
        scope("GET", (b"cookie", b"ct_session=nope")),
        scope("POST", cookie),  # a change without the CSRF token
    ):
        assert auth.bridge(untouched) == untouched
    with_token = scope("POST", cookie, (b"x-csrf-token", session.csrf.encode()))
    assert (b"authorization", b"Bearer admin-token") in auth.bridge(with_token)["headers"]


def test_static_assets_are_served_and_chart_js_is_the_vendored_file(
    serve: Callable[..., Any], with_secret: Settings
) -> None:
    assert hashlib.sha256((STATIC / "chart.umd.min.js").read_bytes()).hexdigest() == (
        CHART_JS_SHA256
    )
    notice = (STATIC / "NOTICE.md").read_text()
    assert "4.6.1" in notice and "MIT" in notice and CHART_JS_SHA256 in notice

    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        for name in ("chart.umd.min.js", "app.js", "dashboard.css"):
            response = await client.get("/static/dashboard/" + name)
            assert response.status_code == 200, name
            assert response.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/static/dashboard/NOTICE.md")).status_code == 404

    serve(scenario, with_secret)


def test_no_script_puts_text_into_html() -> None:
    """The pages build the DOM with textContent and Chart.js labels only."""
    for script in STATIC.glob("*.js"):
        if script.name == "chart.umd.min.js":
            continue
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, (script.name, sink)
