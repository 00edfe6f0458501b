"""Run ``convtrack.server.App`` in-process, with its ASGI lifespan driven by the test.

``httpx.ASGITransport`` sends only HTTP requests, so the lifespan (which opens the store and
starts the group-commit writer) is run by ``lifespan()`` below, as a server would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from convtrack.config import Settings, load_settings
from convtrack.server import App
from pg import PgServer, start_server

T = TypeVar("T")
Scenario = Callable[[httpx.AsyncClient, App], Awaitable[Any]]


class LifespanFailed(Exception):
    pass


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[App]:
    """Send lifespan.startup, yield while the app runs, then send lifespan.shutdown."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))  # type: ignore[arg-type]
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    if started["type"] != "lifespan.startup.complete":
        await task
        raise LifespanFailed(started.get("message", ""))
    try:
        yield app
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        stopped = await from_app.get()
        await task
        assert stopped["type"] == "lifespan.shutdown.complete"


def client_for(app: App) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.50", 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://convtrack.test")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("CONVTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return load_settings(
        env={}, overrides={"data_dir": tmp_path / "data", "commit_interval_ms": 0.0}
    )


@pytest.fixture
def serve(settings: Settings) -> Callable[[Scenario], Any]:
    """``serve(scenario)``: start the app, run ``await scenario(client, app)``, stop it."""

    def run(scenario: Scenario, app_settings: Settings | None = None) -> Any:
        async def main() -> Any:
            app = App(app_settings or settings)
            async with lifespan(app), client_for(app) as client:
                return await scenario(client, app)

        return asyncio.run(main())

    return run


@pytest.fixture
def admin_headers(settings: Settings) -> Callable[[], dict[str, str]]:
    """The operator token's header (read after start-up, which creates the token)."""

    def headers() -> dict[str, str]:
        token = (settings.data_dir / "admin.token").read_text().strip()
        return {"authorization": f"Bearer {token}"}

    return headers


def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    return dict(body["error"])


@pytest.fixture
def error_shape() -> Callable[[httpx.Response, int, str], dict[str, Any]]:
    return assert_error_shape


@pytest.fixture
def asgi_lifespan() -> Callable[[App], Any]:
    """The lifespan runner itself, for tests of start-up and shut-down."""
    return lifespan


@pytest.fixture
def asgi_client() -> Callable[[App], httpx.AsyncClient]:
    return client_for


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server (tests/pg.py) for the tests of collectors sharing a store."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def pg_settings(pg_server: PgServer, settings: Settings) -> Callable[[str], Settings]:
    """``pg_settings(name)``: settings of one more collector on this test's PostgreSQL
    database (its own data dir), as a node of a multi-collector deployment has."""
    url = pg_server.url(pg_server.create_database())

    def node(name: str) -> Settings:
        return dataclasses.replace(settings, store=url, data_dir=settings.data_dir / name)

    return node
