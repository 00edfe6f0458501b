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

``report`` adds, for the series that have anomalies (else the busiest), every checked hour
beside its band: what the dashboard draws as observed counts against the forecast band.
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


@dataclass(frozen=True)
class Point:
    """One hour of one series beside its forecast band (None: not enough history yet)."""

    hour: int  # epoch hour number
    observed: int
    forecast: float | None
    lower: float | None
    upper: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "hour": iso(from_epoch(self.hour * HOUR)),
            "observed": self.observed,
            "forecast": self.forecast,
            "lower": None if self.lower is None else round(self.lower, 3),
            "upper": None if self.upper is None else round(self.upper, 3),
        }


def forecast(counts: Mapping[int, int], hours: range, band: Band) -> list[Point]:
    """Every hour of ``hours`` with its count and band. Hours before the series' first count
    plus ``weeks`` weeks have no history: their band is None."""
    first = min(counts) if counts else None
    out = []
    for hour in hours:
        past = [hour - WEEK_HOURS * k for k in range(1, band.weeks + 1)]
        count = counts.get(hour, 0)
        if first is None or min(past) < first:
            out.append(Point(hour, count, None, None, None))
            continue
        expected, lower, upper = band_for([counts.get(h, 0) for h in past], band)
        out.append(Point(hour, count, expected, lower, upper))
    return out


def judge(key: tuple[str, str], p: Point, band: Band) -> Anomaly | None:
    """The point as a drop or spike, or None when it is inside its band (or not judged)."""
    if p.forecast is None or p.lower is None or p.upper is None:
        return None
    if max(p.forecast, p.observed) < band.min_volume:
        return None  # a rare event's silence is not news
    kind = "drop" if p.observed < p.lower else "spike" if p.observed > p.upper else None
    if kind is None:
        return None
    at = iso(from_epoch(p.hour * HOUR))
    lower, upper = round(p.lower, 3), round(p.upper, 3)
    return Anomaly(key[0], key[1], at, p.observed, p.forecast, lower, upper, kind)


def detect_series(
    key: tuple[str, str], counts: Mapping[int, int], hours: range, band: Band
) -> list[Anomaly]:
    """Anomalies of one series in ``hours`` (epoch hour numbers). Hours before its first
    count are 'no history': a series that is new this week is never flagged."""
    if not counts:
        return []
    found = (judge(key, p, band) for p in forecast(counts, hours, band))
    return [a for a in found if a is not None]


def _load(store: Source, end: datetime, hours: int, band: Band) -> tuple[Series, range]:
    """The counts of every series, with enough history for the last ``hours`` complete
    hours before ``end`` (the hour in progress is not complete: excluded), and those hours."""
    last = int(end.timestamp()) // HOUR
    first = last - hours
    start = from_epoch((first - WEEK_HOURS * band.weeks) * HOUR)
    return hourly_counts(store, start, from_epoch(last * HOUR)), range(first, last)


def _detect_all(series: Series, checked: range, band: Band) -> list[Anomaly]:
    found = []
    for key in sorted(series):
        found += detect_series(key, series[key], checked, band)
    return found


def detect(
    store: Source, end: datetime, hours: int = 24, band: Band | None = None
) -> list[Anomaly]:
    """Anomalies in the last ``hours`` complete hours before ``end``."""
    band = band or Band()
    series, checked = _load(store, end, hours, band)
    return _detect_all(series, checked, band)


def chosen_series(
    series: Series, checked: range, found: list[Anomaly], limit: int
) -> list[tuple[str, str]]:
    """The series worth a chart: those with anomalies, else the busiest in the checked hours;
    at most ``limit``."""
    flagged = sorted({(a.source, a.event_name) for a in found})
    if flagged:
        return flagged[:limit]
    volume = {k: sum(c.get(h, 0) for h in checked) for k, c in series.items()}
    busiest = sorted((k for k, n in volume.items() if n > 0), key=lambda k: (-volume[k], k))
    return busiest[:limit]


def report(store: Source, end: datetime, hours: int, band: Band, series: int = 5) -> dict[str, Any]:
    """The anomalies of the last ``hours`` complete hours, and up to ``series`` series hour by
    hour beside their forecast band (``GET /v1/qa/anomalies``)."""
    counts, checked = _load(store, end, hours, band)
    found = _detect_all(counts, checked, band)
    charted = [
        {
            "source": key[0],
            "event_name": key[1],
            "anomalies": sum(1 for a in found if (a.source, a.event_name) == key),
            "points": [p.as_json() for p in forecast(counts[key], checked, band)],
        }
        for key in chosen_series(counts, checked, found, max(0, series))
    ]
    return {
        "checked": {
            "from": iso(from_epoch(checked.start * HOUR)),
            "to": iso(from_epoch(checked.stop * HOUR)),
        },
        "band": asdict(band),
        "anomalies": [a.as_json() for a in found],
        "series": charted,
    }
