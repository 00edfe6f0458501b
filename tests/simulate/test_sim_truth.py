"""The truth file agrees with the traffic it describes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from convtrack.simulate.simulation import Simulation


def test_truth_lists_every_conversion_once(sim: Simulation, truth: dict[str, Any]) -> None:
    generated = {d.event.event_id for d in sim.deliveries if d.event.type == "conversion"}
    listed = [c["event_id"] for c in truth["conversions"]]
    assert len(listed) == len(set(listed)) == len(generated) > 20
    assert set(listed) == generated


def test_truth_matches_each_conversion_event(sim: Simulation, truth: dict[str, Any]) -> None:
    copies = defaultdict(list)
    for d in sim.deliveries:
        copies[d.event.event_id].append(d)
    for c in truth["conversions"]:
        tag = next(d.event for d in copies[c["event_id"]] if d.source == "tag")
        assert (tag.event_name, tag.value, tag.currency, tag.order_id) == (
            c["event_name"], c["value"], c["currency"], c["order_id"]
        )  # fmt: skip
        sent = sorted(d.source for d in copies[c["event_id"]] if not d.blocked)
        assert c["sources"] == sent and c["delivered"] == bool(sent)
        assert c["browser_blocked"] == any(d.blocked for d in copies[c["event_id"]])


def test_driver_is_a_touch_on_the_path_before_the_conversion(truth: dict[str, Any]) -> None:
    channels = truth["effects"]["channels"]
    driven = [c for c in truth["conversions"] if c["driver"]]
    assert driven and len(driven) < len(truth["conversions"])  # some baseline ones too
    for c in driven:
        driver = c["driver"]
        assert driver in c["path"] and driver["at"] <= c["occurred_at"]
        assert driver["channel"] in channels
        if driver["campaign"]:
            assert driver["campaign"] in channels[driver["channel"]]["campaigns"]
    assert any(c["driver"] != c["path"][-1] for c in driven), "some drivers are not last touch"


def test_totals_and_channels_add_up(sim: Simulation, truth: dict[str, Any]) -> None:
    t = truth["totals"]
    sent = sim.sent()
    assert t["deliveries_sent"] == len(sent)
    assert t["distinct_event_ids_sent"] == len({d.event.event_id for d in sent})
    assert t["browser_server_pairs_sent"] == t["deliveries_sent"] - t["distinct_event_ids_sent"]
    assert t["browser_hits_blocked"] == sum(d.blocked for d in sim.deliveries)
    by_channel = truth["by_channel"]
    assert sum(r["conversions"] for r in by_channel.values()) == t["conversions"]
    assert sum(r["touches"] for r in by_channel.values()) == t["touches"]
    assert by_channel["baseline"]["conversions"] == sum(
        1 for c in truth["conversions"] if c["driver"] is None
    )


def test_effects_are_the_probabilities_used(sim: Simulation, truth: dict[str, Any]) -> None:
    effects = truth["effects"]
    for channel in sim.world.channels:
        row = effects["channels"][channel.name]
        assert row["conversion_probability"] == channel.conversion_probability
        for campaign in channel.campaigns:
            expected = round(channel.conversion_probability * campaign.lift, 6)
            assert row["campaigns"][campaign.name]["conversion_probability"] == expected
    assert effects["baseline_conversion_probability"] == sim.world.baseline_probability


def test_people_map_user_ids_to_their_devices(sim: Simulation, truth: dict[str, Any]) -> None:
    people = {p["person"]: p for p in truth["people"]}
    assert len(people) == sim.params.visitors
    for d in sim.deliveries:
        if d.source == "tag" and d.event.user_id:
            owner = [p for p in people.values() if p["user_id"] == d.event.user_id]
            assert len(owner) == 1 and d.event.anonymous_id in owner[0]["anonymous_ids"]
