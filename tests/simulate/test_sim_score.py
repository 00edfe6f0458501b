"""Every model's error against the simulation's truth is computed (reported, not judged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convtrack.attribution.engine import Request, attribute
from convtrack.attribution.model import create, registered
from convtrack.config import Settings
from convtrack.plan import load_configured_plan
from convtrack.simulate.progress import Progress
from convtrack.simulate.score import channel_labels, distance, true_shares
from convtrack.simulate.simulation import Simulation
from convtrack.simulate.sinks import StoreSink
from convtrack.store import open_store


def test_channel_labels_follow_the_plan_rules() -> None:
    from convtrack.simulate.model import default_world

    plan = load_configured_plan("")
    mapping = channel_labels(default_world(), plan.channels)
    assert mapping["google_ads"] == "Paid Search" and mapping["meta_ads"] == "Paid Social"
    assert mapping["organic_search"] == "Organic Search" and mapping["direct"] == "Direct"
    assert mapping["email"] == "Email" and mapping["referral"] == "Referral"


def test_distance() -> None:
    assert distance({"a": 2, "b": 2}, {"a": 0.5, "b": 0.5}) == 0
    assert distance({"a": 1}, {"b": 1.0}) == 1
    assert distance({"a": 3, "b": 1}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.25)


def test_every_model_is_scored_on_simulated_traffic(
    sim: Simulation, truth: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    StoreSink(settings).send(sim.sent(), Progress("x", 0, enabled=False))
    plan = load_configured_plan("")
    shares, baseline = true_shares(truth, channel_labels(sim.world, plan.channels))
    models = [create(name) for name in registered()]
    with open_store(settings.store_url, read_only=True) as store:
        result = attribute(store, plan, Request(models))
    by_model: dict[str, dict[str, float]] = {}
    for model, label, _b, _c, count, _v in result.rows:
        by_model.setdefault(model, {})
        by_model[model][label] = by_model[model].get(label, 0.0) + count
    scores = {m: distance(credits, shares) for m, credits in by_model.items()}
    with capsys.disabled():
        print(f"\nerror vs truth (TVD, 400 visitors; {baseline:.0%} baseline conversions):")
        for m, s in scores.items():
            print(f"  {m:<16} {s:.3f}")
    assert set(scores) == set(registered())
    assert all(0 <= s <= 1 for s in scores.values())
    for credits in by_model.values():  # every model credits every conversion once
        assert sum(credits.values()) == pytest.approx(result.conversions)
