"""Shape attribution credits into the report: per model and label, with spend, CPA, ROAS,
and path analytics (top converting paths, path length, time to convert).

Money is reported in one currency (``currency``): revenue credited in other currencies is
listed apart (``revenue_other``) and never summed with it; spend in other currencies is left
out with a note. CPA = spend / conversions; ROAS = revenue / spend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convtrack.attribution.engine import Credits, PathRows

# Which spend column matches labels at each level; other levels have no spend.
SPEND_KEYS = {"channel": "channel", "campaign": "campaign"}
DAYS_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "same day"), (1, 1, "1 day"), (2, 3, "2-3 days"), (4, 7, "4-7 days"),
    (8, 14, "8-14 days"), (15, 30, "15-30 days"), (31, None, "31+ days"),
)  # fmt: skip
TOP_PATHS = 20
MAX_LENGTH = 10  # path lengths above this are one bucket


@dataclass
class Report:
    level: str
    currency: str
    grain: str | None
    models: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    paths: dict[str, Any]
    totals: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level, "currency": self.currency, "grain": self.grain,
            "models": self.models, "totals": self.totals, "rows": self.rows,
            "paths": self.paths, "notes": self.notes, "model_details": self.meta,
        }  # fmt: skip


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(float(x), digits)


def _bucket(value: Any) -> str | None:
    return None if value is None else str(value)[:10]


def build_report(
    credits: Credits,
    *,
    level: str,
    currency: str,
    grain: str | None,
    models: list[dict[str, Any]],
    spend: Sequence[tuple[str, Any, str, float]] = (),
) -> Report:
    """``spend``: rows of (label, bucket or None, currency, amount) at the report's level."""
    notes: list[str] = []
    money: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for model, label, bucket, cur, count, value in credits.rows:
        key = (model, label, _bucket(bucket))
        acc = money.setdefault(key, {"conversions": 0.0, "revenue": 0.0, "other": {}})
        acc["conversions"] += count
        if value is None:
            continue
        if cur == currency:
            acc["revenue"] += value
        else:
            other = acc["other"]
            other[cur or "?"] = other.get(cur or "?", 0.0) + value
    spent: dict[tuple[str, str | None], float] = defaultdict(float)
    skipped: set[str] = set()
    for label, bucket, cur, amount in spend:
        if cur == currency:
            spent[(label, _bucket(bucket))] += float(amount)
        else:
            skipped.add(cur)
    if skipped:
        notes.append(f"spend in {', '.join(sorted(skipped))} is left out (report currency is "
                     f"{currency}; no exchange rates are applied)")  # fmt: skip
    if any(acc["other"] for acc in money.values()):
        notes.append(f"revenue in currencies other than {currency} is in revenue_other, "
                     "never added to revenue")  # fmt: skip
    rows = _rows(money, spent, [m["model"] for m in models])
    totals = {
        "conversions": credits.conversions,
        "spend": _round(sum(spent.values()), 2) if spent else None,
    }
    paths = path_analytics(credits.paths, credits.labels, currency)
    return Report(level, currency, grain, models, rows, paths, totals, notes, credits.meta)


def _rows(
    money: dict[tuple[str, str, str | None], dict[str, Any]],
    spent: dict[tuple[str, str | None], float],
    order: list[str],
) -> list[dict[str, Any]]:
    keys = set(money)
    for label, bucket in spent:  # labels with spend but no conversion still show
        keys.update((m, label, bucket) for m in order)
    rank = {m: i for i, m in enumerate(order)}
    out = []
    for model, label, bucket in sorted(keys, key=lambda k: (rank[k[0]], k[2] or "", k[1])):
        acc = money.get((model, label, bucket), {"conversions": 0.0, "revenue": 0.0, "other": {}})
        spend = spent.get((label, bucket))
        conv, revenue = acc["conversions"], acc["revenue"]
        out.append({
            "model": model, "label": label, "bucket": bucket,
            "conversions": _round(conv), "revenue": _round(revenue, 2),
            "revenue_other": {c: _round(v, 2) for c, v in sorted(acc["other"].items())},
            "spend": _round(spend, 2),
            "cpa": _round(spend / conv, 2) if spend is not None and conv > 0 else None,
            "roas": _round(revenue / spend, 4) if spend else None,
        })  # fmt: skip
    return out


def path_analytics(rows: PathRows | None, labels: list[str], currency: str) -> dict[str, Any]:
    if rows is None or not rows.paths:
        return {"top": [], "length": [], "days_to_convert": []}
    top: dict[tuple[int, ...], list[float]] = {}
    for path, conv, value, cur in zip(
        rows.paths, rows.conversions, rows.value, rows.currency, strict=True
    ):
        acc = top.setdefault(path, [0.0, 0.0])
        acc[0] += conv
        if cur == currency and not np.isnan(value):
            acc[1] += value
    total = float(rows.conversions.sum()) or 1.0
    best = sorted(top.items(), key=lambda kv: (-kv[1][0], [labels[i] for i in kv[0]]))
    best = best[:TOP_PATHS]
    length = np.bincount(np.minimum(rows.real, MAX_LENGTH), weights=rows.conversions)
    return {
        "top": [
            {"path": [labels[i] for i in p], "conversions": int(c), "share": _round(c / total, 4),
             "revenue": _round(v, 2)}
            for p, (c, v) in best
        ],
        "length": [
            {"touches": f"{n}+" if n == MAX_LENGTH else str(n), "conversions": int(c)}
            for n, c in enumerate(length) if c
        ],
        "days_to_convert": [
            {"days": name, "conversions": int(rows.conversions[
                (rows.days >= lo) & ((rows.days <= hi) if hi is not None else True)].sum())}
            for lo, hi, name in DAYS_BUCKETS
        ],
    }  # fmt: skip
