"""The ASGI app's lifespan: start-up opens the store and writer, shut-down commits and closes."""

from __future__ import annotations

import asyncio
import dataclasses
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from convtrack import __version__
from convtrack.config import Settings
from convtrack.server import App, Runtime, _redact
from convtrack.store import open_store
from convtrack.web.pages import DEMO_FILES

ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]


def test_health_and_readiness(serve: Callable[..., Any]) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "version": __version__}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"

    serve(scenario)


def test_unknown_path_is_404_in_the_error_shape(
    serve: Callable[..., Any], error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        error_shape(await client.get("/nope"), 404, "not_found")

    serve(scenario)


def test_pages_are_served(serve: Callable[..., Any]) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        for path in ("/", *DEMO_FILES):
            page = await client.get(path)
            assert page.status_code == 200, path
            kind = {"js": "application/javascript", "css": "text/css"}.get(
                path.rsplit(".", 1)[-1], "text/html"
            )
            assert page.headers["content-type"].startswith(kind), path
            assert page.headers["x-content-type-options"] == "nosniff"
            if kind == "text/html":
                assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    serve(scenario)


def test_requests_before_start_up_are_told_to_retry(
    settings: Settings, asgi_client: Callable[[App], httpx.AsyncClient], error_shape: ErrorShape
) -> None:
    async def main() -> None:
        async with asgi_client(App(settings)) as client:
            response = await client.get("/healthz")
        error_shape(response, 503, "starting")
        assert response.headers["retry-after"] == "1"

    asyncio.run(main())


def test_start_up_creates_the_admin_token(serve: Callable[..., Any], settings: Settings) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> str:
        return (settings.data_dir / "admin.token").read_text()

    first = serve(scenario)
    token_file = settings.data_dir / "admin.token"
    assert len(first.strip()) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert serve(scenario) == first  # stable across restarts


def test_shut_down_commits_what_was_accepted(
    serve: Callable[..., Any], settings: Settings, admin_headers: Callable[[], dict[str, str]]
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        created = await client.post(
            "/v1/admin/keys", json={"name": "be", "kind": "secret"}, headers=admin_headers()
        )
        key = created.json()["key"]
        batch = {
            "events": [
                {
                    "event_name": "purchase",
                    "event_id": f"e{i}",
                    "anonymous_id": "a",
                    "value": 10,
                    "currency": "EUR",
                    "order_id": f"o{i}",  # the default plan requires it on a purchase
                }
                for i in range(5)
            ]
        }
        response = await client.post(
            "/v1/events", json=batch, headers={"authorization": f"Bearer {key}"}
        )
        assert response.json() == {"accepted": 5, "rejected": 0, "errors": [], "warnings": []}

    serve(scenario)
    # The lifespan closed the store: the file opens again, with every accepted event in it.
    with open_store(settings.store_url) as store:
        assert store.count_events() == 5


def test_start_up_failure_is_reported(
    settings: Settings, tmp_path: Path, asgi_lifespan: Callable[[App], Any],
    asgi_client: Callable[[App], httpx.AsyncClient], error_shape: ErrorShape,
) -> None:  # fmt: skip
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    bad = dataclasses.replace(settings, store=f"duckdb://{blocker}/convtrack.duckdb")

    async def main() -> None:
        app = App(bad)
        with pytest.raises(Exception, match="not-a-dir") as info:
            async with asgi_lifespan(app):
                pass
        assert type(info.value).__name__ == "LifespanFailed"
        async with asgi_client(app) as client:
            error_shape(await client.get("/healthz"), 503, "starting")

    asyncio.run(main())


HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_store_held_by_another_process_fails_start_up(
    settings: Settings, asgi_lifespan: Callable[[App], Any]
) -> None:
    path = settings.data_dir / "convtrack.duckdb"
    settings.data_dir.mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"

        async def main() -> None:
            with pytest.raises(Exception, match="held by another process"):
                async with asgi_lifespan(App(settings)):
                    pass

        asyncio.run(main())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def test_runtime_start_and_status(settings: Settings) -> None:
    rt = Runtime.start(settings)
    try:
        status = rt.status()
        assert status["store"] == settings.store_url
        assert status["schema_version"] >= 1
        assert status["queue_pending"] == 0 and status["commits"] == 0
        assert set(rt.routes) >= {"/v1/events", "/p.gif", "/healthz", "/readyz"}
    finally:
        rt.stop()
    with open_store(settings.store_url) as store:  # stop() released the file
        assert store.schema_version() == status["schema_version"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ct:s3cret@db.example:5432/ct", "postgresql://***@db.example:5432/ct"),
        ("postgresql://ct:p@ss@word@db/ct", "postgresql://***@db/ct"),
        ("duckdb:///srv/ct.duckdb", "duckdb:///srv/ct.duckdb"),
    ],
)
def test_store_passwords_are_never_shown(url: str, shown: str) -> None:
    assert _redact(url) == shown
