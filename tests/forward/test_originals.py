"""An adjustment is sent with its original conversion, looked up by order id in the store.

A backend refund carries an order id and an amount; the platforms match it by the original
purchase's identifiers and time. Runs on DuckDB and PostgreSQL (one server for the module).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from convtrack.events import Campaign, Consent, DecisionRecord, Event
from convtrack.forward import get
from convtrack.forward.enabled import Enabled
from convtrack.forward.model import ADJUSTMENT_TYPES, ForwardEvent
from convtrack.forward.original import adjusted
from convtrack.forward.policy import RetryPolicy, WorkerOptions
from convtrack.forward.routing import Router
from convtrack.forward.worker import DestinationWorker
from convtrack.plan import CompiledPlan, load_configured_plan
from convtrack.store import EventStore, open_store
from convtrack.store.outbox_model import ADJUSTMENT_TYPES as STORED_ADJUSTMENT_TYPES
from convtrack.store.outbox_model import ClaimedJob, is_adjustment
from forward.fakes import FakePlatform
from forward.outbox_helpers import assert_no_raw_pii, stored_purchase
from pg import PgServer, start_server

ACTION = "987654321"
GCLID = "Cj0KCQiA-original-click"
PLAN = f"""\
version: "1"
events:
  - name: purchase
    properties: {{order_id: {{type: string}}, value: {{type: number}}}}
  - name: order_refunded
    properties: {{order_id: {{type: string}}, value: {{type: number}}}}
conversions:
  - name: purchase
    event: purchase
    category: purchase
    platforms:
      google: {{conversion_action_id: "{ACTION}"}}
adjustments:
  - {{event: order_refunded, conversion: purchase, type: restatement}}
"""
NAMES = ("google_dm", "webhook")
ONCE = WorkerOptions(
    retry=RetryPolicy(base=0.01, max=0.02, max_attempts=3),
    claim_limit=100,
    poll=0.01,
    lease=60,
    timeout=5,
    pause_after_failures=0,
)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'originals.duckdb'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.url(server.create_database())
    with open_store(url) as opened:
        opened.migrate()
        yield opened


@pytest.fixture
def plan(tmp_path: Path) -> CompiledPlan:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return load_configured_plan(str(path))


def routed(plan: CompiledPlan, *events: Event) -> list[Event]:
    Router({n: get(n) for n in NAMES}).route(events, plan)
    return list(events)


def purchase(event_id: str, order: str, age: timedelta, **kw: Any) -> Event:
    """A web purchase with a gclid and a hashed email (as enrich leaves it)."""
    bought = stored_purchase(event_id, age=age, campaign=Campaign(gclid=GCLID), **kw)
    bought.order_id = order
    bought.properties = {"order_id": order, "value": 42.5}
    return bought


def backend_refund(event_id: str, order: str, value: float) -> Event:
    """What a shop backend sends: an order id and the order's new amount, nothing else."""
    now = datetime.now(UTC)
    return Event(
        event_id=event_id,
        event_name="order_refunded",
        type="track",
        source="server",
        occurred_at=now - timedelta(minutes=1),
        received_at=now,
        value=value,
        order_id=order,
        properties={"order_id": order, "value": value},
    )


def deliver(store: EventStore, fake: FakePlatform) -> None:
    destination = get(fake.platform)

    async def run() -> None:
        enabled = Enabled(destination, destination.config_from_env(fake.env()))
        async with httpx.AsyncClient(trust_env=False) as client:
            await DestinationWorker(store, enabled, ONCE, client).step()

    asyncio.run(run())


def status(store: EventStore, destination: str) -> dict[str, dict[str, Any]]:
    return {j["event_id"]: j for j in store.list_jobs(None, destination, 100)}


def test_a_claim_carries_the_earliest_original_of_the_order(
    store: EventStore, plan: CompiledPlan
) -> None:
    store.append(
        routed(
            plan,
            purchase("late", "O-1", timedelta(hours=1)),
            purchase("first", "O-1", timedelta(hours=2)),  # the same order sent twice
            purchase("other", "O-2", timedelta(hours=3)),
            backend_refund("r1", "O-1", 30.0),
            backend_refund("r2", "O-1", 20.0),
            backend_refund("r404", "O-404", 1.0),  # its purchase was never stored
        )
    )
    jobs = {j.event_id: j for j in store.claim_jobs("webhook", 100, 60, datetime.now(UTC))}
    assert set(jobs) == {"late", "first", "other", "r1", "r2", "r404"}
    for refund in ("r1", "r2"):
        original = jobs[refund].original
        assert original is not None and original["event_id"] == "first"
        assert original["gclid"] == GCLID and "pii_raw" not in original
        assert "consent" in original  # its own consent, checked for each destination
    assert jobs["r404"].original is None
    assert all(jobs[e].original is None for e in ("late", "first", "other"))  # conversions


