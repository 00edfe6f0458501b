"""Volume anomalies on five synthetic weeks with a weekday/weekend cycle, in a real store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from convtrack.qa import anomaly
from convtrack.store import EventStore
from qa_events import ev

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WEEKS = 5


def expected_rate(at: datetime) -> int:
    """Weekdays busy by day, weekends a fifth of that: a cycle a daily mean would misread."""
    day = 40 if 8 <= at.hour < 20 else 8
    return day // 5 if at.weekday() >= 5 else day


def fill(store: EventStore, drop_at: datetime | None) -> None:
    rng = random.Random(7)
    events = []
    for h in range(WEEKS * 168):
        at = START + timedelta(hours=h)
        n = expected_rate(at) + rng.randint(-2, 2)
        if at == drop_at:
            n = 3  # the tag broke for an hour
        events += [ev(f"e{h}-{i}", at + timedelta(seconds=i)) for i in range(max(n, 0))]
    store.append(events)


def test_an_injected_drop_is_flagged_and_a_normal_weekend_is_not(store: EventStore) -> None:
    last_week = START + timedelta(weeks=WEEKS - 1)
    drop = last_week + timedelta(days=2, hours=10)  # Wednesday 10:00 of the last week
    fill(store, drop)
    end = START + timedelta(weeks=WEEKS)
    found = anomaly.detect(store, end, hours=168)  # the whole last week, weekend included
    assert [(a.hour, a.kind) for a in found] == [(drop.isoformat().replace("+00:00", "Z"), "drop")]
    assert found[0].count == 3 and found[0].expected >= 38


def test_a_spike_is_flagged_and_the_first_weeks_have_no_forecast(store: EventStore) -> None:
    fill(store, None)
    at = START + timedelta(weeks=WEEKS - 1, days=5, hours=13)  # Saturday afternoon
    store.append([ev(f"burst{i}", at + timedelta(seconds=i), source="server") for i in range(1)])
    store.append([ev(f"spike{i}", at + timedelta(seconds=i)) for i in range(60)])
    found = anomaly.detect(store, START + timedelta(weeks=WEEKS), hours=168)
    assert [(a.source, a.kind) for a in found] == [("tag", "spike")]
    # the "server" series is new and quiet: no history, below min_volume → never flagged
    assert anomaly.detect(store, START + timedelta(weeks=2), hours=168) == []


def test_the_band_is_robust_and_never_narrower_than_poisson_noise() -> None:
    expected, lower, upper = anomaly.band_for([100, 100, 100, 1000], anomaly.Band())
    assert expected == 100 and lower < 100 < upper < 200  # one odd week does not widen it
    expected, lower, upper = anomaly.band_for([0, 0, 0, 0], anomaly.Band())
    assert (expected, lower) == (0, 0) and upper >= 3


def iso_z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def test_the_series_of_a_drop_show_it_below_the_band_and_the_weekend_inside(
    store: EventStore,
) -> None:
    last_week = START + timedelta(weeks=WEEKS - 1)
    drop = last_week + timedelta(days=2, hours=10)
    fill(store, drop)
    result = anomaly.report(store, START + timedelta(weeks=WEEKS), 168, anomaly.Band())
    assert [(s["source"], s["event_name"], s["anomalies"]) for s in result["series"]] == [
        ("tag", "page_view", 1)
    ]
    points = {p["hour"]: p for p in result["series"][0]["points"]}
    assert len(points) == 168  # every checked hour, in order
    assert list(points) == sorted(points)
    hit = points[iso_z(drop)]
    assert hit["observed"] == 3 < hit["lower"] < hit["forecast"] < hit["upper"]
    # the flagged anomaly and the charted point agree on the band
    assert (result["anomalies"][0]["lower"], result["anomalies"][0]["upper"]) == (
        hit["lower"],
        hit["upper"],
    )
    saturday = last_week + timedelta(days=5)
    weekend = [points[iso_z(saturday + timedelta(hours=h))] for h in range(48)]
    assert all(p["lower"] <= p["observed"] <= p["upper"] for p in weekend)
    assert max(p["forecast"] for p in weekend) <= 10  # the weekend's own quiet history


def test_without_anomalies_the_busiest_series_are_charted_up_to_the_limit(
    store: EventStore,
) -> None:
    fill(store, None)
    end = START + timedelta(weeks=WEEKS)
    at = end - timedelta(hours=3)
    store.append([ev(f"s{i}", at + timedelta(seconds=i), source="server") for i in range(2)])
    result = anomaly.report(store, end, 24, anomaly.Band())
    assert result["anomalies"] == []
    assert [s["source"] for s in result["series"]] == ["tag", "server"]  # busiest first
    server = result["series"][1]["points"]
    assert sum(p["observed"] for p in server) == 2
    assert all(p["forecast"] is None for p in server)  # new this week: no band yet
    limited = anomaly.report(store, end, 24, anomaly.Band(), series=1)
    assert [s["source"] for s in limited["series"]] == ["tag"]
    assert anomaly.report(store, end, 24, anomaly.Band(), series=0)["series"] == []
