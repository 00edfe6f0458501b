"""``/v1/qa/*``: tracking QA as JSON for the dashboard (docs/api.md, docs/qa.md).

- ``GET /v1/qa/health?from=&to=``: health figures (last hour by default);
- ``GET /v1/qa/anomalies?to=&hours=&weeks=&z=&series=``: volume anomalies of the last hours,
  and up to ``series`` series hour by hour beside their forecast band;
- ``GET /v1/qa/alerts?limit=``: recent alerts and the conditions still active;
- ``GET /v1/qa/modeled?from=&to=``: modeled conversions (last 7 days by default).

``handlers()`` gives the plain ``(scope, receive) -> dict`` handlers, for a caller that
authorises in its own way; ``routes()`` wraps them with the admin token (a dashboard session
is bridged to it by the server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from convtrack.asgi import Handler, Receive, Scope, Send, only, send_json
from convtrack.errors import ConvtrackError
from convtrack.plan import CompiledPlan
from convtrack.qa import anomaly
from convtrack.qa.alerts import Alerter
from convtrack.qa.health import health
from convtrack.qa.modeled import modeled
from convtrack.qa.sql import Conversions, parse_instant, utcnow, window_from
from convtrack.store.base import EventStore
from convtrack.web.admin import require_token

PlainHandler = Callable[[Scope, Receive], Awaitable[dict[str, Any]]]


def query_of(scope: Scope) -> dict[str, str]:
    raw = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {k: v[-1] for k, v in raw.items()}


def number(q: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = q.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ConvtrackError("bad_parameter", f"{name} must be a number from {low:g} to {high:g}.")
    return value


@dataclass
class QaApi:
    store: EventStore
    token: str
    alerter: Alerter
    writer_stats: Callable[[], Mapping[str, Any]] | None = None
    plan: Callable[[], CompiledPlan] | None = None  # the active plan: what counts as conversion

    def handlers(self) -> dict[str, PlainHandler]:
        return {
            "/v1/qa/health": self._health,
            "/v1/qa/anomalies": self._anomalies,
            "/v1/qa/alerts": self._alerts,
            "/v1/qa/modeled": self._modeled,
        }

    def routes(self) -> dict[str, Handler]:
        return {path: self._wrap(action) for path, action in self.handlers().items()}

    def _wrap(self, action: PlainHandler) -> Handler:
        async def handler(scope: Scope, receive: Receive, send: Send) -> None:
            require_token(scope, self.token)
            only(scope)
            await send_json(send, 200, await action(scope, receive))

        return handler

    async def _health(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        w = window_from(query_of(scope), timedelta(hours=1))
        stats = dict(self.writer_stats()) if self.writer_stats is not None else None
        return await asyncio.to_thread(health, self.store, w, stats, self._conversions())

    async def _anomalies(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        q = query_of(scope)
        end = parse_instant("to", q["to"]) if q.get("to") else utcnow()
        hours = int(number(q, "hours", 24, 1, 24 * 31))
        band = anomaly.Band(weeks=int(number(q, "weeks", 4, 1, 52)), z=number(q, "z", 3.5, 1, 20))
        charted = int(number(q, "series", 5, 0, 20))
        return await asyncio.to_thread(anomaly.report, self.store, end, hours, band, charted)

    async def _alerts(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        limit = int(number(query_of(scope), "limit", 100, 1, 1000))
        return await asyncio.to_thread(self.alerter.listing, limit)  # read from the store

    async def _modeled(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        w = window_from(query_of(scope), timedelta(days=7))
        return await asyncio.to_thread(modeled, self.store, w, self._conversions())

    def _conversions(self) -> Conversions:
        return Conversions.of_plan(self.plan() if self.plan is not None else None)
