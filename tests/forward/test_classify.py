"""What each response means: delivered, retry (with Retry-After) or dead."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from convtrack.forward import HttpRequest, Outcome, get
from convtrack.forward.outcome import MAX_MESSAGE, retry_after
from convtrack.forward.transport import send
from forward.fakes import FakePlatform, error_body
from forward.samples import PLATFORMS, purchase

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def request_with_secret(secret: str) -> HttpRequest:
    return HttpRequest(
        "POST", f"https://x.test/?access_token={secret}", {}, b"{}", ("e1",), (secret,)
    )


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "delivered"), (400, "dead"), (401, "dead"), (403, "dead"), (404, "dead"),
     (422, "dead"), (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry")],
)  # fmt: skip
def test_status_policy_is_the_same_everywhere(platform: str, status: int, expected: str) -> None:
    body = b"{}" if status == 200 else error_body(platform, "nope", status)
    if platform == "tiktok" and status == 200:
        body = b'{"code":0,"message":"OK"}'
    outcome = get(platform).classify(status, {}, body)
    assert outcome.status == expected
    assert outcome.http_status == status


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert retry_after({"Retry-After": "120"}, NOW) == 120
    assert retry_after({"retry-after": "Sat, 14 Mar 2026 12:00:30 GMT"}, NOW) == 30
    assert retry_after({"Retry-After": "Sat, 14 Mar 2026 11:00:00 GMT"}, NOW) == 0
    assert retry_after({"Retry-After": "soon"}, NOW) is None
    assert retry_after({}, NOW) is None


def test_429_carries_retry_after() -> None:
    outcome = get("meta").classify(429, {"Retry-After": "7"}, b"{}")
    assert (outcome.status, outcome.retry_after) == ("retry", 7)


def test_dead_messages_are_the_platforms_own_words_short_and_without_secrets() -> None:
    secret = "EAAB-very-secret-token"
    body = error_body("meta", f"Invalid parameter near access_token={secret} " + "x" * 2000)
    outcome = get("meta").classify(400, {}, body, request_with_secret(secret))
    assert outcome.status == "dead"
    assert outcome.message.startswith("OAuthException 100 2804001: Invalid parameter")
    assert secret not in outcome.message
    assert len(outcome.message) <= MAX_MESSAGE


def test_google_status_model_reason_is_in_the_message() -> None:
    body = json.dumps(
        {"error": {"code": 400, "message": "bad hash", "status": "INVALID_ARGUMENT",
                   "details": [{"reason": "INVALID_SHA256_FORMAT"}]}}
    ).encode()  # fmt: skip
    outcome = get("google_dm").classify(400, {}, body)
    assert outcome.message == "INVALID_ARGUMENT INVALID_SHA256_FORMAT: bad hash"


def test_meta_transient_errors_are_retried() -> None:
    body = json.dumps({"error": {"message": "try later", "code": 2, "is_transient": True}})
    assert get("meta").classify(400, {}, body.encode()).status == "retry"


def test_ga4_debug_validation_messages_are_dead() -> None:
    message = {"fieldPath": "events", "description": "bad", "validationCode": "NAME_INVALID"}
    body = json.dumps({"validationMessages": [message]}).encode()
    outcome = get("ga4").classify(200, {}, body)
    assert outcome.status == "dead"
    assert "NAME_INVALID events: bad" in outcome.message
    assert get("ga4").classify(200, {}, b'{"validationMessages":[]}').delivered
    assert get("ga4").classify(204, {}, b"").delivered


def test_tiktok_non_zero_code_in_a_200_is_dead() -> None:
    outcome = get("tiktok").classify(200, {}, b'{"code":40002,"message":"invalid event"}')
    assert (outcome.status, outcome.message) == ("dead", "code 40002: invalid event")


def test_linkedin_reports_per_element_failures_as_rejected_events() -> None:
    request = HttpRequest("POST", "https://x.test", {}, b"{}", ("a", "b", "c"))
    body = b'{"elements":[{"status":201},{"status":400,"message":"bad urn"},{"status":201}]}'
    outcome = get("linkedin").classify(200, {}, body, request)
    assert outcome.status == "delivered"
    assert outcome.rejected == {"b": "status 400: bad urn"}


# -- over the network ------------------------------------------------------------------------
def send_one(fake: FakePlatform, timeout: float = 5.0) -> Outcome:
    destination = get("meta")
    config = destination.config_from_env(fake.env())
    (request,) = destination.build(
        [purchase("meta", datetime.now(UTC) - timedelta(hours=1))], config
    )

    async def run() -> Outcome:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await send(request, client, destination)

    return asyncio.run(run())


def test_5xx_then_success(fake_platform: Callable[[str], FakePlatform]) -> None:
    fake = fake_platform("meta")
    fake.fail_next(2, status=503)
    assert [send_one(fake).status for _ in range(3)] == ["retry", "retry", "delivered"]
    assert fake.received_event_ids() == ["evt-1"]


def test_429_with_retry_after_over_http(fake_platform: Callable[[str], FakePlatform]) -> None:
    fake = fake_platform("meta")
    fake.fail_next(status=429, retry_after="42")
    outcome = send_one(fake)
    assert (outcome.status, outcome.http_status, outcome.retry_after) == ("retry", 429, 42)


def test_permanent_400_with_platform_body(fake_platform: Callable[[str], FakePlatform]) -> None:
    fake = fake_platform("meta")
    fake.reject_next(message="Invalid OAuth access token.", status=401)
    outcome = send_one(fake)
    assert (outcome.status, outcome.http_status) == ("dead", 401)
    assert outcome.message == "OAuthException 190 2804001: Invalid OAuth access token."


def test_a_hanging_endpoint_times_out_as_retry(
    fake_platform: Callable[[str], FakePlatform],
) -> None:
    fake = fake_platform("meta")
    fake.hang_next()
    outcome = send_one(fake, timeout=0.2)
    assert outcome.status == "retry"
    assert outcome.http_status is None
    assert "Timeout" in outcome.message
    assert "fake-token" not in outcome.message


def test_refused_connection_is_retry_without_secrets() -> None:
    destination = get("meta")
    env = {"CONVTRACK_META_PIXEL_ID": "1", "CONVTRACK_META_ACCESS_TOKEN": "sekrit-123",
           "CONVTRACK_META_BASE_URL": "http://127.0.0.1:9"}  # fmt: skip
    config = destination.config_from_env(env)
    (request,) = destination.build([purchase("meta", datetime.now(UTC))], config)

    async def run() -> Outcome:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return await send(request, client, destination)

    outcome = asyncio.run(run())
    assert outcome.status == "retry"
    assert "sekrit-123" not in outcome.message


def test_mock_transport_can_stand_in_for_the_network() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, headers={"Retry-After": "3"})

    destination = get("tiktok")
    config = destination.config_from_env(
        {"CONVTRACK_TIKTOK_PIXEL_CODE": "C1", "CONVTRACK_TIKTOK_ACCESS_TOKEN": "t"}
    )
    (request,) = destination.build([purchase("tiktok", datetime.now(UTC))], config)

    async def run() -> Outcome:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await send(request, client, destination)

    outcome = asyncio.run(run())
    assert (outcome.status, outcome.retry_after) == ("retry", 3)
    assert seen[0].headers["Access-Token"] == "t"
