"""The JSON the dashboard reads that has no other home: ``GET /v1/debug/events`` (the live
debugger) and ``GET /v1/reports/conversions`` (the overview's conversions report)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from convtrack.server import App

ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = Callable[[], dict[str, str]]


async def post_events(
    client: httpx.AsyncClient, admin: dict[str, str], events: list[dict[str, Any]]
) -> httpx.Response:
    made = await client.post("/v1/admin/keys", json={"name": "t", "kind": "secret"}, headers=admin)
    key = made.json()["key"]
    return await client.post(
        "/v1/events", json={"events": events}, headers={"authorization": f"Bearer {key}"}
    )


EVENTS = [
    {"event_name": "page_view", "event_id": "e1", "anonymous_id": "a1", "type": "page"},
    {"event_name": "purchase", "event_id": "e2", "anonymous_id": "a1", "order_id": "o1",
     "value": 20, "currency": "USD"},
    {"event_name": "purchase", "event_id": "e3", "anonymous_id": "a2", "value": "bad"},
    {"event_name": "subscribe", "event_id": "e4", "anonymous_id": "a2", "order_id": "o2",
     "value": 5, "currency": "USD", "properties": {"renewal": True}},
]  # fmt: skip


def test_debug_events_lists_good_and_quarantined_with_filters(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        sent = await post_events(client, admin_headers(), EVENTS)
        assert sent.json()["rejected"] == 1, sent.text

        async def get(**params: Any) -> list[dict[str, Any]]:
            response = await client.get("/v1/debug/events", params=params, headers=admin_headers())
            assert response.status_code == 200, response.text
            return list(response.json()["events"])

        everything = await get()
        assert sorted(e["status"] for e in everything) == ["accepted"] * 3 + ["quarantined"]
        bad = await get(anonymous_id="a2", event_name="purchase")
        assert [e["status"] for e in bad] == ["quarantined"]
        assert bad[0]["validation"]["valid"] is False
        assert bad[0]["validation"]["reasons"][0]["path"] == "/value"
        assert bad[0]["source"] == "server" and bad[0]["anonymous_id"] == "a2"
        good = await get(anonymous_id="a1")
        assert sorted(e["event_id"] for e in good) == ["e1", "e2"]
        assert all(e["validation"] == {"valid": True, "reasons": []} for e in good)
        assert all(e["consent"]["analytics"] for e in good)  # the decision made at ingest
        assert [e["event_id"] for e in await get(event_name="page_view")] == ["e1"]
        assert await get(source="pixel") == []
        assert len(await get(limit=1)) == 1
        for params in ({"limit": "0"}, {"limit": "x"}, {"nope": "1"}):
            response = await client.get("/v1/debug/events", params=params, headers=admin_headers())
            error_shape(response, 400, "invalid_debug_parameter")

    serve(scenario)


def test_conversions_report_by_category_day_and_name(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        await post_events(client, admin_headers(), EVENTS)

        async def get(**params: str) -> dict[str, Any]:
            response = await client.get(
                "/v1/reports/conversions", params=params, headers=admin_headers()
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        by_category = await get(by="category")
        assert by_category["currency"] == "USD"
        rows = {r[0]: dict(zip(by_category["columns"], r, strict=True))
                for r in by_category["rows"] if r[3] == "USD"}  # fmt: skip
        assert rows["purchase"]["count"] == 2 and rows["purchase"]["value"] == 25
        assert rows["purchase/subscription"]["count"] == 1
        assert rows["purchase/subscription/renewal"]["depth"] == 3
        by_day = await get(by="day")
        assert by_day["columns"][0] == "day" and sum(r[4] for r in by_day["rows"]) == 2
        by_name = await get()
        assert by_name["by"] == "name"
        for params in ({"by": "week"}, {"from": "2024-13-01"}, {"what": "x"}):
            response = await client.get(
                "/v1/reports/conversions", params=params, headers=admin_headers()
            )
            assert response.status_code == 400, params
        error_shape(
            await client.get("/v1/reports/conversions", params={"from": "2024-05-02",
                                                                "to": "2024-05-01"},
                             headers=admin_headers()),
            400, "invalid_report_parameter",
        )  # fmt: skip

    serve(scenario)
