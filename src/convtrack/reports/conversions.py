"""The conversions report: counted conversions grouped by name, category or day.

Each row is one group and one currency (values in different currencies are never summed).
A group with no counted conversion in the range still shows (``by name`` and ``by
category``), with count 0 and no currency or value. A category counts the conversions in it
and in every category below it (``purchase`` includes ``purchase/subscription/renewal``);
each conversion keeps its own counting rule, so the roll-up is the sum of its children.

Columns:
- ``by name``: conversion, category, counting, currency, count, value
- ``by category``: category, depth (1 for a root), conversions (how many the plan puts in it
  or below it), currency, count, value
- ``by day``: day (UTC, ISO date), conversion, category, currency, count, value
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from convtrack.plan import CompiledPlan
from convtrack.plan.hierarchy import rollup
from convtrack.reports.counting import Candidate, Hit, Window, count_hits

By = Literal["day", "category", "name"]
BY: tuple[By, ...] = ("day", "category", "name")
GroupKey = tuple[Any, ...]


@dataclass(frozen=True)
class Report:
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class _Total:
    count: int = 0
    value: Decimal | None = None

    def add(self, hit: Hit) -> None:
        self.count += 1
        if hit.value is not None:
            self.value = hit.value + (self.value or Decimal(0))


def _totals(
    hits: Iterable[Hit], keys: Callable[[Hit], list[GroupKey]]
) -> dict[GroupKey, dict[str | None, _Total]]:
    """group key → currency → count and value."""
    out: dict[GroupKey, dict[str | None, _Total]] = {}
    for hit in hits:
        for key in keys(hit):
            out.setdefault(key, {}).setdefault(hit.currency, _Total()).add(hit)
    return out


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 6))


def _expand(key: GroupKey, by_currency: dict[str | None, _Total] | None) -> list[list[Any]]:
    if not by_currency:
        return [[*key, None, 0, None]]
    ordered = sorted(by_currency.items(), key=lambda kv: kv[0] or "")
    return [[*key, cur, t.count, _money(t.value)] for cur, t in ordered]


def by_name(hits: Iterable[Hit], plan: CompiledPlan) -> Report:
    totals = _totals(hits, lambda h: [(h.conversion.name,)])
    rows: list[list[Any]] = []
    for conv in plan.plan.conversions:
        for row in _expand((conv.name,), totals.get((conv.name,))):
            rows.append([row[0], conv.category, conv.counting, *row[1:]])
    return Report(["conversion", "category", "counting", "currency", "count", "value"], rows)


def by_category(hits: Iterable[Hit], plan: CompiledPlan) -> Report:
    totals = _totals(hits, lambda h: [(c,) for c in rollup(h.conversion.category)])
    members: dict[str, int] = {}
    for conv in plan.plan.conversions:
        for cat in rollup(conv.category):
            members[cat] = members.get(cat, 0) + 1
    rows: list[list[Any]] = []
    for cat in sorted(members, key=lambda c: c.split("/")):
        for row in _expand((cat,), totals.get((cat,))):
            rows.append([cat, cat.count("/") + 1, members[cat], *row[1:]])
    columns = ["category", "depth", "conversions", "currency", "count", "value"]
    return Report(columns, rows)


def by_day(hits: Iterable[Hit], plan: CompiledPlan) -> Report:
    totals = _totals(hits, lambda h: [(h.day, h.conversion.name, h.conversion.category)])
    order = {c.name: i for i, c in enumerate(plan.plan.conversions)}
    rows: list[list[Any]] = []
    for key in sorted(totals, key=lambda k: (k[0], order.get(k[1], len(order)), k[1])):
        day: date = key[0]
        rows.extend(_expand((day.isoformat(), *key[1:]), totals[key]))
    return Report(["day", "conversion", "category", "currency", "count", "value"], rows)


GROUPINGS: dict[By, Callable[[Iterable[Hit], CompiledPlan], Report]] = {
    "day": by_day,
    "category": by_category,
    "name": by_name,
}


def conversions_report(
    events: Iterable[Candidate],
    plan: CompiledPlan,
    by: By,
    window: Window | None = None,
    default_currency: str = "USD",
) -> Report:
    """The report from candidate events (see ``counting``) and the compiled plan."""
    hits = list(count_hits(events, plan, window or Window(), default_currency))
    return GROUPINGS[by](hits, plan)
