"""Requests never carry more events than the platform allows."""

from __future__ import annotations

import pytest

from convtrack.forward import get
from forward.samples import FIXED, FIXED_NOW, PLATFORMS, purchase
from forward.test_snapshots import env_for


@pytest.mark.parametrize("platform", [p for p in PLATFORMS if p != "webhook"])
def test_batches_split_at_max_batch(platform: str) -> None:
    destination = get(platform)
    config = destination.config_from_env(env_for(platform))
    count = destination.max_batch * 2 + 1
    events = [purchase(platform, FIXED, index=i) for i in range(count)]

    requests = destination.build(events, config, now=FIXED_NOW)

    assert [len(r.event_ids) for r in requests] == [destination.max_batch] * 2 + [1]
    assert [i for r in requests for i in r.event_ids] == [e.event_id for e in events]


def test_documented_platform_limits() -> None:
    limits = {name: get(name).max_batch for name in PLATFORMS if name != "webhook"}
    assert limits == {
        "meta": 1000,
        "google_dm": 2000,
        "ga4": 25,
        "tiktok": 1000,
        "linkedin": 5000,
        "snapchat": 2000,
        "pinterest": 1000,
        "reddit": 1000,
    }


def test_ga4_puts_one_client_and_one_timestamp_in_a_request() -> None:
    destination = get("ga4")
    config = destination.config_from_env(env_for("ga4"))
    a = purchase("ga4", FIXED, index=1, anonymous_id="111.1")
    b = purchase("ga4", FIXED, index=2, anonymous_id="222.2")
    c = purchase("ga4", FIXED, index=3, anonymous_id="111.1")

    requests = destination.build([a, b, c], config, now=FIXED_NOW)

    assert [r.event_ids for r in requests] == [("evt-1", "evt-3"), ("evt-2",)]
    assert [r.json()["client_id"] for r in requests] == ["111.1", "222.2"]


def test_tiktok_groups_by_event_source() -> None:
    destination = get("tiktok")
    config = destination.config_from_env(env_for("tiktok"))
    events = [purchase("tiktok", FIXED, index=1), purchase("tiktok", FIXED, index=2, source="app")]
    requests = destination.build(events, config, now=FIXED_NOW)
    assert [r.json()["event_source"] for r in requests] == ["web", "app"]


def test_webhook_batch_size_comes_from_the_environment() -> None:
    destination = get("webhook")
    config = destination.config_from_env(env_for("webhook") | {"CONVTRACK_WEBHOOK_MAX_BATCH": "2"})
    events = [purchase("webhook", FIXED, index=i) for i in range(5)]
    assert [len(r.event_ids) for r in destination.build(events, config)] == [2, 2, 1]


def test_google_sends_one_conversion_action_per_request() -> None:
    destination = get("google_dm")
    config = destination.config_from_env(env_for("google_dm"))
    events = [
        purchase("google_dm", FIXED, index=1),
        purchase("google_dm", FIXED, index=2, properties={"conversion_action_id": "555"}),
        purchase("google_dm", FIXED, index=3),
    ]
    requests = destination.build(events, config, now=FIXED_NOW)
    actions = [r.json()["destinations"][0]["productDestinationId"] for r in requests]
    assert actions == ["987654321", "555"]
    assert [r.event_ids for r in requests] == [("evt-1", "evt-3"), ("evt-2",)]
