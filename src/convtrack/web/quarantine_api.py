"""``/v1/admin/quarantine``: list, show and replay quarantined events (mounted by AdminApi).

- ``GET  /v1/admin/quarantine?status=&source=&since=&reason=&limit=``: rows and top reasons
- ``GET  /v1/admin/quarantine/{reject_id}``: one row with its payload
- ``POST /v1/admin/quarantine/replay`` ``{"ids": [...], "all": false, "dry_run": false}``

Replay runs against the server's active plan (see collect/quarantine.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import msgspec

from convtrack.asgi import Receive, Scope, read_json
from convtrack.collect.quarantine import QuarantineDesk, filters_from_query
from convtrack.collect.replay import ReplayOptions
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.plan import CompiledPlan
from convtrack.store.base import EventStore

PREFIX = "/v1/admin/quarantine"


class ReplayIn(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[str] = []
    all: bool = False
    dry_run: bool = False


@dataclass
class QuarantineApi:
    desk: QuarantineDesk

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", PREFIX): self._list, ("POST", PREFIX + "/replay"): self._replay}

    def item_route(self, method: str, path: str) -> Any:
        """The handler of ``GET /v1/admin/quarantine/{reject_id}``, if that is the path."""
        if method == "GET" and path.startswith(PREFIX + "/") and len(path) > len(PREFIX) + 1:
            return self._show
        return None

    async def _list(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        filters, limit = filters_from_query({k: v[0] for k, v in query.items()})
        return await asyncio.to_thread(self.desk.find, filters, limit)

    async def _show(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        reject_id = unquote(scope["path"][len(PREFIX) + 1 :])
        return await asyncio.to_thread(self.desk.show, reject_id)

    async def _replay(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        raw = await read_json(scope, receive, 1_048_576)
        try:
            body = msgspec.json.decode(raw or b"{}", type=ReplayIn)
        except msgspec.ValidationError as exc:  # first: it is a subclass of DecodeError
            raise ConvtrackError("invalid_request", str(exc), 422) from None
        except msgspec.DecodeError as exc:
            raise ConvtrackError("malformed_json", f"The body is not valid JSON ({exc}).") from None
        return await asyncio.to_thread(
            self.desk.replay, body.ids, replay_all=body.all, dry_run=body.dry_run
        )


def quarantine_api(
    store: EventStore, plan: Callable[[], CompiledPlan], settings: Settings
) -> QuarantineApi:
    """The API over ``store``; ``plan`` gives the plan in force at each replay."""
    return QuarantineApi(QuarantineDesk(store, plan, ReplayOptions.from_settings(settings)))
