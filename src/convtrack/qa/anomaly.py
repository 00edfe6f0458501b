# ruff: noqa: S608  (SQL text composed here is our own constant fragments; values are ? parameters)
"""Volume anomalies: hourly event counts per (source, event name) against a forecast band that
knows the weekly cycle.

The forecast for an hour is the median of the counts in the *same hour of the week* over the
previous ``weeks`` weeks (a Monday 09:00 is compared with the Mondays 09:00 before it, so a
quiet weekend is expected, not flagged). The band is the median ± ``z`` robust standard
deviations (1.4826 × the median absolute deviation), never narrower than the Poisson noise of
the forecast (``z`` × √median) or ``min_width`` events. A count below the band is a *drop*,
above it a *spike*. Series quieter than ``min_volume`` per hour in both the forecast and the
hour itself are skipped: a rare event's silence is not news.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from convtrack.qa.sql import Source, between, epoch_bucket, from_epoch, iso, rows

HOUR = 3600
WEEK_HOURS = 168
MAD_TO_SIGMA = 1.4826

Series = dict[tuple[str, str], dict[int, int]]  # (source, event_name) -> hour -> count


@dataclass(frozen=True)
class Band:
    weeks: int = 4
    z: float = 3.5
    min_width: float = 3.0
    min_volume: float = 5.0


@dataclass(frozen=True)
class Anomaly:
    source: str
    event_name: str
    hour: str  # ISO start of the hour
    count: int
    expected: float
    lower: float
    upper: float
    kind: str  # "drop" | "spike"

    @property
    def key(self) -> str:
        return f"anomaly:{self.source}:{self.event_name}:{self.hour}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def hourly_counts(store: Source, start: datetime, end: datetime) -> Series:
    sql = (
        f"SELECT source, event_name, {epoch_bucket('received_at', HOUR)} AS hour, "
        f"count(*) AS n FROM events WHERE {between('received_at')} "
        "GROUP BY 1, 2, 3"
    )
    series: Series = defaultdict(dict)
    for r in rows(store, sql, [iso(start), iso(end)]):
        series[(r["source"], r["event_name"])][int(r["hour"])] = int(r["n"])
    return dict(series)


def band_for(history: list[int], band: Band) -> tuple[float, float, float]:
    """(expected, lower, upper) from the same hour of the previous weeks."""
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    width = max(band.z * MAD_TO_SIGMA * mad, band.z * median**0.5, band.min_width)
    return median, max(0.0, median - width), median + width


def detect_series(
    key: tuple[str, str], counts: Mapping[int, int], hours: range, band: Band
) -> list[Anomaly]:
    """Anomalies of one series in ``hours`` (epoch hour numbers). Hours before its first
    count are 'no history': a series that is new this week is never flagged."""
    if not counts:
        return []
    first = min(counts)
    found = []
    for hour in hours:
        past = [hour - WEEK_HOURS * k for k in range(1, band.weeks + 1)]
        if min(past) < first:
            continue  # not enough history yet
        history = [counts.get(h, 0) for h in past]
        count = counts.get(hour, 0)
        expected, lower, upper = band_for(history, band)
        if max(expected, count) < band.min_volume:
            continue
        kind = "drop" if count < lower else "spike" if count > upper else None
        if kind is not None:
            at = iso(from_epoch(hour * HOUR))
            found.append(
                Anomaly(key[0], key[1], at, count, expected, round(lower, 3), round(upper, 3), kind)
            )
    return found


def detect(
    store: Source, end: datetime, hours: int = 24, band: Band | None = None
) -> list[Anomaly]:
    """Anomalies in the last ``hours`` complete hours before ``end``."""
    band = band or Band()
    last = int(end.timestamp()) // HOUR  # the hour in progress is not complete: excluded
    first = last - hours
    start = from_epoch((first - WEEK_HOURS * band.weeks) * HOUR)
    series = hourly_counts(store, start, from_epoch(last * HOUR))
    found = []
    for key in sorted(series):
        found += detect_series(key, series[key], range(first, last), band)
    return found


def report(store: Source, end: datetime, hours: int, band: Band) -> dict[str, Any]:
    found = detect(store, end, hours, band)
    last = int(end.timestamp()) // HOUR
    return {
        "checked": {
            "from": iso(from_epoch((last - hours) * HOUR)),
            "to": iso(from_epoch(last * HOUR)),
        },
        "band": asdict(band),
        "anomalies": [a.as_json() for a in found],
    }
