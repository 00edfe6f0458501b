"""Delivery workers over a real DuckDB store and the spec-checking fake platforms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from convtrack.config import load_settings
from convtrack.errors import ConfigError
from convtrack.events import Consent, Event
from convtrack.forward import get
from convtrack.forward.enabled import Enabled, configure
from convtrack.forward.policy import RetryPolicy, WorkerOptions
from convtrack.forward.routing import Router
from convtrack.forward.worker import DestinationWorker, Forwarder
from convtrack.plan import load_configured_plan
from convtrack.store import EventStore, open_store
from forward.fakes import FakePlatform
from forward.outbox_helpers import assert_no_raw_pii, dedup_key, stored_purchase

FAST = WorkerOptions(
    retry=RetryPolicy(base=0.01, max=0.02, max_attempts=4),
    claim_limit=100,
    poll=0.01,
    lease=60,
    timeout=5,
    pause_after_failures=0,
)
ALL = ("meta", "ga4", "webhook")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with open_store(f"duckdb://{tmp_path / 'outbox.duckdb'}") as opened:
        opened.migrate()
        yield opened


def enabled(fake: FakePlatform) -> Enabled:
    destination = get(fake.platform)
    return Enabled(destination, destination.config_from_env(fake.env()))


def routed(*events: Event, names: tuple[str, ...] = ALL) -> list[Event]:
    plan = load_configured_plan("")
    Router({n: get(n) for n in names}).route(events, plan)
    return list(events)


def step(store: EventStore, fake: FakePlatform, options: WorkerOptions = FAST) -> bool:
    async def run() -> bool:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await DestinationWorker(store, enabled(fake), options, client).step()

    return asyncio.run(run())


def jobs(store: EventStore, destination: str) -> dict[str, dict[str, Any]]:
    return {j["event_id"]: j for j in store.list_jobs(None, destination, 10_000)}


def test_each_conversion_reaches_each_destination_once_without_raw_pii(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    fakes = {name: fake_platform(name) for name in ALL}
    ids = [f"buy-{i}" for i in range(30)]
    store.append(routed(*(stored_purchase(i) for i in ids)))

    async def drain() -> None:
        forwarder = Forwarder(store, {n: enabled(f) for n, f in fakes.items()}, FAST)
        await forwarder.drain()

    asyncio.run(drain())
    for name, fake in fakes.items():
        assert fake.errors == [], (name, fake.errors)
        assert sorted(fake.received_event_ids()) == sorted(dedup_key(name, i) for i in ids)
        assert {j["status"] for j in jobs(store, name).values()} == {"delivered"}, name
        assert_no_raw_pii(fake.bodies())
    log = store.show_jobs("buy-0")["log"]
    assert sorted((r["destination"], r["outcome"]) for r in log) == [
        ("ga4", "delivered"),
        ("meta", "delivered"),
        ("webhook", "delivered"),
    ]
    assert not step(store, fakes["meta"])  # nothing left: a delivered job is never claimed


def test_429_with_retry_after_waits_at_least_that_long(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    meta = fake_platform("meta")
    meta.fail_next(1, status=429, retry_after="120")
    store.append(routed(stored_purchase("slow"), names=("meta",)))
    before = datetime.now(UTC)
    assert step(store, meta)
    job = jobs(store, "meta")["slow"]
    assert job["status"] == "pending" and job["attempts"] == 1
    assert job["next_attempt_at"] >= before + timedelta(seconds=120)
    (attempt,) = store.show_jobs("slow:meta")["log"]
    assert (attempt["outcome"], attempt["http_status"]) == ("retry", 429)
    assert not step(store, meta)  # not due yet
    assert meta.received_event_ids() == []


def test_a_permanent_400_is_a_dead_letter_and_replay_delivers_it_once(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    meta = fake_platform("meta")
    meta.reject_next(1, message="Invalid parameter: pixel not set up")
    store.append(routed(stored_purchase("refused"), stored_purchase("fine"), names=("meta",)))
    assert step(store, meta)
    job = jobs(store, "meta")["refused"]
    assert job["status"] == "dead"
    assert "Invalid parameter: pixel not set up" in job["last_error"]
    assert meta.received_event_ids() == []  # one request carried both: both are dead

    # "fixed" (the fake now accepts): replay the dead letters, then deliver
    assert store.replay_jobs(None, "meta", datetime.now(UTC)) == 2
    assert step(store, meta)
    assert sorted(meta.received_event_ids()) == ["fine", "refused"]
    assert store.replay_jobs(None, "meta", datetime.now(UTC)) == 0  # nothing dead is left
    assert not step(store, meta)
    assert sorted(meta.received_event_ids()) == ["fine", "refused"]


def test_events_older_than_the_platform_limit_are_dead_without_a_request(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    meta = fake_platform("meta")
    store.append(routed(stored_purchase("old", age=timedelta(days=8)), names=("meta",)))
    assert step(store, meta)
    job = jobs(store, "meta")["old"]
    assert job["status"] == "dead" and "older than the meta limit" in job["last_error"]
    assert meta.requests == []


def test_a_job_that_keeps_failing_is_a_dead_letter_after_max_attempts(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    webhook = fake_platform("webhook")
    webhook.fail_next(10, status=503)
    store.append(routed(stored_purchase("doomed"), names=("webhook",)))
    while step(store, webhook) or jobs(store, "webhook")["doomed"]["status"] == "pending":
        pass  # retries are due within FAST's 20 ms ceiling
    job = jobs(store, "webhook")["doomed"]
    assert job["status"] == "dead" and job["attempts"] == FAST.retry.max_attempts
    assert job["last_error"].startswith("gave up after 4 attempts")
    assert len(store.show_jobs("doomed")["log"]) == 4


def test_sustained_failure_pauses_the_destination_until_resumed(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    meta = fake_platform("meta")
    meta.fail_next(2, status=503)
    store.append(routed(stored_purchase("p1"), names=("meta",)))
    options = WorkerOptions(
        retry=RetryPolicy(base=0.01, max=0.01, max_attempts=10),
        poll=0.01,
        pause_after_failures=2,
        pause_after=timedelta(0),
    )

    async def run() -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            worker = DestinationWorker(store, enabled(meta), options, client)
            while await worker.step() or jobs(store, "meta")["p1"]["attempts"] < 2:
                await asyncio.sleep(0.01)

    asyncio.run(run())
    state = store.outbox_stats()["meta"]
    assert state["paused_at"] is not None and "2 failed requests in a row" in state["reason"]
    assert not step(store, meta, options)  # paused: nothing is claimed
    assert store.resume_destination("meta", datetime.now(UTC)) == 1
    assert step(store, meta, options)
    assert meta.received_event_ids() == ["p1"]


def test_consent_gates_each_destination_at_routing() -> None:
    denied_ads = stored_purchase("c1", consent=Consent(ad_user_data="denied"))
    denied_analytics = stored_purchase("c2", consent=Consent(analytics_storage="denied"))
    decided = stored_purchase("c3", consent_decision={"destinations": ["ga4", "webhook"]})
    not_a_conversion = stored_purchase("c4")
    not_a_conversion.event_name = "page_view"
    routed(denied_ads, denied_analytics, decided, not_a_conversion)
    names = {e.event_id: sorted(d[0] for d in e.deliveries) for e in
             (denied_ads, denied_analytics, decided, not_a_conversion)}  # fmt: skip
    assert names == {
        "c1": ["ga4", "webhook"],
        "c2": ["meta", "webhook"],
        "c3": ["ga4", "webhook"],
        "c4": [],
    }
    assert ("meta", "purchase", "Purchase") in denied_analytics.deliveries


def test_an_erased_event_is_a_dead_letter(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    webhook = fake_platform("webhook")
    store.append(routed(stored_purchase("gone"), names=("webhook",)))
    store.purge_before(datetime.now(UTC) + timedelta(days=1))
    assert step(store, webhook)
    job = jobs(store, "webhook")["gone"]
    assert job["status"] == "dead" and "no longer stored" in job["last_error"]


def test_enabled_destinations_are_checked_at_start_up() -> None:
    env = {"CONVTRACK_DESTINATIONS": "meta,webhook", "CONVTRACK_META_PIXEL_ID": "1"}
    settings = load_settings(env=env)
    with pytest.raises(ConfigError, match="CONVTRACK_META_ACCESS_TOKEN"):
        configure(settings, env)
    with pytest.raises(ConfigError, match="unknown nosuch"):
        configure(load_settings(env={"CONVTRACK_DESTINATIONS": "nosuch"}), {})
    assert configure(load_settings(env={}), {}) == {}  # nothing listed: nothing enabled


def test_requests_sent_before_a_build_failure_are_recorded(
    store: EventStore, fake_platform: Callable[[str], FakePlatform]
) -> None:
    """Each request goes out as soon as it is built: if building a later one fails, those
    already sent are still recorded as delivered and the round fails as before."""
    fake = fake_platform("webhook")
    webhook = get("webhook")
    first = type(webhook).build_batch

    class BreaksOnSecond(type(webhook)):  # type: ignore[misc]
        def build_batch(self, events: Any, config: Any) -> Any:
            if events[0].event_id != "a":
                raise RuntimeError("boom")
            return first(self, events, config)

    store.append(routed(stored_purchase("a"), stored_purchase("b"), names=("webhook",)))
    config = webhook.config_from_env({**fake.env(), "CONVTRACK_WEBHOOK_MAX_BATCH": "1"})

    async def run() -> bool:
        async with httpx.AsyncClient(trust_env=False) as client:
            worker = DestinationWorker(store, Enabled(BreaksOnSecond(), config), FAST, client)
            return await worker.step()

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(run())
    found = jobs(store, "webhook")
    assert found["a"]["status"] == "delivered"
    assert found["b"]["status"] == "inflight"  # back when its lease runs out, as before
