"""Small helpers shared by the QA queries: time windows, rows as dicts, portable spellings.

Only SQL both DuckDB and PostgreSQL accept is written here: ``EXTRACT(EPOCH FROM …)``,
``split_part``, ``percentile_cont(…) WITHIN GROUP (ORDER BY …)`` and ``->>`` on JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from convtrack.errors import ConvtrackError
from convtrack.events import CLICK_IDS
from convtrack.store.base import QueryResult

if TYPE_CHECKING:
    from convtrack.plan import CompiledPlan

BROWSER_SOURCES = ("tag", "pixel")  # copies a browser sent (public write key, pixel)
SERVER_SOURCES = ("server",)  # copies a backend sent (secret write key)


def quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def any_click_id() -> str:
    """True when the event carries any click id (``gclid``, ``fbclid``, …)."""
    return "(" + " OR ".join(f"{quoted(c)} IS NOT NULL" for c in CLICK_IDS) + ")"


def epoch_bucket(column: str, seconds: int) -> str:
    """The ``seconds``-long bucket an instant falls in, as a whole number since 1970."""
    return f"CAST(floor(EXTRACT(EPOCH FROM {column}) / {seconds}) AS BIGINT)"


def host(column: str) -> str:
    """The host (and port) of an absolute URL: ``https://a.example/x`` → ``a.example``."""
    return f"NULLIF(split_part({column}, '/', 3), '')"


def json_field(column: str, key: str) -> str:
    """A top-level JSON field as text (``key`` is ours, never user input)."""
    assert key.isidentifier() and column.replace(".", "_").isidentifier()
    return f"({column} ->> '{key}')"


TS = "CAST(? AS TIMESTAMP WITH TIME ZONE)"  # an ISO-8601 parameter, read as an instant


def between(column: str) -> str:
    """``column`` in ``[?, ?)``; parameters are ISO-8601 text (``Window.params``), which the
    admin SQL API (``convtrack … `` through a running server) can carry."""
    return f"{column} >= {TS} AND {column} < {TS}"


class Source(Protocol):
    """What the QA queries need: a store, or the CLI's session through a running server."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult: ...


def rows(store: Source, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    result = store.query(sql, params)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Conversions:
    """Which stored events the QA figures count as conversions: events sent as ``type =
    'conversion'``, and events whose (canonical) name the tracking plan defines conversions
    on — a ``purchase`` sent as a ``track`` counts. A plan rule's ``where`` is not applied:
    health asks whether conversion events arrive, attribution applies the rules."""

    names: tuple[str, ...] = ()

    @classmethod
    def of_plan(cls, plan: CompiledPlan | None) -> Conversions:
        return cls(tuple(sorted(plan.conversions))) if plan is not None else cls()

    def where(self, alias: str = "") -> str:
        """The condition (``alias``: a table alias such as ``e``); ``params`` go with it."""
        prefix = f"{alias}." if alias else ""
        if not self.names:
            return f"{prefix}type = 'conversion'"
        marks = ", ".join("?" for _ in self.names)
        return f"({prefix}type = 'conversion' OR {prefix}event_name IN ({marks}))"

    @property
    def params(self) -> list[str]:
        return list(self.names)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` on ``received_at``."""

    start: datetime
    end: datetime

    @property
    def params(self) -> list[str]:
        return [iso(self.start), iso(self.end)]

    def as_json(self) -> dict[str, str]:
        return {"from": iso(self.start), "to": iso(self.end)}


def parse_instant(name: str, text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConvtrackError(
            "bad_parameter", f"{name} must be an ISO-8601 instant, e.g. 2026-01-31T12:00:00Z."
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def window_from(
    query: Mapping[str, str], default: timedelta, now: datetime | None = None
) -> Window:
    """``from``/``to`` query parameters (ISO instants); by default the last ``default``."""
    end = parse_instant("to", query["to"]) if query.get("to") else (now or utcnow())
    start = parse_instant("from", query["from"]) if query.get("from") else end - default
    if start >= end:
        raise ConvtrackError("bad_parameter", "from must be before to.")
    return Window(start, end)
