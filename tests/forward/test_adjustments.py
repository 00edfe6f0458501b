"""Refunds, cancellations and restatements: routed by the plan, marked in the outbox, built
as adjustments; and the operator's forwarding figures over a real DuckDB outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from convtrack.config import load_settings
from convtrack.forward import adjustment, get, service
from convtrack.forward.routing import Router
from convtrack.forward.rows import forward_event
from convtrack.plan import CompiledPlan, load_configured_plan
from convtrack.store import EventStore, open_store
from forward.outbox_helpers import stored_purchase

PLAN = """\
version: "1"
events:
  - name: purchase
    properties: {order_id: {type: string}, value: {type: number}}
  - name: order_refunded
    properties: {order_id: {type: string}, full: {type: boolean}}
  - name: order_updated
    properties: {order_id: {type: string}, value: {type: number}}
conversions:
  - name: purchase
    event: purchase
    category: purchase
    platforms:
      meta: {event: Purchase}
      google: {conversion_action_id: "987654321"}
      linkedin: {conversion_rule_id: "104012"}
adjustments:
  - {event: order_refunded, conversion: purchase, type: refund, where: {full: true}}
  - {event: order_refunded, conversion: purchase, type: cancel, where: {full: false}}
  - {event: order_updated, conversion: purchase, type: restatement}
"""
NAMES = ("meta", "google_dm", "linkedin", "webhook")


@pytest.fixture
def plan(tmp_path: Path) -> CompiledPlan:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return load_configured_plan(str(path))


def routed_jobs(plan: CompiledPlan, name: str, **props: object) -> list[tuple[str, str, str]]:
    event = stored_purchase("adj-1")
    event.event_name = name
    event.properties = dict(props)
    if "order_id" not in props:
        event.order_id = None
    Router({n: get(n) for n in NAMES}).route([event], plan)
    return sorted(event.deliveries or [])


def test_an_adjustment_goes_only_where_the_platform_takes_that_type(plan: CompiledPlan) -> None:
    refund = routed_jobs(plan, "order_refunded", order_id="O-1", full=True)
    assert refund == [("webhook", "purchase", "refund:purchase")]
    cancel = routed_jobs(plan, "order_refunded", order_id="O-1", full=False)
    assert cancel == [("webhook", "purchase", "cancel:purchase")]
    restated = routed_jobs(plan, "order_updated", order_id="O-1", value=30)
    assert restated == [
        ("google_dm", "purchase", "restatement:987654321"),
        ("webhook", "purchase", "restatement:purchase"),
    ]
    assert routed_jobs(plan, "order_updated", value=30) == []  # no order id: nothing to match
    bought = routed_jobs(plan, "purchase", order_id="O-1")
    assert ("linkedin", "purchase", "104012") in bought and len(bought) == 4


def test_an_adjustment_job_becomes_an_adjustment_of_the_order() -> None:
    row = {
        "event_id": "r1",
        "occurred_at": datetime.now(UTC),
        "order_id": "O-1",
        "value": 30,
        "currency": "EUR",
        "properties": "{}",
        "email_sha256": "a" * 64,
    }
    restated = forward_event(row, "google_dm", adjustment.encode("restatement", "987654321"))
    assert (restated.kind, restated.adjustment_type) == ("adjustment", "restatement")
    assert restated.event_name == "987654321" and restated.adjusted_order_id == "O-1"
    assert restated.properties["conversion_action_id"] == "987654321"
    body = get("google_dm").event(restated)
    assert body["transactionId"] == "O-1" and body["conversionValue"] == 30.0
    plain = forward_event(row, "meta", "Purchase")
    assert plain.kind == "conversion" and plain.original_order_id is None
    assert adjustment.decode("custom:thing") == (None, "custom:thing")
    with pytest.raises(ValueError, match="adjustment type"):
        adjustment.encode("chargeback", "Purchase")


def test_destinations_that_cannot_retract_refuse_an_adjustment() -> None:
    refund = forward_event(
        {"event_id": "r2", "occurred_at": datetime.now(UTC), "order_id": "O-2"},
        "meta",
        "refund:Purchase",
    )
    config = get("meta").config_from_env(
        {"CONVTRACK_META_PIXEL_ID": "1", "CONVTRACK_META_ACCESS_TOKEN": "t"}
    )
    assert get("meta").check(refund, config) == "meta cannot take a refund adjustment"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with open_store(f"duckdb://{tmp_path / 'status.duckdb'}") as opened:
        opened.migrate()
        yield opened


def test_status_counts_jobs_per_destination_with_pause_and_oldest_age(
    store: EventStore, plan: CompiledPlan
) -> None:
    events = [stored_purchase(f"s{i}") for i in range(3)]
    Router({n: get(n) for n in ("meta", "webhook")}).route(events, plan)
    store.append(events)
    now = datetime.now(UTC)
    store.pause_destination("meta", "5 failed requests in a row", now)
    settings = load_settings(env={"CONVTRACK_DESTINATIONS": "meta,webhook"})

    figures = service.status(store, settings, now + timedelta(minutes=10))
    assert set(figures) == {"meta", "webhook"}
    meta = figures["meta"]
    assert (meta["pending"], meta["inflight"], meta["delivered"], meta["dead"]) == (3, 0, 0, 0)
    assert meta["paused"] and meta["paused_reason"] == "5 failed requests in a row"
    assert 600 <= meta["oldest_pending_age_seconds"] < 3600
    assert figures["webhook"]["enabled"] and not figures["webhook"]["paused"]

    claimed = store.claim_jobs("webhook", 10, 60, now)
    assert len(claimed) == 3
    figures = service.status(store, settings, now)
    assert figures["webhook"]["inflight"] == 3 and figures["webhook"]["pending"] == 0
    assert figures["webhook"]["oldest_pending_age_seconds"] is not None
