"""The operator API: only the admin token opens it, and nothing secret comes out of it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from convtrack.config import Settings
from convtrack.keys import hash_key
from convtrack.server import App

ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = Callable[[], dict[str, str]]

ROUTES = [
    ("GET", "/v1/admin/status", None),
    ("POST", "/v1/admin/sql", {"sql": "SELECT 1"}),
    ("GET", "/v1/admin/keys", None),
    ("POST", "/v1/admin/keys", {"name": "sneaky"}),
    ("POST", "/v1/admin/keys/revoke", {"key": "default"}),
    ("GET", "/v1/admin/events", None),
    ("GET", "/v1/admin/does-not-exist", None),
]


def token_of(settings: Settings) -> str:
    return (settings.data_dir / "admin.token").read_text().strip()


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_no_token_is_401_on_every_route(
    serve: Callable[..., Any], error_shape: ErrorShape, method: str, path: str, body: Any
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        response = await client.request(method, path, json=body)
        error = error_shape(response, 401, "unauthorised")
        assert "admin.token" in error["message"]
        keys = await client.get("/v1/admin/keys", headers=_admin(app))
        assert keys.json() == {"keys": []}  # nothing was created

    serve(scenario)


def _admin(app: App) -> dict[str, str]:
    return {"authorization": f"Bearer {token_of(app.settings)}"}


@pytest.mark.parametrize(
    "value",
    [
        "Bearer wrong-token",
        "Bearer ",
        "Bearer",
        "Token {token}",
        "{token}",
        "Bearer {token}x",
        "Bearer x{token}",
        "Basic {basic}",
    ],
)
def test_wrong_token_is_401(
    serve: Callable[..., Any], settings: Settings, error_shape: ErrorShape, value: str
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        token = token_of(settings)
        basic = base64.b64encode(f"{token}:".encode()).decode()
        header = value.format(token=token, basic=basic)
        response = await client.get("/v1/admin/status", headers={"authorization": header})
        error_shape(response, 401, "unauthorised")

    serve(scenario)


def test_non_ascii_token_is_401_not_a_crash(
    serve: Callable[..., Any], error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        headers = {"authorization": "Bearer caf\u00e9".encode("latin-1")}
        response = await client.get("/v1/admin/status", headers=headers)  # type: ignore[arg-type]
        error_shape(response, 401, "unauthorised")

    serve(scenario)


def test_right_token_works(serve: Callable[..., Any], admin_headers: Headers) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        for scheme in ("Bearer", "bearer"):
            token = admin_headers()["authorization"].split(" ", 1)[1]
            response = await client.get(
                "/v1/admin/status", headers={"authorization": f"{scheme} {token}"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["schema_version"] >= 1

    serve(scenario)


def test_status_does_not_leak_secrets(
    serve: Callable[..., Any], settings: Settings, admin_headers: Headers
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        created = await client.post(
            "/v1/admin/keys", json={"name": "be", "kind": "secret"}, headers=admin_headers()
        )
        key = created.json()["key"]
        status = await client.get("/v1/admin/status", headers=admin_headers())
        assert status.status_code == 200
        text = status.text
        for secret in (token_of(settings), key, hash_key(key), hash_key(token_of(settings))):
            assert secret not in text
        body = status.json()
        assert body["store"] == settings.store_url
        assert {"queue_pending", "commits", "events_committed", "version"} <= set(body)

    serve(scenario)


def test_unknown_admin_route_with_a_token_is_404_and_another_method_405(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        error_shape(await client.get("/v1/admin/nope", headers=admin_headers()), 404, "not_found")
        wrong = await client.delete("/v1/admin/keys", headers=admin_headers())
        error_shape(wrong, 405, "method_not_allowed")
        assert wrong.headers["allow"] == "GET, POST"
        replay = await client.get("/v1/admin/quarantine/replay", headers=admin_headers())
        error_shape(replay, 405, "method_not_allowed")  # a fixed path, not a reject id

    serve(scenario)


def test_keys_lifecycle_reaches_the_collector(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    event = {"event_name": "signup", "anonymous_id": "a1"}

    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        created = await client.post(
            "/v1/admin/keys", json={"name": "backend", "kind": "secret"}, headers=admin_headers()
        )
        assert created.status_code == 200
        made = created.json()
        key = made["key"]
        assert (
            key.startswith("ctk_sec_") and made["kind"] == "secret" and made["revoked_at"] is None
        )
        auth = {"authorization": f"Bearer {key}"}

        accepted = await client.post("/v1/events", json=event, headers=auth)
        assert accepted.status_code == 200 and accepted.json()["accepted"] == 1

        listed = await client.get("/v1/admin/keys", headers=admin_headers())
        [view] = listed.json()["keys"]
        assert view["name"] == "backend" and view["prefix"] == key[:12]
        assert key not in listed.text and hash_key(key) not in listed.text

        revoked = await client.post(
            "/v1/admin/keys/revoke", json={"key": "backend"}, headers=admin_headers()
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        error_shape(await client.post("/v1/events", json=event, headers=auth), 401, "invalid_key")
        again = await client.post(
            "/v1/admin/keys/revoke", json={"key": "backend"}, headers=admin_headers()
        )
        error_shape(again, 404, "key_not_found")

    serve(scenario)


def test_bad_admin_bodies(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        h = admin_headers()
        error_shape(
            await client.post("/v1/admin/keys", content=b"{nope", headers=h), 400, "malformed_json"
        )
        error_shape(
            await client.post("/v1/admin/keys", json={"name": 5}, headers=h), 422, "invalid_request"
        )
        error_shape(
            await client.post("/v1/admin/keys", json={"name": "x", "kind": "root"}, headers=h),
            422,
            "invalid_key_kind",
        )

    serve(scenario)


def test_the_body_type_curl_sends_by_default_is_read_as_json_and_others_are_415(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        body = b'{"name": "from-curl"}'
        form = {**admin_headers(), "content-type": "application/x-www-form-urlencoded"}
        made = await client.post("/v1/admin/keys", content=body, headers=form)
        assert made.status_code == 200, made.text
        assert made.json()["name"] == "from-curl"
        error_shape(
            await client.post("/v1/admin/keys", content=b"name=x", headers=form),
            400,
            "malformed_json",
        )
        xml = {**admin_headers(), "content-type": "application/xml"}
        refused = await client.post("/v1/admin/keys", content=body, headers=xml)
        error_shape(refused, 415, "unsupported_media_type")
        assert refused.headers["connection"] == "close"  # its body was not read
        listed = await client.get("/v1/admin/keys", headers=admin_headers())
        assert [k["name"] for k in listed.json()["keys"]] == ["from-curl"]

    serve(scenario)


def test_sql_is_read_only(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        h = admin_headers()
        for sql in (
            "DELETE FROM write_keys",
            "SELECT 1; DROP TABLE events",
            "EXPLAIN ANALYZE DELETE FROM events",
        ):
            error_shape(
                await client.post("/v1/admin/sql", json={"sql": sql}, headers=h), 400, "read_only"
            )
        ok = await client.post("/v1/admin/sql", json={"sql": "SELECT 41 + 1 AS answer"}, headers=h)
        assert ok.json() == {"columns": ["answer"], "rows": [[42]], "truncated": False}
        capped = await client.post(
            "/v1/admin/sql", json={"sql": "SELECT * FROM range(5)", "limit": 2}, headers=h
        )
        assert capped.json()["rows"] == [[0], [1]] and capped.json()["truncated"] is True

    serve(scenario)


def test_admin_events_pages_in_order(serve: Callable[..., Any], admin_headers: Headers) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        h = admin_headers()
        key = (
            await client.post("/v1/admin/keys", json={"name": "k", "kind": "secret"}, headers=h)
        ).json()["key"]
        batch = {
            "events": [
                {"event_name": "x", "event_id": f"e{i}", "anonymous_id": "a"} for i in range(4)
            ]
        }
        await client.post("/v1/events", json=batch, headers={"authorization": f"Bearer {key}"})
        first = (await client.get("/v1/admin/events", params={"limit": 3}, headers=h)).json()
        # One request: one received_at for all four, so event_id orders them.
        assert [e["event_id"] for e in first["events"]] == ["e0", "e1", "e2"]
        last = first["events"][-1]
        rest = (await client.get("/v1/admin/events", headers=h, params={
            "after_received_at": last["received_at"], "after_event_id": last["event_id"],
        })).json()["events"]  # fmt: skip
        assert [e["event_id"] for e in rest] == ["e3"]
        newest = (await client.get("/v1/admin/events", params={"last": 1}, headers=h)).json()
        assert [e["event_id"] for e in newest["events"]] == ["e3"]

    serve(scenario)
