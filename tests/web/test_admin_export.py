"""``POST /v1/admin/export`` on collectors sharing one PostgreSQL store: one export of the
database at a time across all of them (the lake's advisory lock), answered 409
``export_running`` on every node while another process exports (to an ndjson client too:
before its answer begins), and free again after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from convtrack.config import Settings
from convtrack.export.postgres_lake import EXPORT_LOCK
from convtrack.server import App

ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]


def test_an_export_elsewhere_makes_every_collector_answer_busy(
    pg_settings: Callable[[str], Settings],
    asgi_lifespan: Callable[[App], Any],
    asgi_client: Callable[[App], httpx.AsyncClient],
    error_shape: ErrorShape,
    tmp_path: Path,
) -> None:
    nodes = [pg_settings(name) for name in ("a", "b")]  # two store processes, two sessions
    out = {"out": str(tmp_path / "lake")}

    async def export(app: App, settings: Settings, ndjson: bool = False) -> httpx.Response:
        token = (settings.data_dir / "admin.token").read_text().strip()
        async with asgi_client(app) as client:
            headers = {"authorization": f"Bearer {token}"}
            if ndjson:
                headers["accept"] = "application/x-ndjson"
            return await client.post("/v1/admin/export", json=out, headers=headers)

    async def scenario() -> None:
        apps = [App(settings) for settings in nodes]
        async with asgi_lifespan(apps[0]), asgi_lifespan(apps[1]):
            # Another process (a CLI export, a third collector) is exporting this database.
            with psycopg.connect(nodes[0].store_url, autocommit=True) as other:
                held = other.execute("SELECT pg_try_advisory_lock(%s)", [EXPORT_LOCK])
                assert held.fetchone() == (True,)
                for app, settings in zip(apps, nodes, strict=True):
                    busy = error_shape(await export(app, settings), 409, "export_running")
                    assert "try again later" in busy["message"]
                    streamed = await export(app, settings, ndjson=True)
                    assert error_shape(streamed, 409, "export_running") == busy
                assert not (tmp_path / "lake").exists()
            # Its session ended, and its lock with it: each node may export, one after the other.
            for app, settings in zip(apps, nodes, strict=True):
                done = await export(app, settings)
                assert done.status_code == 200, done.text
            streamed = await export(apps[0], nodes[0], ndjson=True)  # progress from PostgreSQL
            assert streamed.headers["content-type"] == "application/x-ndjson"
            *progress, result = [json.loads(line) for line in streamed.text.splitlines()]
            assert progress == [{"progress": {"done": 0, "total": 0, "day": ""}}]  # up to date
            assert result == {**done.json(), "written": [], "rows": 0}
            assert (tmp_path / "lake" / "manifest.json").exists()

    asyncio.run(scenario())
