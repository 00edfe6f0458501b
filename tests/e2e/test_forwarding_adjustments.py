"""Refunds and restatements, the pixel path and the status figures, on a live ``convtrack serve``.

A purchase, then a refund and a restatement of that order (matched by ``order_id``): each
platform that takes that type of adjustment receives it exactly once; the others receive only
the purchase. Deadlines only bound how long a test waits; nothing asserts on timing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from e2e.test_forwarding import GRANTED, UA, delivered, forwarding_env, jobs, purchase, wait_for
from forward.fakes import FakePlatform
from forward.outbox_helpers import RAW_EMAIL, assert_no_raw_pii
from live_server import Server

ACTION = "987654321"
RESTATED_EVENT = """\
  - name: order_restated
    description: The value of an order changed after the purchase.
    properties:
      order_id: {type: string, minLength: 1}
      value: {type: number, minimum: 0}
      currency: {type: string, format: currency}
    required: [order_id, value]
"""


def plan_with_adjustments(tmp_path: Path) -> Path:
    """The default plan (its refund adjustment included), plus a Google Ads mapping of the
    purchase and a restatement event."""
    text = resources.files("convtrack.plan").joinpath("default_plan.yaml").read_text()
    reddit = "      reddit: {event: PURCHASE}"
    text = text.replace(reddit, f'      google: {{conversion_action_id: "{ACTION}"}}\n{reddit}')
    text = text.replace("  - name: refund\n", RESTATED_EVENT + "  - name: refund\n", 1)
    text = text.replace(
        "adjustments:\n",
        "adjustments:\n  - {event: order_restated, conversion: purchase, type: restatement}\n",
    )
    assert text.count(ACTION) == 1 and "order_restated, conversion" in text
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def fakes() -> Iterator[dict[str, FakePlatform]]:
    names = ("meta", "ga4", "webhook", "google_dm")
    started = {name: FakePlatform(name).__enter__() for name in names}
    try:
        yield started
    finally:
        for fake in started.values():
            fake.__exit__(None, None, None)


def adjustment(server: Server, name: str, order_id: str, value: float) -> dict[str, Any]:
    """A server-side event about an earlier order (no page, no browser)."""
    return server.event(
        event_name=name,
        event_id=server.new_id(name),
        value=value,
        currency="EUR",
        order_id=order_id,
        identifiers={"email": RAW_EMAIL},
        consent=dict(GRANTED),
        properties={"order_id": order_id, "value": value},
    )


def webhook_events(fake: FakePlatform) -> dict[str, dict[str, Any]]:
    return {e["event_id"]: e for body in fake.bodies() for e in body["events"]}


def test_a_refund_and_a_restatement_reach_only_the_platforms_that_take_them_once(
    new_server: Callable[..., Server], fakes: dict[str, FakePlatform], tmp_path: Path
) -> None:
    env = forwarding_env(fakes, CONVTRACK_PLAN=str(plan_with_adjustments(tmp_path)))
    server = new_server(env)
    bought = purchase(server)
    order = bought["order_id"]
    server.ingest([bought])
    for name in fakes:
        wait_for(lambda n=name: delivered(server, n, [bought["event_id"]]), f"{name} purchase")

    refund = adjustment(server, "refund", order, 42.5)
    restated = adjustment(server, "order_restated", order, 30.0)
    orphan = adjustment(server, "refund", "", 1.0)  # no order id: nothing to adjust
    del orphan["order_id"], orphan["properties"]["order_id"]
    server.ingest([refund, restated])
    server.ingest([refund])  # sent again: stored once, no second job
    assert server.post_events({"events": [orphan]}).status_code == 422  # the plan requires it
    wait_for(lambda: delivered(server, "webhook", [refund["event_id"], restated["event_id"]]),
             "webhook adjustments")  # fmt: skip
    wait_for(lambda: delivered(server, "google_dm", [restated["event_id"]]), "the restatement")
    server.flush()

    found = jobs(server)
    assert {d for (e, d) in found if e == refund["event_id"]} == {"webhook"}
    assert {d for (e, d) in found if e == restated["event_id"]} == {"webhook", "google_dm"}
    platform_events = {
        (r["event_id"], r["destination"]): r["platform_event"]
        for r in server.sql("SELECT event_id, destination, platform_event FROM outbox")
    }
    assert platform_events[(refund["event_id"], "webhook")] == "refund:purchase"
    assert platform_events[(restated["event_id"], "google_dm")] == f"restatement:{ACTION}"

    hook = webhook_events(fakes["webhook"])
    assert Counter(fakes["webhook"].received_event_ids()) == Counter(
        [bought["event_id"], refund["event_id"], restated["event_id"]]
    )
    assert hook[refund["event_id"]]["kind"] == "adjustment"
    assert hook[refund["event_id"]]["adjustment_type"] == "refund"
    assert hook[refund["event_id"]]["original_order_id"] == order
    assert hook[restated["event_id"]]["adjustment_type"] == "restatement"
    assert "adjustment_type" not in hook[bought["event_id"]]

    # Google: the same transactionId again with the new value (a restatement), never a refund
    google = [e for body in fakes["google_dm"].bodies() for e in body["events"]]
    assert [(e["transactionId"], e["conversionValue"]) for e in google] == [
        (order, 42.5),
        (order, 30.0),
    ]
    assert fakes["meta"].received_event_ids() == [bought["event_id"]]
    assert fakes["ga4"].received_event_ids() == [order]  # GA4 records by transaction_id
    for name, fake in fakes.items():
        assert fake.errors == [], (name, fake.errors)
        assert_no_raw_pii(fake.bodies())


def test_a_pixel_conversion_is_forwarded(
    new_server: Callable[..., Server], fakes: dict[str, FakePlatform]
) -> None:
    server = new_server(forwarding_env({n: fakes[n] for n in ("meta", "webhook")}))
    event_id = server.new_id("px")
    params = {
        "k": str(server.public_key),
        "id": event_id,
        "e": "purchase",
        "t": "conversion",
        "v": "49.90",
        "cur": "EUR",
        "oid": "PX-1001",
        "a": "pixel-visitor-1",
        "url": "https://shop.example.com/thanks",
        "em": RAW_EMAIL,
        "fbclid": "IwAR-pixel-click",
        **{signal: "granted" for signal in GRANTED},
    }
    server.pixel(params, headers={"user-agent": UA})
    server.flush()
    for name in ("meta", "webhook"):
        wait_for(lambda n=name: delivered(server, n, [event_id]), f"{name} pixel delivery")
    assert fakes["meta"].received_event_ids() == [event_id]
    sent = fakes["meta"].bodies()[0]["data"][0]
    assert sent["event_name"] == "Purchase" and sent["action_source"] == "website"
    assert sent["custom_data"]["value"] == 49.9 and sent["custom_data"]["order_id"] == "PX-1001"
    assert sent["user_data"]["fbc"].endswith(".IwAR-pixel-click")
    assert webhook_events(fakes["webhook"])[event_id]["order_id"] == "PX-1001"
    for name in ("meta", "webhook"):
        assert fakes[name].errors == [], (name, fakes[name].errors)
        assert_no_raw_pii(fakes[name].bodies())


def test_status_shows_forwarding_figures_per_destination(
    new_server: Callable[..., Server], fakes: dict[str, FakePlatform]
) -> None:
    meta = fakes["meta"]
    meta.fail_next(1_000_000, status=503)  # down: its job stays undelivered
    server = new_server(forwarding_env({n: fakes[n] for n in ("meta", "webhook")}))
    bought = purchase(server)
    server.ingest([bought])
    wait_for(lambda: delivered(server, "webhook", [bought["event_id"]]), "webhook")
    wait_for(lambda: len(meta.requests) >= 2, "meta retries")

    status = server.get("/v1/admin/status", headers=server._admin_auth()).json()
    figures = status["forwarding"]
    assert set(figures) == {"meta", "webhook"}
    hook = figures["webhook"]
    assert (hook["delivered"], hook["pending"], hook["inflight"], hook["dead"]) == (1, 0, 0, 0)
    assert hook["enabled"] and not hook["paused"] and hook["oldest_pending_age_seconds"] is None
    stuck = figures["meta"]
    assert stuck["pending"] + stuck["inflight"] == 1 and stuck["delivered"] == 0
    assert stuck["oldest_pending_age_seconds"] >= 0 and not stuck["paused"]

    meta.recover()
    wait_for(lambda: delivered(server, "meta", [bought["event_id"]]), "meta after recovery")
    after = server.get("/v1/admin/status", headers=server._admin_auth()).json()["forwarding"]
    assert after["meta"]["delivered"] == 1 and after["meta"]["oldest_pending_age_seconds"] is None


def backend(server: Server, name: str, order_id: str, value: float) -> dict[str, Any]:
    """What a shop backend sends about an order: its id and an amount. No identifiers, no
    click id, no consent, no page, no original event id or time."""
    return server.event(
        event_name=name,
        event_id=server.new_id(name),
        order_id=order_id,
        value=value,
        properties={"order_id": order_id, "value": value},
    )


def test_a_backend_refund_is_sent_as_an_adjustment_of_the_original_purchase(
    new_server: Callable[..., Server], fakes: dict[str, FakePlatform], tmp_path: Path
) -> None:
    names = ("webhook", "google_dm")
    env = forwarding_env(
        {n: fakes[n] for n in names}, CONVTRACK_PLAN=str(plan_with_adjustments(tmp_path))
    )
    server = new_server(env)
    bought = purchase(server, campaign={"gclid": "Cj0-original-click"})
    order = bought["order_id"]
    server.ingest([bought])
    for name in names:
        wait_for(lambda n=name: delivered(server, n, [bought["event_id"]]), f"{name} purchase")
    refund = backend(server, "refund", order, 12.5)
    restated = backend(server, "order_restated", order, 30.0)
    unknown = backend(server, "refund", "O-never-bought", 5.0)
    server.ingest([refund, restated, unknown])
    ids = [refund["event_id"], restated["event_id"], unknown["event_id"]]
    wait_for(lambda: delivered(server, "webhook", ids), "webhook adjustments")
    wait_for(lambda: delivered(server, "google_dm", [restated["event_id"]]), "the restatement")

    hook = webhook_events(fakes["webhook"])
    original = hook[bought["event_id"]]
    for adjusting in (refund, restated):
        sent = hook[adjusting["event_id"]]
        assert sent["original"] == {
            "event_id": bought["event_id"],
            "occurred_at": original["occurred_at"],
            "value": 42.5,
            "currency": "EUR",
            "consented": True,
        }
        assert sent["value"] == adjusting["value"] and sent["currency"] == "EUR"
        assert sent["click_ids"] == {"gclid": "Cj0-original-click"}
        assert sent["user_data"] == original["user_data"] and sent["user_data"]
    assert hook[unknown["event_id"]]["original"] is None
    assert "click_ids" not in hook[unknown["event_id"]]

    google = {e["conversionValue"]: e for b in fakes["google_dm"].bodies() for e in b["events"]}
    first, again = google[42.5], google[30.0]
    assert again["transactionId"] == order and again["eventTimestamp"] == first["eventTimestamp"]
    assert again["adIdentifiers"] == {"gclid": "Cj0-original-click"}
    assert again["userData"] == first["userData"] and again["currency"] == "EUR"
    assert again["lastUpdatedTimestamp"] == hook[restated["event_id"]]["occurred_at"]
    for name in names:
        assert fakes[name].errors == [], (name, fakes[name].errors)
        assert_no_raw_pii(fakes[name].bodies())
