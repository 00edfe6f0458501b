"""The answer schemas of ``/openapi.json`` match what the server really answers.

A server on each store engine (DuckDB, PostgreSQL), seeded with events (good, quarantined, a
conversion forwarded to a webhook that refuses connections, so the outbox has jobs and a
log), a click link, spend and an alert.
Every documented ``GET`` with a JSON answer is called (those it cannot call are listed in
``NOT_CALLED`` with the reason) and so are the cheap JSON ``POST``s; each answer is validated
against its documented schema made strict: an object may hold only the keys its schema lists,
so a key added to a handler but not to web/openapi_answers.py fails here as much as a key the
schema requires and the handler left out. Then each answer schema must have been *reached*
by a real value (not only by an empty list or a null), so nested rows are checked too.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, ValidationError

from convtrack.config import Settings
from convtrack.server import App
from convtrack.store.dashboard_model import AlertRecord
from live_server import free_port
from pg import PgServer
from skan_samples import SAMPLE_40

Headers = Callable[[], dict[str, str]]
Doc = dict[str, Any]
# Documented GETs with a JSON answer this test does not call, and why.
NOT_CALLED = {
    ("get", "/v1/dashboard/session"): "needs a session: tests/web/test_openapi.py checks it",
}
# Answer schemas no seeded answer holds a value of, and why.
NOT_REACHED = {
    "Anomaly": "a drop or spike needs weeks of hourly history (qa/anomaly.py's own dataclass)",
}
SPEND = {"day": "2026-01-02", "platform": "meta", "channel": "paid_social", "campaign": "spring",
         "spend": "12.50", "currency": "EUR"}  # fmt: skip
GRANTED = dict.fromkeys(
    ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"), "granted"
)
ERASED = {"event_name": "signup", "event_id": "erase-me", "anonymous_id": "gone"}
SKAN = "/.well-known/skadnetwork/report-attribution/"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD_DATA = {
    "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
    "data": [{"e": "pv", "eid": "sp-1", "duid": "a1", "url": "https://shop.example/"}],
}
ECAPI_EVENT = {"data_set_id": "shop", "id": "ec-1", "timestamp": 1767268800,
               "event_type": "sign_up", "user_data": {"customer_identifier": "c-42"}}  # fmt: skip


def seed_events(anon: str) -> list[dict[str, Any]]:
    """A landing page view from a campaign, a purchase (a conversion, consented), a purchase
    that fails validation and a visit that refused analytics consent."""
    return [
        {"event_name": "page_view", "type": "page", "event_id": "p1", "anonymous_id": anon,
         "session_id": "s1", "context": {"url": "https://shop.example/?utm_source=news"
                                         "&utm_medium=email&utm_campaign=spring"}},
        {"event_name": "purchase", "type": "conversion", "event_id": "c1", "anonymous_id": anon,
         "session_id": "s1", "value": 49.9, "currency": "EUR", "order_id": "o1",
         "identifiers": {"email": "ada@example.com"},
         "consent": GRANTED},
        {"event_name": "purchase", "event_id": "bad1", "anonymous_id": anon, "value": "12"},
        {"event_name": "page_view", "type": "page", "event_id": "p2", "anonymous_id": "other",
         "consent": {"analytics_storage": "denied"}},
    ]  # fmt: skip


def strict(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on each object that lists its
    properties and says nothing of others."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


class Checker:
    """Validates answers against the document's answer schemas, strictly, and records which
    component schemas real (non-null, non-empty) values reached."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.components = strict(copy.deepcopy(doc["components"]))
        self.reached: set[str] = set()
        self.wanted: set[str] = set()
        self.called: set[tuple[str, str]] = set()

    def schema(self, method: str, path: str, status: int) -> Any:
        answer = self.doc["paths"][path][method]["responses"][str(status)]
        return answer["content"]["application/json"]["schema"]

    def validator(self, schema: Any) -> Draft202012Validator:
        return Draft202012Validator(
            {**strict(schema), "components": self.components},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    def check(self, method: str, path: str, response: httpx.Response) -> Any:
        assert response.status_code < 300, (method, path, response.text)
        schema = self.schema(method, path, response.status_code)
        body = response.json()
        self.validator(schema).validate(body)  # raises: the schema says something else
        self.called.add((method, path))
        self.wanted |= self.refs(schema)
        self.walk(schema, body)
        return body

    def refs(self, schema: Any) -> set[str]:
        """The component schemas ``schema`` names, directly or through others."""
        found: set[str] = set()
        todo = [schema]
        while todo:
            node = todo.pop()
            if isinstance(node, dict):
                ref = node.get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                if ref and name not in found:
                    found.add(name)
                    todo.append(self.components["schemas"][name])
                todo += node.values()
            elif isinstance(node, list):
                todo += node
        return found

    def walk(self, schema: Any, value: Any) -> None:
        if not isinstance(schema, dict) or value is None:
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            self.reached.add(name)
            schema = self.components["schemas"][name]
        for alternative in schema.get("anyOf", []):
            if self.validator(alternative).is_valid(value):
                self.walk(alternative, value)
        if isinstance(value, list):
            for item in value:
                self.walk(schema.get("items"), item)
        elif isinstance(value, dict):
            properties = schema.get("properties", {})
            for key, item in value.items():
                self.walk(properties.get(key, schema.get("additionalProperties")), item)


async def ingest_protocols(client: httpx.AsyncClient, check: Checker, key: str) -> None:
    """The protocol adapters' answers (Segment, ECAPI, SKAdNetwork, Snowplow) to valid
    requests, each with a message the server quarantines where the answer lists them."""
    basic = (key, "")  # Segment: the write key as the HTTP Basic user
    batch = {"batch": [{"type": "page", "name": "Home", "messageId": "sg-1",
                        "anonymousId": "a1"},
                       {"type": "nope", "messageId": "sg-2"}]}  # fmt: skip
    answer = check.check(
        "post", "/v1/batch", await client.post("/v1/batch", json=batch, auth=basic)
    )
    assert (answer["accepted"], answer["rejected"]) == (1, 1), answer
    one = {"event": "signup", "anonymousId": "a1", "writeKey": key}  # the key in the body
    check.check("post", "/v1/track", await client.post("/v1/track", json=one))
    bearer = {"authorization": f"Bearer {key}"}
    events = {"events": [ECAPI_EVENT, {"data_set_id": "shop"}]}
    sent = await client.post("/v1/ecapi/events", json=events, headers=bearer)
    assert check.check("post", "/v1/ecapi/events", sent)["rejected"] == 1
    forged = {**SAMPLE_40, "source-identifier": "40"}
    for postback, status in ((SAMPLE_40, "stored"), (SAMPLE_40, "duplicate"),
                             (forged, "quarantined")):  # fmt: skip
        got = check.check("post", SKAN, await client.post(SKAN, json=postback))
        assert got["status"] == status, got
    ok = await client.post(TP2, json=PAYLOAD_DATA, headers=bearer)
    assert ok.status_code == 200, ok.text
    text = check.doc["paths"][TP2]["post"]["responses"]["200"]["content"]["text/plain"]
    check.validator(text["schema"]).validate(ok.text)


def json_gets(doc: Doc) -> set[tuple[str, str]]:
    return {
        ("get", path)
        for path, ops in doc["paths"].items()
        if "get" in ops
        and "application/json" in ops["get"]["responses"].get("200", {}).get("content", {})
    }


@pytest.fixture(scope="module")
def pg_database(pg_server: PgServer) -> str:
    return pg_server.url(pg_server.create_database("answers"))


@pytest.fixture(params=["duckdb", "postgresql"])
def forwarding(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The server's settings: a webhook destination nobody answers; each store engine."""
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connections are refused
    monkeypatch.setenv("CONVTRACK_WEBHOOK_URL", dead)
    monkeypatch.setenv("CONVTRACK_WEBHOOK_SECRET", "not-a-real-secret")
    pg = request.param == "postgresql"
    return dataclasses.replace(
        settings,
        store=request.getfixturevalue("pg_database") if pg else "",
        destinations="webhook",
        forward_poll_ms=20,
        forward_retry_base_seconds=60.0,
        forward_pause_after_failures=0,
        retention_days=3650,  # on, so POST /v1/admin/privacy/purge says what each would do
        raw_ip_hours=24 * 3650,
    )


async def seed(client: httpx.AsyncClient, app: App, admin: dict[str, str]) -> dict[str, str]:
    """Store what the answers describe; the ids the item endpoints need."""
    made = await client.post("/v1/admin/keys", json={"name": "shop", "kind": "secret"},
                             headers=admin)  # fmt: skip
    key = {"authorization": f"Bearer {made.json()['key']}"}
    sent = await client.post("/v1/events", json={"events": seed_events("a1")}, headers=key)
    assert sent.json()["rejected"] == 1, sent.text
    await client.post("/v1/events", json=ERASED, headers=key)
    assert app.runtime is not None
    now = datetime.now(UTC)
    app.runtime.store.raise_alert(
        AlertRecord(
            key="volume:web",
            kind="volume_drop",
            message="No events",
            details={"source": "web"},
            raised_at=now,
        )  # fmt: skip
    )
    for _ in range(600):  # the forwarder's first attempt fails: a job with a log line
        log = await client.get("/v1/admin/outbox/show", params={"id": "c1"}, headers=admin)
        if log.status_code == 200 and log.json()["log"]:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"no delivery attempt was logged: {log.text}")
    quarantined = await client.get("/v1/admin/quarantine", headers=admin)
    return {"reject_id": quarantined.json()["rows"][0]["reject_id"], "job": "c1"}


def test_every_answer_matches_its_documented_schema(
    serve: Callable[..., Any], admin_headers: Headers, forwarding: Settings
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> Checker:
        doc = (await client.get("/openapi.json")).json()
        check, admin = Checker(doc), admin_headers()
        ids = await seed(client, app, admin)

        async def get(path: str, concrete: str | None = None, **params: str) -> Any:
            response = await client.get(concrete or path, params=params, headers=admin)
            return check.check("get", path, response)

        async def post(path: str, body: Any = None, status: int = 200, **params: str) -> Any:
            response = await client.post(path, json=body, params=params, headers=admin)
            assert response.status_code == status, response.text
            return check.check("post", path, response)

        await post("/v1/admin/spend", {"rows": [SPEND], "source": "meta.csv"})
        await post("/v1/admin/links", {"to": "https://shop.example/", "campaign": "spring"}, 201)
        engine = (await get("/v1/admin/status"))["store"].split(":")[0]
        assert engine == forwarding.store_url.split(":")[0], engine  # the engine asked for
        for path in ("/healthz", "/readyz", "/v1/admin/keys",
                     "/v1/admin/plan", "/v1/admin/links", "/v1/admin/outbox",
                     "/v1/admin/destinations", "/v1/qa/health", "/v1/qa/alerts",
                     "/v1/qa/modeled", "/v1/debug/events", "/v1/reports/attribution",
                     "/v1/admin/quarantine", "/openapi.json"):  # fmt: skip
            await get(path)
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # this hour is checked
        await get("/v1/qa/anomalies", hours="3", to=later)
        await get("/v1/reports/attribution", grain="day", compare="true", currency="EUR")
        for by in ("name", "category", "day"):
            assert (await get("/v1/reports/conversions", by=by))["rows"], by
        await get("/v1/admin/events", last="10")
        await get("/v1/admin/events", limit="10")
        await get("/v1/admin/outbox/show", id=ids["job"])
        reject = ids["reject_id"]
        await get("/v1/admin/quarantine/{reject_id}", f"/v1/admin/quarantine/{reject}")
        await get("/v1/privacy/export", anonymous_id="a1")
        await post("/v1/admin/sql", {"sql": "SELECT event_id, value FROM events", "limit": 1})
        await post("/v1/admin/plan/reload")
        await post("/v1/admin/quarantine/replay", {"ids": [reject], "dry_run": True})
        await post("/v1/admin/outbox/retry", {"destination": "webhook"})
        await post("/v1/admin/outbox/replay", {"destination": "webhook"})
        await post("/v1/admin/destinations/resume", {"name": "webhook"})
        await post("/v1/admin/identity/rebuild")
        await post("/v1/reports/attribution/credits")
        revoked = await post("/v1/admin/keys", {"name": "spare"})
        await post("/v1/admin/keys/revoke", {"key": revoked["key_id"]})
        await post("/v1/privacy/erase", {"anonymous_id": "gone"})
        purged = await post("/v1/admin/privacy/purge", {"dry_run": True})
        assert {"purged", "raw_ips"} <= set(purged), purged
        lake = str(app.settings.data_dir / "lake")
        assert (await post("/v1/admin/export", {"out": lake}))["written"]
        streamed = await client.post(
            "/v1/admin/export",
            json={"out": lake + "-streamed"},
            headers={**admin, "accept": "application/x-ndjson"},
        )
        assert streamed.headers["content-type"].startswith("application/x-ndjson")
        answer = check.doc["paths"]["/v1/admin/export"]["post"]["responses"]["200"]
        line_schema = answer["content"]["application/x-ndjson"]["schema"]
        lines = [json.loads(line) for line in streamed.text.splitlines()]
        for line in lines:
            check.validator(line_schema).validate(line)
        assert "progress" in lines[0] and lines[-1]["written"], lines
        sdk = await post("/v1/admin/keys", {"name": "sdk", "kind": "secret"})
        await ingest_protocols(client, check, sdk["key"])
        return check

    check = serve(scenario, forwarding)
    assert json_gets(check.doc) - check.called == set(NOT_CALLED), "call these GETs here"
    assert check.wanted - check.reached == set(NOT_REACHED), "seed data that reaches these"


def test_a_schema_that_does_not_match_fails() -> None:
    """The check is not vacuous: a missing key, an unlisted key or a wrong type fails."""
    doc: Doc = {
        "paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Row"}}}}}}}},
        "components": {"schemas": {"Row": {
            "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}},
    }  # fmt: skip
    check = Checker(doc)

    def answer(body: Any) -> httpx.Response:
        return httpx.Response(200, json=body)

    assert check.check("get", "/x", answer({"n": 1})) == {"n": 1}
    for wrong in ({}, {"n": 1, "extra": 2}, {"n": "1"}):
        with pytest.raises(ValidationError):
            check.check("get", "/x", answer(wrong))
