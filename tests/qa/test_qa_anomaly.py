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
