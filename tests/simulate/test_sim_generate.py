"""The generated traffic: reproducible, valid on the wire, and shaped like real traffic."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from convtrack.collect.parse import Origin, decode_body, to_event
from convtrack.events import CLICK_IDS, Event, EventIn
from convtrack.simulate.simulation import Params, Simulation, simulate
from convtrack.simulate.sinks import JsonLine
from convtrack.simulate.truth import build_truth

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def wire(sim: Simulation) -> bytes:
    """The exact bytes of every delivery, blocked ones included."""
    encode = msgspec.json.Encoder().encode
    return b"\n".join(encode(JsonLine(d.source, d.event)) for d in sim.deliveries)


def truth_bytes(sim: Simulation) -> bytes:
    return msgspec.json.encode(build_truth(sim))


def test_same_seed_gives_identical_events_and_truth(
    sim: Simulation, make_params: Callable[..., Params]
) -> None:
    again = simulate(make_params())
    assert wire(again) == wire(sim)
    assert truth_bytes(again) == truth_bytes(sim)


def test_different_seed_gives_different_traffic(
    sim: Simulation, make_params: Callable[..., Params]
) -> None:
    other = simulate(make_params(seed=8))
    assert wire(other) != wire(sim)
    ids = {d.event.event_id for d in sim.deliveries}
    assert not ids & {d.event.event_id for d in other.deliveries}


def test_first_people_do_not_depend_on_how_many_follow(make_params: Callable[..., Params]) -> None:
    few = simulate(make_params(visitors=20))
    many = simulate(make_params(visitors=40))
    first = {d.event.event_id for d in few.deliveries}
    assert first <= {d.event.event_id for d in many.deliveries}


def test_every_event_decodes_as_event_in_and_passes_the_api_checks(sim: Simulation) -> None:
    origin = {
        s: Origin(s, "key_test", s == "server", "127.0.0.1", None, NOW) for s in ("tag", "server")
    }
    body = msgspec.json.encode({"events": [d.event for d in sim.deliveries]})
    items, _, is_batch = decode_body(body)
    assert is_batch and all(isinstance(i, EventIn) for i in items)
    for delivery, item in zip(sim.deliveries, items, strict=True):
        assert isinstance(item, EventIn)
        raw = msgspec.json.encode(delivery.event)
        assert msgspec.json.decode(raw, type=EventIn) == item
        event = to_event(
            None, item, origin[delivery.source], None,
            default_currency="USD", max_future=timedelta(days=1),
        )  # fmt: skip
        assert isinstance(event, Event), event
        assert event.event_id == delivery.event.event_id


def test_timestamps_are_inside_the_window_and_ids_are_unique_per_copy(sim: Simulation) -> None:
    p = sim.params
    stamps = [d.event.timestamp for d in sim.deliveries]
    assert all(isinstance(t, datetime) and p.start <= t < p.end for t in stamps)
    arrivals = [d.arrival for d in sim.deliveries]
    assert arrivals == sorted(arrivals)
    per_source = Counter((d.source, d.event.event_id) for d in sim.deliveries)
    assert max(per_source.values()) == 1


def test_browser_and_server_copies_share_the_event_id(sim: Simulation) -> None:
    by_id = defaultdict(list)
    for d in sim.sent():
        by_id[d.event.event_id].append(d)
    pairs = [copies for copies in by_id.values() if len(copies) == 2]
    assert len(pairs) >= 10
    for tag, server in (sorted(c, key=lambda d: d.source != "tag") for c in pairs):
        assert (tag.source, server.source) == ("tag", "server")
        assert tag.event.type == server.event.type == "conversion"
        for field in ("event_name", "timestamp", "value", "currency", "order_id"):
            assert getattr(tag.event, field) == getattr(server.event, field)
        assert server.event.identifiers is not None and server.event.context is not None
        assert server.event.context.ip is not None and tag.event.identifiers is None


def test_blocked_browser_hits_are_never_sent_but_server_copies_are(sim: Simulation) -> None:
    blocked = [d for d in sim.deliveries if d.blocked]
    assert blocked and all(d.source == "tag" for d in blocked)
    assert not set(map(id, blocked)) & set(map(id, sim.sent()))
    sent_ids = {d.event.event_id for d in sim.sent()}
    rescued = [d for d in blocked if d.event.type == "conversion" and d.event.event_id in sent_ids]
    assert rescued, "some blocked conversions should still arrive from the server"


def test_traffic_has_campaigns_click_ids_referrers_and_direct(sim: Simulation) -> None:
    landings = [d.event for d in sim.deliveries if d.event.campaign and d.event.type == "page"]
    seen = {c for e in landings for c in CLICK_IDS if getattr(e.campaign, c)}
    assert {"gclid", "fbclid", "ttclid", "msclkid"} <= seen
    for e in landings:
        assert e.campaign is not None and e.context is not None and e.context.url
        assert e.campaign.utm_source and e.campaign.utm_source in e.context.url
        assert e.campaign.click_at == e.timestamp
    pages = [d.event for d in sim.deliveries if d.event.type == "page"]
    referrers = {e.context.referrer for e in pages if e.context and e.context.referrer}
    assert "https://www.google.com/" in referrers and "https://t.co/" in referrers
    assert any(e.context and not e.context.referrer and not e.campaign for e in pages)


def test_conversion_kinds_carry_value_currency_and_order_id(sim: Simulation) -> None:
    conversions = [d.event for d in sim.deliveries if d.event.type == "conversion"]
    kinds = Counter(e.event_name for e in conversions)
    assert {"purchase", "generate_lead", "sign_up"} <= set(kinds)
    for e in conversions:
        if e.event_name == "purchase":
            assert e.value and e.value > 0 and e.currency in {"USD", "EUR", "GBP"} and e.order_id
        if e.event_name == "sign_up":
            assert e.value is None and e.user_id


def test_some_people_use_two_devices_under_one_user_id(sim: Simulation) -> None:
    devices = defaultdict(set)
    for d in sim.deliveries:
        if d.source == "tag" and d.event.user_id:
            devices[d.event.user_id].add(d.event.anonymous_id)
    assert sum(len(a) == 2 for a in devices.values()) >= 5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_visit_starts_with_a_landing_page(
    seed: int, make_params: Callable[..., Params]
) -> None:
    sim = simulate(make_params(seed=seed, visitors=50))
    first_hit: dict[str | None, EventIn] = {}
    for d in sorted(sim.deliveries, key=lambda d: d.event.timestamp):  # type: ignore[arg-type,return-value]
        if d.source == "tag":
            first_hit.setdefault(d.event.session_id, d.event)
    touches = sum(len(j.touches) for j in sim.journeys)
    assert len(first_hit) == touches
    assert all(e.type == "page" for e in first_hit.values())
