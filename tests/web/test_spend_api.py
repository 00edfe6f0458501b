"""``POST /v1/admin/spend``: rows checked again on the server, stored all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from convtrack.server import App
from convtrack.web.spend_api import BODY_LIMIT

ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = Callable[[], dict[str, str]]
ROW = {"date": "2024-05-01", "platform": "google_ads", "spend": "12.5", "currency": "EUR"}


async def stored(client: httpx.AsyncClient, headers: dict[str, str]) -> list[list[Any]]:
    sql = "SELECT day, channel, campaign, spend, source FROM spend ORDER BY ALL"
    response = await client.post("/v1/admin/sql", json={"sql": sql}, headers=headers)
    return list(response.json()["rows"])


def test_rows_are_upserted(serve: Callable[..., Any], admin_headers: Headers) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        body = {"rows": [ROW, {**ROW, "campaign": "b", "clicks": 3}], "source": "may.csv"}
        first = await client.post("/v1/admin/spend", json=body, headers=admin_headers())
        assert first.json() == {"rows": 2, "inserted": 2, "replaced": 0}
        again = await client.post(
            "/v1/admin/spend", json={"rows": [{**ROW, "spend": 1}]}, headers=admin_headers()
        )
        assert again.json() == {"rows": 1, "inserted": 0, "replaced": 1}
        assert await stored(client, admin_headers()) == [
            ["2024-05-01", "Paid Search", "", "1.000000", ""],
            ["2024-05-01", "Paid Search", "b", "12.500000", "may.csv"],
        ]

    serve(scenario)


def test_bad_rows_store_nothing(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        rows = [ROW, {**ROW, "spend": "-1"}, {**ROW, "currency": "EURO", "ctr": 0.1}, ROW]
        response = await client.post(
            "/v1/admin/spend", json={"rows": rows}, headers=admin_headers()
        )
        error = error_shape(response, 422, "invalid_spend")
        assert [d["path"] for d in error["details"]] == ["/rows/2/ctr"]
        rows = [ROW, {**ROW, "spend": "-1"}, {**ROW, "currency": "EURO"}, ROW]
        response = await client.post(
            "/v1/admin/spend", json={"rows": rows}, headers=admin_headers()
        )
        error = error_shape(response, 422, "invalid_spend")
        assert [d["path"] for d in error["details"]] == [
            "/rows/1/spend",
            "/rows/2/currency",
            "/rows/3/key",
        ]
        assert "same date, platform, channel, campaign and currency as /rows/0" in error["message"]
        assert await stored(client, admin_headers()) == []

    serve(scenario)


def test_bad_bodies(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        post = client.post
        no_token = await post("/v1/admin/spend", json={"rows": [ROW]})
        error_shape(no_token, 401, "unauthorised")
        extra = await post("/v1/admin/spend", json={"rows": [], "x": 1}, headers=admin_headers())
        error_shape(extra, 422, "invalid_request")
        broken = await post("/v1/admin/spend", content=b"{", headers=admin_headers())
        error_shape(broken, 400, "malformed_json")
        huge = {"rows": [ROW] * (BODY_LIMIT // 40)}
        too_big = await post("/v1/admin/spend", json=huge, headers=admin_headers())
        error_shape(too_big, 413, "payload_too_large")
        assert await stored(client, admin_headers()) == []

    serve(scenario)