def test_a_backend_refund_reaches_google_and_the_webhook_as_the_original_purchase(
    store: EventStore, plan: CompiledPlan, fake_platform: Callable[[str], FakePlatform]
) -> None:
    bought = purchase("buy", "O-7", timedelta(hours=2))
    store.append(routed(plan, bought))
    store.append(routed(plan, backend_refund("refund", "O-7", 30.0)))
    fakes = {name: fake_platform(name) for name in NAMES}
    for fake in fakes.values():
        deliver(store, fake)

    hook = {e["event_id"]: e for body in fakes["webhook"].bodies() for e in body["events"]}
    sent = hook["refund"]
    assert sent["original"] == {
        "event_id": "buy",
        "occurred_at": hook["buy"]["occurred_at"],
        "value": 42.5,
        "currency": "EUR",
        "consented": True,
    }
    assert (sent["value"], sent["currency"]) == (30.0, "EUR")  # its own amount, the order's
    assert sent["occurred_at"] != hook["buy"]["occurred_at"]  # its own time
    assert sent["click_ids"] == {"gclid": GCLID}
    assert sent["user_data"] == hook["buy"]["user_data"] and sent["user_data"]
    assert "original" not in hook["buy"]

    google = {e["conversionValue"]: e for b in fakes["google_dm"].bodies() for e in b["events"]}
    first, restated = google[42.5], google[30.0]
    assert restated["transactionId"] == first["transactionId"] == "O-7"
    assert restated["eventTimestamp"] == first["eventTimestamp"]  # the purchase's time
    assert restated["lastUpdatedTimestamp"] == sent["occurred_at"]
    assert restated["adIdentifiers"] == {"gclid": GCLID}
    assert restated["userData"] == first["userData"] and restated["currency"] == "EUR"
    for name, fake in fakes.items():
        assert fake.errors == [], (name, fake.errors)
        assert_no_raw_pii(fake.bodies())
        assert {j["status"] for j in status(store, name).values()} == {"delivered"}


@pytest.mark.parametrize("how", ["decision", "signals"])
def test_an_original_without_ads_consent_lends_no_identifiers(
    store: EventStore,
    plan: CompiledPlan,
    fake_platform: Callable[[str], FakePlatform],
    how: str,
) -> None:
    if how == "decision":  # the privacy stage's decision: the webhook only
        denied: dict[str, Any] = {
            "consent_decision": DecisionRecord.of({"destinations": ["webhook"]})
        }
    else:  # no decision stored: the signal itself
        denied = {"consent": Consent(ad_user_data="denied")}
    store.append(routed(plan, purchase("buy", "O-8", timedelta(hours=2), **denied)))
    assert set(status(store, "webhook")) == {"buy"} and status(store, "google_dm") == {}
    store.append(routed(plan, backend_refund("refund", "O-8", 30.0)))
    google = fake_platform("google_dm")
    deliver(store, google)

    assert google.requests == []
    job = status(store, "google_dm")["refund"]
    assert job["status"] == "dead"
    assert job["last_error"] == "the consent of the original conversion buy denies google_dm"


def test_a_refund_of_a_purchase_that_consented_to_nothing_carries_no_identifiers(
    store: EventStore, plan: CompiledPlan, fake_platform: Callable[[str], FakePlatform]
) -> None:
    """A purchase that allowed no destination has no outbox job at all; it is still its
    refund's original, so the refund lends nothing (not even its own identifiers)."""
    nothing = {"consent_decision": DecisionRecord.of({"destinations": []})}
    store.append(routed(plan, purchase("buy", "O-7", timedelta(hours=2), **nothing)))
    assert status(store, "webhook") == {} and status(store, "google_dm") == {}
    refund = backend_refund("refund", "O-7", 30.0)
    refund.hashed.email_sha256 = "e" * 64  # the backend knew the customer's email
    store.append(routed(plan, refund))
    fakes = {name: fake_platform(name) for name in NAMES}
    for fake in fakes.values():
        deliver(store, fake)
    [sent] = [e for body in fakes["webhook"].bodies() for e in body["events"]]
    assert sent["original"]["event_id"] == "buy" and sent["original"]["consented"] is False
    assert "e" * 64 not in str(sent)
    assert fakes["google_dm"].requests == []
    job = status(store, "google_dm")["refund"]
    assert job["status"] == "dead"
    assert job["last_error"] == "the consent of the original conversion buy denies google_dm"


def test_a_refund_whose_original_is_not_stored(
    store: EventStore, plan: CompiledPlan, fake_platform: Callable[[str], FakePlatform]
) -> None:
    store.append(routed(plan, backend_refund("refund", "O-9", 30.0)))
    fakes = {name: fake_platform(name) for name in NAMES}
    for fake in fakes.values():
        deliver(store, fake)
    # the webhook gets it as it is, and says so
    [sent] = [e for body in fakes["webhook"].bodies() for e in body["events"]]
    assert sent["original"] is None and sent["original_order_id"] == "O-9"
    assert status(store, "webhook")["refund"]["status"] == "delivered"
    # Google would count it as a new conversion: it waits for the original, then gives up
    assert fakes["google_dm"].requests == []
    job = status(store, "google_dm")["refund"]
    assert job["status"] == "pending" and "O-9 is not stored (yet)" in job["last_error"]
    for _ in range(ONCE.retry.max_attempts):
        store.retry_jobs(None, "google_dm", datetime.now(UTC))
        deliver(store, fakes["google_dm"])
    job = status(store, "google_dm")["refund"]
    assert job["status"] == "dead" and job["last_error"].startswith("gave up after 3 attempts")
    assert fakes["google_dm"].requests == []


