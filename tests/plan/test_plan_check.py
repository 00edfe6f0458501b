"""compile_plan + check: aliases, policies, identifiers, sources, property schemas, filters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from convtrack.events import Event, Identifiers
from convtrack.plan import CompiledPlan, check_event, compile_plan, conversions_of, load_plan

PLAN = """\
version: "2025-01-31.2"
unknown_events: quarantine
events:
  - name: purchase
    aliases: ["Order Completed"]
    sources: [tag, server]
    types: [track, conversion]
    required_identifiers: [[email, phone], anonymous_id]
    properties:
      order_id: {type: string, minLength: 1}
      value: {type: number, minimum: 0, maximum: 100000}
      currency: {type: string, format: currency}
      tier: {type: string, enum: [gold, silver]}
      email_copy: {type: string, format: email}
      items:
        type: array
        items: {type: object, properties: {price: {type: number, minimum: 0}}}
    required: [order_id, value]
  - name: subscribe
    properties:
      renewal: {type: boolean}
      plan: {type: string}
      seats: {type: integer}
conversions:
  - {name: purchase, event: purchase, category: purchase, value: {property: value}}
  - {name: big_purchase, event: purchase, category: purchase/big, where: {value: {gte: 1000}}}
  - name: subscription
    event: subscribe
    category: purchase/subscription
    where: {renewal: {ne: true}}
  - name: renewal
    event: subscribe
    category: purchase/subscription/renewal
    where: {renewal: true, plan: {in: [pro, team]}, seats: {exists: true}}
"""
IDS = {"email", "anonymous_id"}
GOOD = {"order_id": "o1", "value": 10.5, "currency": "EUR", "tier": "gold"}


@pytest.fixture
def compiled(tmp_path: Path) -> CompiledPlan:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return compile_plan(load_plan(path))


def test_version(compiled: CompiledPlan) -> None:
    assert compiled.version == "2025-01-31.2"


def test_valid_event(compiled: CompiledPlan) -> None:
    result = compiled.check("purchase", "track", "server", GOOD, IDS)
    assert result.ok and result.known and result.canonical_name == "purchase"
    assert result.issues == [] and result.warnings == []


def test_alias_resolves_to_canonical_name(compiled: CompiledPlan) -> None:
    result = compiled.check("Order Completed", "track", "tag", GOOD, IDS)
    assert result.ok and result.canonical_name == "purchase"


def test_property_errors_have_json_pointers(compiled: CompiledPlan) -> None:
    props = {"order_id": "", "value": -1, "tier": "bronze", "items": [{"price": "x"}]}
    result = compiled.check("purchase", "track", "server", props, IDS)
    assert [i["path"] for i in result.issues] == [
        "/properties/items/0/price",
        "/properties/order_id",
        "/properties/tier",
        "/properties/value",
    ]
    assert "'bronze' is not one of ['gold', 'silver']" in result.issues[2]["reason"]


def test_required_property(compiled: CompiledPlan) -> None:
    result = compiled.check("purchase", "track", "server", {"value": 1}, IDS)
    assert result.issues == [
        {"path": "/properties/order_id", "reason": "'order_id' is a required property"}
    ]


def test_bounds_and_formats(compiled: CompiledPlan) -> None:
    for props, path in [
        ({**GOOD, "value": 100001}, "/properties/value"),
        ({**GOOD, "currency": "EURO"}, "/properties/currency"),
        ({**GOOD, "email_copy": "not-an-email"}, "/properties/email_copy"),
    ]:
        result = compiled.check("purchase", "track", "server", props, IDS)
        assert [i["path"] for i in result.issues] == [path], props


def test_allowed_sources(compiled: CompiledPlan) -> None:
    result = compiled.check("purchase", "track", "pixel", GOOD, IDS)
    assert result.issues == [
        {"path": "", "reason": "source 'pixel' may not send 'purchase' (allowed: server, tag)"}
    ]


def test_allowed_types(compiled: CompiledPlan) -> None:
    result = compiled.check("purchase", "page", "tag", GOOD, IDS)
    assert [i["path"] for i in result.issues] == ["/type"]


def test_required_identifiers_all_of_and_any_of(compiled: CompiledPlan) -> None:
    assert compiled.check("purchase", "track", "tag", GOOD, {"phone", "anonymous_id"}).ok
    result = compiled.check("purchase", "track", "tag", GOOD, {"user_id"})
    assert result.issues == [
        {"path": "/identifiers/email", "reason": "'purchase' requires email or phone"},
        {"path": "/anonymous_id", "reason": "'purchase' requires anonymous_id"},
    ]


@pytest.mark.parametrize(
    ("policy", "issues", "warnings"), [("accept", 0, 0), ("warn", 0, 1), ("quarantine", 1, 0)]
)
def test_unknown_event_policy(tmp_path: Path, policy: str, issues: int, warnings: int) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("unknown_events: quarantine", f"unknown_events: {policy}"))
    result = compile_plan(load_plan(path)).check("mystery", "track", "tag", {}, set())
    assert not result.known and result.canonical_name == "mystery"
    assert (len(result.issues), len(result.warnings)) == (issues, warnings)
    for found in result.issues + result.warnings:
        assert found == {
            "path": "/event_name",
            "reason": "'mystery' is not in tracking plan 2025-01-31.2",
        }


def test_conversions_for_filters(compiled: CompiledPlan) -> None:
    def names(event: str, props: dict[str, object]) -> list[str]:
        return [c.name for c in compiled.conversions_for(event, props)]

    assert names("purchase", {"value": 10}) == ["purchase"]
    assert names("Order Completed", {"value": 1000}) == ["purchase", "big_purchase"]
    assert names("purchase", {"value": "1000"}) == ["purchase"]  # a string is not a number
    assert names("subscribe", {}) == ["subscription"]
    assert names("subscribe", {"renewal": False}) == ["subscription"]
    assert names("subscribe", {"renewal": True, "plan": "pro"}) == []  # seats missing
    assert names("subscribe", {"renewal": True, "plan": "pro", "seats": 3}) == ["renewal"]
    assert names("subscribe", {"renewal": 1, "plan": "pro", "seats": 3}) == ["subscription"]
    assert names("unknown", {}) == []


def test_check_event_lifts_top_level_fields(compiled: CompiledPlan) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    event = Event(
        event_id="e1", event_name="Order Completed", type="track", source="server",
        occurred_at=now, received_at=now, anonymous_id="a1",
        identifiers=Identifiers(email="x@example.com"),
        value=-5.0, currency="EUR", order_id="o1", properties={"tier": "gold"},
    )  # fmt: skip
    result = check_event(compiled, event)
    assert result.canonical_name == "purchase"
    assert result.issues == [{"path": "/value", "reason": "-5.0 is less than the minimum of 0"}]
    big = msgspec.structs.replace(event, value=2000.0)
    assert check_event(compiled, big).ok
    assert [c.name for c in conversions_of(compiled, big)] == ["purchase", "big_purchase"]
