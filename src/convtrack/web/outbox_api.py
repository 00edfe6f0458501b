"""``/v1/admin/outbox…`` and ``/v1/admin/destinations…``: the CLI's outbox and destination
commands while the server holds the store. Admin token only (see web/admin.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import msgspec

from convtrack.asgi import Handler, Receive, Scope, Send, only, read_json, send_json
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.forward import service
from convtrack.store.base import EventStore
from convtrack.web.admin import require_token

BODY_LIMIT = 65_536


class TargetIn(msgspec.Struct, forbid_unknown_fields=True):
    job_id: str | None = None
    destination: str | None = None


class NameIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str


def _query(scope: Scope) -> dict[str, str]:
    raw = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {k: v[-1] for k, v in raw.items()}


@dataclass
class OutboxApi:
    store: EventStore
    settings: Settings
    token: str

    def routes(self) -> dict[str, Handler]:
        return {
            "/v1/admin/outbox": self._wrap("GET", self._list),
            "/v1/admin/outbox/show": self._wrap("GET", self._show),
            "/v1/admin/outbox/retry": self._wrap("POST", self._retry),
            "/v1/admin/outbox/replay": self._wrap("POST", self._replay),
            "/v1/admin/destinations": self._wrap("GET", self._destinations),
            "/v1/admin/destinations/test": self._wrap("POST", self._test),
            "/v1/admin/destinations/resume": self._wrap("POST", self._resume),
        }

    def _wrap(self, method: str, action: Any) -> Handler:
        async def handler(scope: Scope, receive: Receive, send: Send) -> None:
            require_token(scope, self.token)
            only(scope, method)
            await send_json(send, 200, await action(scope, receive))

        return handler

    async def _body(self, scope: Scope, receive: Receive, kind: type[Any]) -> Any:
        raw = await read_json(scope, receive, BODY_LIMIT)
        try:
            return msgspec.json.decode(raw or b"{}", type=kind)
        except msgspec.ValidationError as exc:
            raise ConvtrackError("invalid_body", f"Invalid request body: {exc}") from None
        except msgspec.DecodeError:
            raise ConvtrackError("invalid_json", "The body is not valid JSON.") from None

    async def _list(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        q = _query(scope)
        limit = q.get("limit", "50")
        if not limit.isdigit():
            raise ConvtrackError("bad_limit", "limit must be a positive integer.")
        return await asyncio.to_thread(
            service.list_jobs, self.store, q.get("status"), q.get("destination"), int(limit)
        )

    async def _show(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        key = _query(scope).get("id")
        if not key:
            raise ConvtrackError("bad_request", "Give ?id=<job id or event id>.")
        return await asyncio.to_thread(service.show, self.store, key)

    async def _retry(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        t = await self._body(scope, receive, TargetIn)
        return await asyncio.to_thread(service.retry, self.store, t.job_id, t.destination)

    async def _replay(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        t = await self._body(scope, receive, TargetIn)
        return await asyncio.to_thread(service.replay, self.store, t.job_id, t.destination)

    async def _destinations(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return await asyncio.to_thread(service.destinations, self.store, self.settings)

    async def _test(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await self._body(scope, receive, NameIn)
        return await service.test(body.name)

    async def _resume(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await self._body(scope, receive, NameIn)
        return await asyncio.to_thread(service.resume, self.store, body.name)
