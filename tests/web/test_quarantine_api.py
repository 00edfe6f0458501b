"""``/v1/admin/quarantine``: list, show and replay through the operator API, in-process."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from convtrack.config import Settings
from convtrack.server import App

ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]
PLAN = 'version: "v1"\nunknown_events: quarantine\nevents:\n  - name: purchase\n'


def _admin(app: App) -> dict[str, str]:
    token = (app.settings.data_dir / "admin.token").read_text().strip()
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def strict(settings: Settings, tmp_path: Path) -> Settings:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    return dataclasses.replace(settings, plan=str(plan))


def test_list_show_replay(
    serve: Callable[..., Any], strict: Settings, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        admin = _admin(app)
        key = await client.post(
            "/v1/admin/keys", json={"name": "s", "kind": "secret"}, headers=admin
        )
        auth = {"authorization": f"Bearer {key.json()['key']}"}
        event = {"event_name": "signup", "event_id": "ev-1", "anonymous_id": "a"}
        assert (await client.post("/v1/events", json=event, headers=auth)).status_code == 422

        listed = (await client.get("/v1/admin/quarantine", headers=admin)).json()
        [row] = listed["rows"]
        assert row["event_name"] == "signup" and row["status"] == "quarantined"
        assert listed["top_reasons"][0]["path"] == "/event_name"
        empty = await client.get(
            "/v1/admin/quarantine", params={"status": "replayed"}, headers=admin
        )
        assert empty.json()["rows"] == []
        shown = await client.get(f"/v1/admin/quarantine/{row['reject_id']}", headers=admin)
        assert shown.json()["payload"]["event_id"] == "ev-1"
        error_shape(await client.get("/v1/admin/quarantine/nope", headers=admin), 404, "not_found")
        bad = await client.get("/v1/admin/quarantine", params={"limit": "0"}, headers=admin)
        error_shape(bad, 400, "invalid_limit")
        bad = await client.get("/v1/admin/quarantine", params={"status": "x"}, headers=admin)
        error_shape(bad, 400, "invalid_status")
        no_auth = await client.post("/v1/admin/quarantine/replay", json={"all": True})
        error_shape(no_auth, 401, "unauthorised")
        nothing = await client.post("/v1/admin/quarantine/replay", json={}, headers=admin)
        error_shape(nothing, 400, "nothing_to_replay")
        typo = await client.post("/v1/admin/quarantine/replay", json={"al": 1}, headers=admin)
        error_shape(typo, 422, "invalid_request")

        replay = await client.post(
            "/v1/admin/quarantine/replay", json={"ids": [row["reject_id"]]}, headers=admin
        )
        assert replay.json()["counts"] == {"still_invalid": 1}
        assert replay.json()["plan_version"] == "v1"

    serve(scenario, strict)
