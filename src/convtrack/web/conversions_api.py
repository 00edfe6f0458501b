"""``GET /v1/reports/conversions?by=day|category|name&from=&to=``: the conversions report
(``convtrack conversions --format json``) as ``{"by", "columns", "rows", "currency"}``.

Counted under the active plan's counting rules and rolled up through its category hierarchy
(see reports/conversions.py). Authorised like the dashboard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs

from convtrack.asgi import Receive, Scope, Send, only, send_json
from convtrack.errors import ConvtrackError
from convtrack.plan import CompiledPlan
from convtrack.reports.conversions import BY, By, conversions_report
from convtrack.reports.conversions_query import load_candidates, parse_day
from convtrack.reports.counting import Window
from convtrack.store.base import EventStore


def _bad(message: str) -> ConvtrackError:
    return ConvtrackError("invalid_report_parameter", message, 400)


def window_and_by(query: dict[str, list[str]]) -> tuple[Window, By]:
    unknown = sorted(set(query) - {"by", "from", "to"})
    if unknown:
        raise _bad(f"unknown parameter {', '.join(unknown)}; known: by, from, to")
    by = (query.get("by") or ["name"])[0]
    if by not in BY:
        raise _bad(f"by must be one of {', '.join(BY)}, got {by!r}")
    start = parse_day(next(iter(query.get("from") or []), None), "from")
    end = parse_day(next(iter(query.get("to") or []), None), "to")
    if start and end and start >= end:
        raise _bad("to must be after from (to is the first day left out)")
    return Window(start, end), cast(By, by)


@dataclass
class ConversionsEndpoint:
    store: EventStore
    plan: Callable[[], CompiledPlan]
    default_currency: str
    authorise: Callable[[Scope], None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope)
        self.authorise(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        window, by = window_and_by(query)
        await send_json(send, 200, await asyncio.to_thread(self._run, window, by))

    def _run(self, window: Window, by: By) -> dict[str, Any]:
        plan = self.plan()
        events = load_candidates(self.store, plan, window)
        report = conversions_report(events, plan, by, window, self.default_currency)
        currency = plan.plan.default_currency or self.default_currency
        return {"by": by, "columns": report.columns, "rows": report.rows, "currency": currency}
