"""Every destination's requests pass its fake's spec checks over real HTTP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from convtrack.forward import Outcome, get
from convtrack.forward.transport import send
from forward.fakes import FakePlatform
from forward.samples import PLATFORMS, dedupe_key, purchase


async def deliver_all(platform: str, fake: FakePlatform, events: list) -> list[Outcome]:
    destination = get(platform)
    config = destination.config_from_env(fake.env())
    async with httpx.AsyncClient(timeout=5.0) as client:
        return [await send(r, client, destination) for r in destination.build(events, config)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_requests_pass_the_platform_fake(
    platform: str, fake_platform: Callable[[str], FakePlatform]
) -> None:
    fake = fake_platform(platform)
    recent = datetime.now(UTC) - timedelta(hours=1)
    events = [purchase(platform, recent, index=i) for i in range(1, 4)]

    outcomes = asyncio.run(deliver_all(platform, fake, events))

    assert fake.errors == []
    assert all(o.status == "delivered" and not o.rejected for o in outcomes), outcomes
    assert all(o.latency is not None and o.latency >= 0 for o in outcomes)
    assert fake.received_event_ids() == [dedupe_key(platform, e) for e in events]


@pytest.mark.parametrize("platform", ["meta", "google_dm", "ga4", "tiktok", "pinterest"])
def test_test_request_is_accepted_and_records_nothing(
    platform: str, fake_platform: Callable[[str], FakePlatform]
) -> None:
    fake = fake_platform(platform)
    destination = get(platform)
    config = destination.config_from_env(fake.env(TEST_EVENT_CODE="TEST123"))

    async def run() -> Outcome:
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await send(destination.test_request(config), client, destination)

    outcome = asyncio.run(run())

    assert outcome.status == "delivered", outcome
    assert fake.errors == []
    assert fake.received_event_ids() == []
    assert len(fake.requests) == 1


def test_a_request_that_breaks_the_spec_is_dead_with_the_platform_message(
    fake_platform: Callable[[str], FakePlatform],
) -> None:
    fake = fake_platform("meta")
    too_old = datetime.now(UTC) - timedelta(days=6, hours=23, minutes=59)
    event = purchase("meta", too_old)
    destination = get("meta")
    config = destination.config_from_env(fake.env(ACCESS_TOKEN="wrong-token-xyz"))

    async def run() -> Outcome:
        async with httpx.AsyncClient(timeout=5.0) as client:
            (request,) = destination.build([event], config)
            return await send(request, client, destination)

    outcome = asyncio.run(run())

    assert outcome.status == "dead"
    assert outcome.http_status == 400
    assert "access_token missing or wrong" in outcome.message
    assert "wrong-token-xyz" not in outcome.message
    assert fake.received_event_ids() == []
