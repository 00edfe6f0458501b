"""SKAdNetwork installs per campaign: aggregates only (docs/mobile.md).

Rows come from ``links_model.summary_sql`` (per source identifier and app); each source
identifier is named by the ``skan_campaigns`` setting — its own entry, else the entry of its
longest mapped prefix (a 4.0 source identifier is hierarchical: more digits are sent when the
crowd is large enough), else the identifier itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from convtrack.store import QueryResult
from convtrack.store.links_model import SKAN_SUMMARY_COLUMNS, summary_sql

COUNTS = SKAN_SUMMARY_COLUMNS[2:]
COLUMNS = ["campaign", "source_identifiers", "app_id", *COUNTS]


def summary_query(start: date | None, end: date | None) -> str:
    """The summary SQL for [start, end) with the days inlined (they are parsed dates)."""
    sql = summary_sql("{}")
    return sql.format(_at(start), _at(end))


def _at(day: date | None) -> str:
    return f"CAST('{day.isoformat()} 00:00:00+00:00' AS TIMESTAMPTZ)" if day else "NULL"


def campaign_of(source_identifier: str, campaigns: dict[str, str]) -> str:
    for length in range(len(source_identifier), 0, -1):
        if (name := campaigns.get(source_identifier[:length])) is not None:
            return name
    return source_identifier


def by_campaign(summary: QueryResult, campaigns: dict[str, str]) -> QueryResult:
    """Sum the per-identifier rows into one row per campaign and app."""
    groups: dict[tuple[str, Any], dict[str, Any]] = {}
    for row in summary.rows:
        values = dict(zip(summary.columns, row, strict=True))
        key = (campaign_of(str(values["source_identifier"]), campaigns), values["app_id"])
        group = groups.setdefault(key, {"ids": [], **dict.fromkeys(COUNTS, 0)})
        group["ids"].append(str(values["source_identifier"]))
        for name in COUNTS:
            group[name] += int(values[name] or 0)
    rows: list[Sequence[Any]] = [
        (name, ",".join(g["ids"]), app, *(g[c] for c in COUNTS))
        for (name, app), g in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    ]
    return QueryResult(list(COLUMNS), [tuple(r) for r in rows])
