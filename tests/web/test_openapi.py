"""``GET /openapi.json``: a valid OpenAPI 3.1 document of every route, public and secret-free.

The document is checked against the running app both ways: every route the server has is in
it (and described), every documented operation is served with its method and its security,
and the schemas say what the handlers do (the event examples are accepted, events the
``EventIn`` schema refuses are refused, real answers fit the answer schemas).
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from convtrack.collect.segment import segment_paths
from convtrack.config import Settings
from convtrack.events import EventIn
from convtrack.server import App
from convtrack.web.openapi import REF, served_paths
from convtrack.web.openapi_catalogue import catalogue

ROOT = Path(__file__).resolve().parents[2]
Headers = Callable[[], dict[str, str]]
ErrorShape = Callable[[httpx.Response, int, str], dict[str, Any]]
UNROUTED = ("No such endpoint", "No admin endpoint")  # the dispatchers' 404 messages
SAMPLE = {"link_id": "nosuchlink", "reject_id": "nosuchreject"}  # path template values


def get_document(serve: Callable[..., Any]) -> tuple[dict[str, Any], App]:
    async def scenario(client: httpx.AsyncClient, app: App) -> tuple[dict[str, Any], App]:
        response = await client.get("/openapi.json")
        assert response.status_code == 200, response.text
        return response.json(), app

    result: tuple[dict[str, Any], App] = serve(scenario)
    return result


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema validator of ``schema`` whose ``$ref``s resolve inside ``doc``."""
    return Draft202012Validator(
        {**schema, "components": doc["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def component(doc: dict[str, Any], name: str) -> Draft202012Validator:
    return validator(doc, {"$ref": REF.format(name=name)})


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLE[m[1]], path)


def events_body_schema(doc: dict[str, Any]) -> dict[str, Any]:
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    return dict(body)


def test_the_document_is_valid_openapi_3_1(serve: Callable[..., Any]) -> None:
    doc, _ = get_document(serve)
    assert doc["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(doc).validate()  # raises on the first problem
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))


def test_every_route_is_in_the_document_and_described(serve: Callable[..., Any]) -> None:
    doc, app = get_document(serve)
    assert app.runtime is not None and app._admin is not None
    documented = {(p, m) for p, m, _ in operations(doc)}
    for path in app.runtime.routes:  # the raw table, /c/ (click links) as its template
        assert (path if path != "/c/" else "/c/{link_id}") in doc["paths"], path
    for method, path in app._admin.routes():
        assert (path, method.lower()) in documented, (method, path)
    assert set(doc["paths"]) == set(served_paths(app.runtime.routes, app._admin))
    undescribed = [(p, m) for p, m, op in operations(doc) if op.get("x-undocumented")]
    assert undescribed == [], "describe these in web/openapi_catalogue.py"
    described = {(p, m) for p, ops in catalogue().items() for m in ops}
    assert described - documented == set(), "described but not served: remove or route them"
    for ops in catalogue().values():  # each description names a page that exists
        for op in ops.values():
            assert (ROOT / op.docs.split("#")[0]).is_file(), op


BARE_ANSWERS = {("get", "/openapi.json")}  # JSON answers described only as "an object"


def test_every_json_get_answer_is_described(serve: Callable[..., Any]) -> None:
    """No read endpoint answers a bare JSON object in the document: each names its schema
    (tests/web/test_openapi_answers.py checks the schemas against real answers)."""
    doc, _ = get_document(serve)
    bare = set()
    for path, method, op in operations(doc):
        for answer in op["responses"].values():
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            if method == "get" and schema == {"type": "object"}:
                bare.add((method, path))
    assert bare == BARE_ANSWERS


def test_every_documented_operation_is_served_with_its_method(
    serve: Callable[..., Any], admin_headers: Headers
) -> None:
    """Each documented method on each documented path reaches a handler that takes it."""

    async def scenario(client: httpx.AsyncClient, app: App) -> list[str]:
        doc = (await client.get("/openapi.json")).json()
        wrong = []
        for path, method, _ in operations(doc):
            response = await client.request(
                method.upper(), concrete(path), headers=admin_headers(), content=b""
            )
            message = ""
            if response.headers.get("content-type", "").startswith("application/json"):
                message = str(response.json().get("error", {}).get("message", ""))
            if response.status_code == 405 or message.startswith(UNROUTED):
                wrong.append(f"{method.upper()} {path}: {response.status_code} {message}")
        return wrong

    assert serve(scenario) == []


# A body read before the key (which it may hold): a Snowplow envelope with no app id.
KEYLESS_BODIES = {
    "/com.snowplowanalytics.snowplow/tp2": b'{"schema": "iglu:com.snowplowanalytics.snowplow/'
    b'payload_data/jsonschema/1-0-4", "data": [{"e": "pv"}]}',
}


def test_documented_security_is_enforced(serve: Callable[..., Any]) -> None:
    """Without credentials, every operation that names a security scheme is refused (a page
    sends the browser to sign in); the pixels answer their GIF whatever happens."""

    async def scenario(client: httpx.AsyncClient, app: App) -> list[str]:
        doc = (await client.get("/openapi.json")).json()
        let_in = []
        for path, method, op in operations(doc):
            answers = op["responses"].values()
            if not op["security"] or any("image/gif" in a.get("content", {}) for a in answers):
                continue
            body = KEYLESS_BODIES.get(path, b"{}" if method == "post" else b"")
            response = await client.request(method.upper(), concrete(path), content=body)
            if response.status_code not in (401, 403, 303):
                let_in.append(f"{method.upper()} {path}: {response.status_code}")
        return let_in

    assert serve(scenario) == []


def test_the_eventin_schema_is_generated_from_the_struct(serve: Callable[..., Any]) -> None:
    doc, _ = get_document(serve)
    schema = doc["components"]["schemas"]["EventIn"]
    fields = {f.encode_name for f in msgspec.structs.fields(EventIn)}
    assert set(schema["properties"]) == fields  # a field removed from EventIn is gone here
    assert schema["additionalProperties"] is False  # forbid_unknown_fields: typos are errors
    _, generated = msgspec.json.schema_components([EventIn], ref_template=REF)
    for name, part in generated.items():
        assert doc["components"]["schemas"][name] == part, name


BAD_EVENTS = [
    {"event_name": "signup", "currency": "EURO"},
    {"event_name": 5},
    {"event_name": ""},
    {"event_name": "signup", "type": "click"},
    {"event_name": "signup", "colour": "red"},
    {"event_name": "signup", "value": "12"},
]


def test_the_examples_and_the_schema_agree_with_post_v1_events(
    serve: Callable[..., Any], admin_headers: Headers, error_shape: ErrorShape
) -> None:
    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        doc = (await client.get("/openapi.json")).json()
        body = events_body_schema(doc)
        check = validator(doc, body["schema"])
        created = await client.post(
            "/v1/admin/keys", json={"name": "web", "kind": "public"}, headers=admin_headers()
        )
        key = {"authorization": f"Bearer {created.json()['key']}"}
        answer = component(doc, "EventsAnswer")
        assert set(body["examples"]) == {"event", "batch"}
        for example in body["examples"].values():
            value = example["value"]
            check.validate(value)
            response = await client.post("/v1/events", json=value, headers=key)
            assert response.status_code == 200, response.text
            result = response.json()
            answer.validate(result)
            assert result["accepted"] == len(value.get("events", [value])), result
            assert result["rejected"] == 0, result
        for bad in BAD_EVENTS:
            assert not check.is_valid(bad), bad
            response = await client.post("/v1/events", json=bad, headers=key)
            error = error_shape(response, 422, "no_valid_events")
            component(doc, "Error").validate(response.json())
            assert error["details"], error

    serve(scenario)


def test_openapi_json_is_public_cached_and_holds_no_secret(
    settings: Settings, serve: Callable[..., Any], admin_headers: Headers
) -> None:
    secret = "dashboard-secret-for-the-openapi-test"
    with_secret = dataclasses.replace(settings, dashboard_secret=secret)

    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        made = []
        for kind in ("public", "secret"):
            response = await client.post(
                "/v1/admin/keys", json={"name": kind, "kind": kind}, headers=admin_headers()
            )
            made.append(response.json()["key"])
        first = await client.get("/openapi.json")  # no Authorization, no cookie
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        again = await client.get("/openapi.json")
        assert again.content == first.content  # built once, served from the cached bytes
        text = first.text
        token = admin_headers()["authorization"].removeprefix("Bearer ")
        for value in (token, secret, *made):
            assert value not in text
        assert (await client.post("/openapi.json")).status_code == 405
        head = await client.head("/openapi.json")
        assert head.status_code == 200 and head.content == b""
        # the simple answers fit their schemas
        doc = first.json()
        component(doc, "Healthy").validate((await client.get("/healthz")).json())
        component(doc, "Ready").validate((await client.get("/readyz")).json())
        component(doc, "Error").validate((await client.get("/v1/nope")).json())
        signed_in = await client.post("/signin", data={"secret": secret})
        assert signed_in.status_code == 303, signed_in.text
        session = await client.get("/v1/dashboard/session")
        component(doc, "SessionInfo").validate(session.json())

    serve(scenario, with_secret)


def test_the_segment_paths_describe_the_credentials_they_take(
    serve: Callable[..., Any], admin_headers: Headers
) -> None:
    """The Segment paths read the write key as the HTTP Basic user or as ``writeKey`` in the
    body, never as a Bearer token (an OAuth token to Segment): the document says just that,
    and each way it describes opens them."""

    async def scenario(client: httpx.AsyncClient, app: App) -> None:
        doc = (await client.get("/openapi.json")).json()
        schemes = doc["components"]["securitySchemes"]
        assert schemes["writeKeyBasic"] == {**schemes["writeKeyBasic"], "type": "http",
                                            "scheme": "basic"}  # fmt: skip
        for path in segment_paths():
            op = doc["paths"][path]["post"]
            assert op["security"] == [{"writeKeyBasic": []}], path
            body = op["requestBody"]["content"]["application/json"]["schema"]
            key_field = component_schema(doc, body)["properties"]["writeKey"]
            assert key_field["type"] == "string", path
        made = await client.post(
            "/v1/admin/keys", json={"name": "sdk", "kind": "secret"}, headers=admin_headers()
        )
        key = made.json()["key"]
        answer = component(doc, "SegmentAnswer")
        message = {"type": "page", "name": "Home", "anonymousId": "a1"}
        as_basic = await client.post("/v1/batch", json={"batch": [message]}, auth=(key, ""))
        in_body = {"batch": [{**message, "messageId": "m2"}], "writeKey": key}
        schema = doc["paths"]["/v1/batch"]["post"]["requestBody"]["content"]["application/json"]
        validator(doc, schema["schema"]).validate(in_body)
        oauth = {"authorization": "Bearer an-oauth-token"}  # beside it: ignored
        with_oauth = await client.post("/v1/batch", json=in_body, headers=oauth)
        for response in (as_basic, with_oauth):
            assert response.status_code == 200, response.text
            answer.validate(response.json())
            assert response.json()["accepted"] == 1, response.text
        bearer = {"authorization": f"Bearer {key}"}  # not a way in, so not described
        refused = await client.post("/v1/batch", json={"batch": [message]}, headers=bearer)
        assert refused.status_code == 401, refused.text
        component(doc, "Error").validate(refused.json())

    serve(scenario)


def component_schema(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def error_answers(op: dict[str, Any]) -> dict[int, str]:
    """The documented error statuses of ``op``: status → the component answer it names."""
    return {
        int(status): answer["$ref"].rsplit("/", 1)[1]
        for status, answer in op["responses"].items()
        if status != "default" and int(status) >= 400
    }


def test_each_operation_lists_its_error_answers_in_the_one_shape(
    serve: Callable[..., Any],
) -> None:
    """Every listed error status is a shared answer of the one error shape; an operation with
    security lists 401 (a page excepted: it redirects to sign in)."""
    doc, _ = get_document(serve)
    answers = doc["components"]["responses"]
    for path, method, op in operations(doc):
        errors = error_answers(op)
        for status, name in errors.items():
            assert name.startswith(f"Error{status}"), (path, method, status)
            content = answers[name]["content"]["application/json"]["schema"]
            assert content == {"$ref": REF.format(name="Error")}, name
        media = {kind for answer in op["responses"].values() for kind in answer.get("content", {})}
        page = method == "get" and "text/html" in media
        pixel = "image/gif" in media and not errors
        if op["security"] and not page and not pixel:
            assert 401 in errors, (path, method)
    assert "Retry-After" in answers["Error503"]["headers"]


def opening(op: dict[str, Any], key: str, admin: dict[str, str]) -> dict[str, str]:
    """Headers that open ``op``: the secret ``key`` as its write-key scheme wants it, else
    the admin token (it opens every other operation but the session-only ones)."""
    schemes = {name for option in op["security"] for name in option}
    if schemes == {"writeKeyBasic"}:
        return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    if schemes & {"writeKey", "writeKeyQuery"}:
        return {"authorization": f"Bearer {key}"}
    return admin


def test_the_documented_405_and_415_answers_are_the_real_ones(
    serve: Callable[..., Any], admin_headers: Headers
) -> None:
    """Another method is refused with 405 where the document says so, with ``Allow`` naming
    the path's methods; a body that is not JSON (nor gzip) is
    refused with 415 by every operation that lists 415."""

    async def scenario(client: httpx.AsyncClient, app: App) -> list[str]:
        doc = (await client.get("/openapi.json")).json()
        made = await client.post(
            "/v1/admin/keys", json={"name": "srv", "kind": "secret"}, headers=admin_headers()
        )
        key = made.json()["key"]
        wrong = []
        for path, method, op in operations(doc):
            errors = error_answers(op)
            auth = opening(op, key, admin_headers())
            if 405 in errors:
                response = await client.put(concrete(path), headers=auth, content=b"{}")
                allow = response.headers.get("allow")
                if response.status_code != 405 or not allow:
                    wrong.append(f"PUT {path}: {response.status_code} Allow: {allow}")
                elif allow and not {m.upper() for m in doc["paths"][path]} <= set(
                    allow.split(", ")
                ):
                    wrong.append(f"PUT {path}: Allow: {allow}")
            if 415 in errors:
                odd = {**auth, "content-type": "application/xml", "content-encoding": "br"}
                response = await client.request(
                    method.upper(), concrete(path), headers=odd, content=b"{}"
                )
                if response.status_code != 415:
                    wrong.append(f"{method.upper()} {path}: {response.status_code} not 415")
        return wrong

    assert serve(scenario) == []
