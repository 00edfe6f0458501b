"""Load the candidate events of the conversions report with one read-only SQL query.

The query is portable SQL (no engine-specific functions): the same text runs on DuckDB and
PostgreSQL (tests/attribution/test_engines.py), through the running server or straight on the
store. It selects only the
events whose name (or an alias of it) some conversion uses, before the report's end; events
before its start only for names with a once-rule (they are the history that rule needs).
The plan's own filter code then decides which conversions each event counts as.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from convtrack.errors import ConvtrackError
from convtrack.plan import CompiledPlan
from convtrack.reports.counting import Candidate, Window
from convtrack.store import QueryResult

COLUMNS = (
    "event_id", "event_name", "occurred_at", "user_id", "anonymous_id",
    "value", "currency", "order_id", "properties",
)  # fmt: skip
LIFTED = ("value", "currency", "order_id")


class Queryable(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult: ...


def parse_day(text: str | None, option: str) -> date | None:
    """An ISO date (``2024-05-01``) from the command line, or a clear error."""
    if text is None:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ConvtrackError(
            "invalid_date", f"{option} must be a date like 2024-05-01, got {text!r}"
        ) from None


def _names(plan: CompiledPlan, rules: set[str] | None = None) -> list[str]:
    """Stored names (canonical and aliases) of events some conversion uses."""
    wanted = {c.event for c in plan.plan.conversions if rules is None or c.counting in rules}
    aliases = {n for n, canonical in plan.names.items() if canonical in wanted}
    return sorted(wanted | aliases)


Query = tuple[str, list[Any]]
_AT = "CAST(? AS TIMESTAMP WITH TIME ZONE)"


def _at(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00:00"


def _in(names: list[str]) -> Query:
    return "event_name IN (" + ", ".join("?" for _ in names) + ")", list(names)


def candidates_sql(plan: CompiledPlan, window: Window) -> Query | None:
    """The query and its parameters (``?`` placeholders), or ``None`` when no conversion
    could match anything."""
    names = _names(plan)
    if not names:
        return None
    where, params = _in(names)
    clauses = [where]
    if window.end is not None:
        clauses.append(f"occurred_at < {_AT}")
        params.append(_at(window.end))
    if window.start is not None:
        history = _names(plan, {"once_per_order", "once_per_person"})
        since = f"occurred_at >= {_AT}"
        params.append(_at(window.start))
        if history:
            history_in, history_params = _in(history)
            since = f"({since} OR {history_in})"
            params += history_params
        clauses.append(since)
    select = ", ".join(COLUMNS)
    return f"SELECT {select} FROM events WHERE {' AND '.join(clauses)}", params  # noqa: S608


def _moment(raw: Any) -> datetime:
    return raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))


def _scalar(name: str, raw: Any) -> Any:
    if name == "value" and isinstance(raw, Decimal | str):
        return float(raw)  # DuckDB gives Decimal, the server's JSON a string
    return raw


def candidate(row: dict[str, Any]) -> Candidate:
    """A result row → a ``Candidate`` with the plan's view of its properties."""
    raw = row["properties"]
    props = dict(json.loads(raw) if isinstance(raw, str) else (raw or {}))
    props.update({k: _scalar(k, row[k]) for k in LIFTED if row[k] is not None})
    return Candidate(
        row["event_id"], row["event_name"], _moment(row["occurred_at"]),
        row["user_id"], row["anonymous_id"], props,
    )  # fmt: skip


def load_candidates(ops: Queryable, plan: CompiledPlan, window: Window) -> Iterable[Candidate]:
    query = candidates_sql(plan, window)
    if query is None:
        return []
    result = ops.query(*query)
    return [candidate(dict(zip(result.columns, r, strict=True))) for r in result.rows]
