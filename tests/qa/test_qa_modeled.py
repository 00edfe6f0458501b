"""Modeled conversions from consented and consented-out visits in a real store."""

from __future__ import annotations

from datetime import timedelta

from convtrack.qa.modeled import modeled
from convtrack.qa.sql import Window
from convtrack.store import EventStore
from qa_events import T0, visit


def test_rate_among_consented_applied_to_consented_out_visits(store: EventStore) -> None:
    events = []
    for n in range(100):  # google / cpc: 10 % of consented visits convert
        events += visit(n, consented=n < 60, converts=n < 6, source="google")
    for n in range(100, 140):  # organic via www.google.com referrer: 25 %
        events += visit(n, consented=n < 120, converts=n < 105, source=None)
    store.append(events)  # type: ignore[arg-type]
    out = modeled(store, Window(T0, T0 + timedelta(days=1)))
    by = {c["channel"]: c for c in out["channels"]}
    assert by["google / cpc"]["consented_visits"] == 60
    assert by["google / cpc"]["consented_out_visits"] == 40
    assert by["google / cpc"]["modeled"] == 4.0  # 6/60 x 40
    assert by["www.google.com"]["modeled"] == 5.0  # 5/20 x 20
    assert out["modeled"] == 9.0
    assert out["interval95"]["lower"] < 9.0 < out["interval95"]["upper"]
    assert out["observed"] == {"consented": 11, "pseudonymous": 0}
