"""``GET /v1/reports/attribution``: the attribution report as JSON (same parameters and
result as ``convtrack attribute --format json``); ``POST /v1/reports/attribution/credits``
writes the ``conversion_credits`` table (``--save``). Authorised like the operator API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from convtrack.asgi import Receive, Scope, Send, only, send_json
from convtrack.attribution.engine import CreditStore
from convtrack.attribution.service import params_from, run_report, save_report_credits
from convtrack.plan import CompiledPlan


@dataclass
class AttributionEndpoint:
    """``GET /v1/reports/attribution`` (the report) and ``POST …/attribution/credits``
    (write the ``conversion_credits`` table for the same parameters)."""

    source: CreditStore
    plan: Callable[[], CompiledPlan]  # the active plan, read per request
    default_currency: str
    authorise: Callable[[Scope], None]  # raises ConvtrackError 401

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        save = scope["path"].endswith("/credits")
        allowed = "POST" if save else "GET, HEAD"
        only(scope, allowed)
        self.authorise(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        params = params_from(query)  # 400 on bad parameters, before any work
        result = await asyncio.to_thread(self._save if save else self._run, params)
        await send_json(send, 200, result)

    def _run(self, params: Any) -> dict[str, Any]:
        report = run_report(self.source, self.plan(), params, self.default_currency)
        return report.as_json()

    def _save(self, params: Any) -> dict[str, Any]:
        return save_report_credits(self.source, self.plan(), params, self.default_currency)