def test_the_original_arriving_later_is_used_on_the_next_attempt(
    store: EventStore, plan: CompiledPlan, fake_platform: Callable[[str], FakePlatform]
) -> None:
    store.append(routed(plan, backend_refund("refund", "O-10", 30.0)))
    google = fake_platform("google_dm")
    deliver(store, google)
    assert status(store, "google_dm")["refund"]["status"] == "pending"
    store.append(routed(plan, purchase("buy", "O-10", timedelta(hours=2))))
    store.retry_jobs(None, "google_dm", datetime.now(UTC))
    deliver(store, google)
    assert google.errors == []
    values = sorted(e["conversionValue"] for b in google.bodies() for e in b["events"])
    assert values == [30.0, 42.5]
    assert {j["status"] for j in status(store, "google_dm").values()} == {"delivered"}


# -- how an adjustment and its original are merged (no store) --------------------------------
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
HASH = "b" * 64


def refund_event(**kw: Any) -> ForwardEvent:
    fields: dict[str, Any] = {
        "event_id": "r",
        "event_name": "purchase",
        "occurred_at": T0 + timedelta(days=3),
        "source": "system_generated",
        "value": 10.0,
        "order_id": "O-1",
        "kind": "adjustment",
        "adjustment_type": "refund",
        "original_order_id": "O-1",
    }
    return ForwardEvent(**(fields | kw))


def original_row(**kw: Any) -> dict[str, Any]:
    row = {
        "event_id": "p",
        "occurred_at": T0,
        "source": "tag",
        "page_url": "https://shop.example.com/thanks",
        "ip": "203.0.113.7",
        "gclid": GCLID,
        "email_sha256": "a" * 64,
        "consent": '{"ad_user_data":"granted"}',
        "value": 50,
        "currency": "USD",
        "order_id": "O-1",
    }
    return row | kw


def test_the_original_lends_identifiers_and_the_adjustment_keeps_its_value_and_time() -> None:
    own = refund_event(user_data={"phone": HASH}, client_ip="198.51.100.1")
    merged = adjusted(own, original_row(), "webhook", get("webhook"))
    assert (merged.value, merged.occurred_at, merged.event_id) == (10.0, own.occurred_at, "r")
    assert merged.currency == "USD" and merged.source == "web"
    assert merged.click_ids == {"gclid": GCLID} and merged.client_ip == "203.0.113.7"
    assert merged.user_data == {"email": "a" * 64, "phone": HASH}  # its own fill the gaps
    assert merged.original is not None and merged.original.occurred_at == T0
    assert (merged.original.value, merged.original.consented) == (50.0, True)
    assert (
        adjusted(refund_event(currency="EUR"), original_row(), "webhook", get("webhook")).currency
        == "USD"  # the order's: an adjustment's own may be default_currency filled in
    )
    no_currency = original_row(currency=None)
    assert (
        adjusted(refund_event(currency="EUR"), no_currency, "webhook", get("webhook")).currency
        == "EUR"
    )
    assert adjusted(own, None, "webhook", get("webhook")) is own


def test_an_original_without_consent_withholds_every_identifier() -> None:
    own = refund_event(
        adjustment_type="restatement",
        user_data={"phone": HASH},
        click_ids={"gclid": "own"},
        user_id="u1",
    )
    row = original_row(consent='{"ad_user_data":"denied"}')
    merged = adjusted(own, row, "google_dm", get("google_dm"))
    assert merged.original is not None and not merged.original.consented
    assert (merged.user_data, merged.click_ids, merged.user_id, merged.client_ip) == (
        {}, {}, None, None,
    )  # fmt: skip
    assert merged.page_url is None and merged.consent_of("ad_user_data") == "denied"
    config = get("google_dm").config_from_env(
        {"CONVTRACK_GOOGLE_DM_ACCESS_TOKEN": "t", "CONVTRACK_GOOGLE_DM_OPERATING_ACCOUNT_ID": "1"}
    )
    assert get("google_dm").check(merged, config) == (
        "the consent of the original conversion p denies google_dm"
    )


def test_the_store_and_the_forward_stage_agree_on_adjustment_types() -> None:
    assert set(STORED_ADJUSTMENT_TYPES) == ADJUSTMENT_TYPES
    assert is_adjustment("refund:purchase") and not is_adjustment("custom:thing")
    job = ClaimedJob("j", "e", "webhook", "purchase", "purchase", 1, T0, {"event_id": "e"})
    assert job.original is None
