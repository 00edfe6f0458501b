"""Bad requests get the documented 4xx in the one error shape, and hurt nothing.

After every case the server still answers /healthz and /readyz, and every event it
acknowledged before (in this whole session) is still stored exactly once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

MB = 1_048_576


def minimal(n: int) -> bytes:
    return json.dumps({"events": [{"event_name": "x", "anonymous_id": "a"}] * n}).encode()


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def oversized_body() -> bytes:
    event = {"event_name": "x", "anonymous_id": "a", "properties": {"pad": "x" * 4000}}
    body = json.dumps({"events": [event] * 300}).encode()
    assert len(body) > MB
    return body


def post(**kw: Any) -> Callable[[Any], httpx.Response]:
    return lambda s: s.post_events(**kw)


def raw(method: str, path: str, **kw: Any) -> Callable[[Any], httpx.Response]:
    return lambda s: s.http.request(method, s.url + path, **kw)


def chunked_oversized(s: Any) -> httpx.Response:
    """No content-length: the limit must hold while the body streams in."""
    return s.http.post(
        s.url + "/v1/events",
        content=chunks(oversized_body()),
        headers={"authorization": f"Bearer {s.secret_key}", "content-type": "text/plain"},
    )


DEEP_PROPS = b'{"event_name":"x","anonymous_id":"a","properties":' + b'{"a":' * 100_000
DEEP_PROPS += b"1" + b"}" * 100_001
DEEP_IN_BATCH = b'{"events":[{"event_name":"x","anonymous_id":"a","properties":{"a":'
DEEP_IN_BATCH += b"[" * 100_000 + b"]" * 100_000 + b"}}]}"

CASES: dict[str, tuple[Callable[[Any], httpx.Response], int, str]] = {
    "truncated json": (post(content=b'{"event_name": "x",'), 400, "malformed_json"),
    "not json": (post(content=b"event_name=x"), 400, "malformed_json"),
    "empty body": (post(content=b""), 400, "malformed_json"),
    "type error then truncated": (post(content=b'{"event_name": 5, '), 400, "malformed_json"),
    "100k open brackets": (post(content=b"[" * 100_000), 400, "malformed_json"),
    "100k nested objects in properties": (post(content=DEEP_PROPS), 400, "malformed_json"),
    "100k nested arrays in a batch": (post(content=DEEP_IN_BATCH), 400, "malformed_json"),
    "invalid utf-8 in a string": (
        post(content=b'{"event_name": "caf\xe9", "anonymous_id": "a"}'),
        400,
        "invalid_utf8",
    ),
    "invalid utf-8 in a batch": (
        post(content=b'{"events": [{"event_name": "\xff\xfe", "anonymous_id": "a"}]}'),
        400,
        "invalid_utf8",
    ),
    "wrong types": (
        post(body={"events": [{"event_name": 5, "anonymous_id": "a"}, {"value": []}]}),
        422,
        "no_valid_events",
    ),
    "events is not a list": (post(body={"events": {"event_name": "x"}}), 422, "invalid_batch"),
    "body over 1 MB": (post(content=oversized_body()), 413, "payload_too_large"),
    "chunked body over 1 MB": (chunked_oversized, 413, "payload_too_large"),
    "1001 events": (post(content=minimal(1001)), 413, "too_many_events"),
    "no key": (
        post(body={"event_name": "x", "anonymous_id": "a"}, auth="none"),
        401,
        "missing_key",
    ),
    "unknown bearer key": (
        post(body={"event_name": "x", "anonymous_id": "a"}, key="ctk_sec_nope"),
        401,
        "invalid_key",
    ),
    "unknown basic key": (
        post(body={"event_name": "x", "anonymous_id": "a"}, key="ctk_pub_nope", auth="basic"),
        401,
        "invalid_key",
    ),
    "unknown url key": (
        post(body={"event_name": "x", "anonymous_id": "a"}, key="ctk_pub_nope", auth="url"),
        401,
        "invalid_key",
    ),
    "form content type": (
        post(content=b"event_name=x", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    ),
    "xml content type": (
        post(content=b"<event/>", content_type="application/xml"),
        415,
        "unsupported_media_type",
    ),
    "unknown path": (raw("GET", "/nope"), 404, "not_found"),
    "post to a typo": (raw("POST", "/v1/event", content=b"{}"), 404, "not_found"),
    "GET events": (raw("GET", "/v1/events"), 405, "method_not_allowed"),
    "PUT events": (raw("PUT", "/v1/events", content=b"{}"), 405, "method_not_allowed"),
    "DELETE events": (raw("DELETE", "/v1/events"), 405, "method_not_allowed"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_gets_documented_error_and_hurts_nothing(server, case):
    send, status, code = CASES[case]
    before = server.sql("SELECT count(*) AS n FROM events")[0]["n"]
    server.expect_error(send(server), status, code)
    server.assert_intact()
    assert server.sql("SELECT count(*) AS n FROM events")[0]["n"] == before
    server.ingest([server.event()])  # and it still takes events


def test_wrong_types_give_details_per_event(server):
    body = {"events": [{"event_name": 5, "anonymous_id": "a"}, {"anonymous_id": "a", "value": []}]}
    error = server.expect_error(server.post_events(body), 422, "no_valid_events")
    assert error["details"] == [
        {"index": 0, "path": "/event_name", "reason": "Expected `str | null`, got `int`"},
        {"index": 1, "path": "/value", "reason": "Expected `float | null`, got `array`"},
    ]


def test_deeply_nested_properties_are_rejected_with_a_reason(server):
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(10):
        deep = {"k": deep}
    event = server.event(properties=deep)
    error = server.expect_error(server.post_events(event), 422, "no_valid_events")
    assert error["details"][0]["path"] == "/properties"
    assert "nested deeper than 5 levels" in error["details"][0]["reason"]
    server.assert_intact()


def test_too_large_body_message_says_what_to_do(server):
    error = server.expect_error(
        server.post_events(content=oversized_body()), 413, "payload_too_large"
    )
    assert "1048576" in error["message"] and "split" in error["message"]


def test_connection_is_closed_after_an_unread_body(server):
    """A 413 leaves body bytes unread: the server says `connection: close`, so a client does
    not send its next request on a connection that is about to be dropped."""
    for _ in range(20):
        for response in (server.post_events(content=oversized_body()), chunked_oversized(server)):
            server.expect_error(response, 413, "payload_too_large")
            assert response.headers["connection"] == "close"
            assert server.get("/healthz").status_code == 200  # on the same client


def test_malformed_basic_auth_is_missing_key(server):
    response = server.post_events(
        {"event_name": "x", "anonymous_id": "a"},
        auth="none",
        headers={"authorization": "Basic !!!not-base64!!!"},
    )
    server.expect_error(response, 401, "missing_key")
    basic = "Basic " + base64.b64encode(b":").decode()  # empty user
    response = server.post_events(auth="none", body={}, headers={"authorization": basic})
    server.expect_error(response, 401, "missing_key")
    server.assert_intact()


def test_revoked_key_stops_working_at_once(server):
    key = server.create_key("e2e-revoke-me")
    event = server.event()
    server.ingest([event], key=key, auth="url")
    listed = server.cli("keys", "revoke", "e2e-revoke-me")
    assert "revoked" in listed.stdout
    for auth in ("bearer", "basic", "url"):
        response = server.post_events(server.event(), key=key, auth=auth)
        server.expect_error(response, 401, "invalid_key")
    # The pixel drops its hits (still a GIF), and events it sent before are kept.
    anon = server.new_id("revoked-pixel")
    server.pixel({"k": key, "e": "signup", "a": anon})
    server.flush()
    assert server.sql(f"SELECT * FROM events WHERE anonymous_id = '{anon}'") == []  # noqa: S608
    server.assert_intact()
