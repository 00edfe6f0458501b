"""Operator API (``/v1/admin/*``) used by the CLI while the server holds the store.

Authorised by the admin token the server writes to ``<data_dir>/admin.token`` (mode 0600)
at start-up: whoever can read the data directory can operate the server.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import msgspec

from convtrack import __version__
from convtrack.asgi import (
    CLOSE,
    Receive,
    Scope,
    Send,
    header,
    read_json,
    send_error,
    send_json,
)
from convtrack.errors import ConvtrackError
from convtrack.keys import create_key, key_view
from convtrack.plan import PlanError
from convtrack.plan.active import ActivePlan
from convtrack.store.base import EventStore
from convtrack.web import spend_api
from convtrack.web.export_stream import ExportRun, wants_ndjson
from convtrack.web.quarantine_api import QuarantineApi

UNAUTHORISED = ConvtrackError(
    "unauthorised",
    "Admin endpoints need `Authorization: Bearer <token>` from <data_dir>/admin.token.",
    401,
)


def require_token(scope: Scope, expected: str) -> None:
    """401 unless the request carries ``Authorization: Bearer <expected>``."""
    value = header(scope, b"authorization") or b""
    scheme, _, token = value.partition(b" ")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), expected.encode()):
        raise UNAUTHORISED


class SqlIn(msgspec.Struct, forbid_unknown_fields=True):
    sql: str
    params: list[str | int | float | bool | None] = msgspec.field(default_factory=list)
    limit: int = 10_000


class KeyIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: str = "public"


class RevokeIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str


class PurgeIn(msgspec.Struct, forbid_unknown_fields=True):
    dry_run: bool = False


class ExportIn(msgspec.Struct, forbid_unknown_fields=True):
    out: str  # an absolute folder on the server's machine (convtrack export --out)
    start: str | None = None  # YYYY-MM-DD: first UTC day of events
    end: str | None = None  # YYYY-MM-DD: UTC day after the last one


@dataclass
class AdminApi:
    store: EventStore
    token: str
    on_keys_changed: Any  # () -> None
    status: Any  # () -> dict
    plan: ActivePlan
    quarantine: QuarantineApi | None = None  # /v1/admin/quarantine…
    purge: Any = None  # (dry_run) -> dict: POST /v1/admin/privacy/purge
    export_run: ExportRun | None = None  # the last POST /v1/admin/export (one at a time)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._authorise(scope)
            route = (scope["method"], scope["path"])
            routes = self.routes()
            handler = routes.get(route)
            fixed = any(path == route[1] for _, path in routes)  # not an id: .../replay
            if handler is None and not fixed and self.quarantine is not None:
                handler = self.quarantine.item_route(*route)
            if handler is None:
                raise self._no_route(*route)
            result = await handler(scope, receive)
        except ConvtrackError as err:
            await send_error(send, err)
            return
        if isinstance(result, ExportRun):  # the client asked for ndjson: progress lines
            await result.stream(receive, send)
            return
        await send_json(send, 200, result)

    def _authorise(self, scope: Scope) -> None:
        require_token(scope, self.token)

    def _no_route(self, method: str, path: str) -> ConvtrackError:
        """405 for a known path asked with another method (its methods in ``Allow``), else 404."""
        allowed = sorted(m for m, p in self.routes() if p == path)
        item = self.quarantine is not None and self.quarantine.item_route("GET", path)
        if item and not allowed:  # an id, not a fixed path such as .../replay
            allowed = ["GET"]
        if allowed:
            methods = ", ".join(allowed)
            message = f"{path} takes {methods}, not {method}."
            headers = {"allow": methods, **CLOSE}  # its body is left unread
            return ConvtrackError("method_not_allowed", message, 405, headers=headers)
        return ConvtrackError("not_found", f"No admin endpoint {method} {path}.", 404)

    def routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/v1/admin/status"): self._status,
            ("POST", "/v1/admin/sql"): self._sql,
            ("GET", "/v1/admin/keys"): self._list_keys,
            ("POST", "/v1/admin/keys"): self._create_key,
            ("POST", "/v1/admin/keys/revoke"): self._revoke_key,
            ("GET", "/v1/admin/events"): self._events,
            ("GET", "/v1/admin/plan"): self._plan,
            ("POST", "/v1/admin/plan/reload"): self._reload_plan,
            ("POST", "/v1/admin/spend"): self._spend,
            ("POST", "/v1/admin/identity/rebuild"): self._rebuild_identity,
            ("POST", "/v1/admin/privacy/purge"): self._purge,
            ("POST", "/v1/admin/export"): self._export,
            **(self.quarantine.routes() if self.quarantine is not None else {}),
        }

    async def _body(
        self, receive: Receive, scope: Scope, kind: type[Any], limit: int = 1_048_576
    ) -> Any:
        raw = await read_json(scope, receive, limit)
        try:
            return msgspec.json.decode(raw, type=kind)
        except msgspec.ValidationError as exc:  # first: it is a subclass of DecodeError
            raise ConvtrackError("invalid_request", str(exc), 422) from None
        except msgspec.DecodeError as exc:
            raise ConvtrackError("malformed_json", f"The body is not valid JSON ({exc}).") from None

    async def _status(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return {"version": __version__, **(await asyncio.to_thread(self.status))}

    async def _sql(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await self._body(receive, scope, SqlIn)
        result = await asyncio.to_thread(self.store.query, body.sql, body.params)
        rows = result.rows[: max(0, body.limit)]
        return {"columns": result.columns, "rows": rows, "truncated": len(result.rows) > len(rows)}

    async def _list_keys(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        keys = await asyncio.to_thread(self.store.list_keys)
        return {"keys": [key_view(k) for k in keys]}

    async def _create_key(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await self._body(receive, scope, KeyIn)
        record, plaintext = await asyncio.to_thread(create_key, self.store, body.name, body.kind)
        await asyncio.to_thread(self.on_keys_changed)
        return {"key": plaintext, **key_view(record)}

    async def _revoke_key(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await self._body(receive, scope, RevokeIn)
        record = await asyncio.to_thread(self.store.revoke_key, body.key)
        if record is None:
            raise ConvtrackError(
                "key_not_found", f"No active key with id or name {body.key!r}.", 404
            )
        await asyncio.to_thread(self.on_keys_changed)
        return key_view(record)

    async def _events(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        cursor = _cursor(query)
        try:
            raw_limit = (query.get("last") or query.get("limit") or ["100"])[0]
            limit = min(int(raw_limit), 1000)
        except ValueError:
            limit = -1
        if limit < 0:
            message = "limit must be a whole number from 0 (more than 1000 return 1000)."
            raise ConvtrackError("invalid_limit", message)
        if "last" in query:
            rows = await asyncio.to_thread(self.store.last_events, limit)
        else:
            rows = await asyncio.to_thread(self.store.events_after, cursor, limit)
        return {"events": rows}

    async def _spend(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await self._body(receive, scope, spend_api.SpendIn, spend_api.BODY_LIMIT)
        return await spend_api.import_spend(self.store, body)

    async def _rebuild_identity(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return await asyncio.to_thread(self.store.rebuild_identity)

    async def _purge(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        if self.purge is None:
            raise ConvtrackError("not_found", "Retention is not available here.", 404)
        body = await self._body(receive, scope, PurgeIn)
        return dict(await asyncio.to_thread(self.purge, body.dry_run))

    async def _export(self, scope: Scope, receive: Receive) -> dict[str, Any] | ExportRun:
        """``convtrack export`` while this server holds the DuckDB file: the store process
        writes the lake from a reader connection (a thread of its call pool, never the writer
        or the event loop), so ingest carries on. Answered as ndjson progress lines when the
        client accepts them (web/export_stream.py), else with the result once it is done."""
        from convtrack.export.parquet import export_running
        from convtrack.reports.conversions_query import parse_day

        body = await self._body(receive, scope, ExportIn)
        if not body.out.startswith("/"):
            raise ConvtrackError("invalid_request", "out must be an absolute path.", 422)
        start, end = parse_day(body.start, "start"), parse_day(body.end, "end")
        if self.export_run is not None and self.export_run.running:
            raise export_running()  # PostgreSQL: the lake's advisory lock also guards others
        streamed = wants_ndjson(scope)
        self.export_run = run = ExportRun(
            lambda report: self.store.export_parquet(body.out, start, end, report), streamed
        )
        return run if streamed else await run.result()

    async def _plan(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        return self.plan.describe()

    async def _reload_plan(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        """Load and compile the plan file again; a bad plan is refused and the old one stays."""
        previous = self.plan.version
        try:
            await asyncio.to_thread(self.plan.reload, "admin API")
        except PlanError as exc:
            raise ConvtrackError(
                "invalid_plan",
                f"The plan file does not lint clean; plan {previous} stays in force. "
                "Fix the problems listed in details (`convtrack plan lint` shows them too).",
                422,
                details=plan_problems(exc),
            ) from None
        return {**self.plan.describe(), "previous_version": previous}


def _cursor(query: dict[str, list[str]]) -> tuple[datetime, str] | None:
    """``after_received_at`` and ``after_event_id``: both (a valid ISO 8601 time) or neither."""
    when, event_id = query.get("after_received_at"), query.get("after_event_id")
    if when is None and event_id is None:
        return None
    try:
        if when is None or event_id is None:
            raise ValueError
        return datetime.fromisoformat(when[0]), event_id[0]
    except ValueError:
        raise ConvtrackError(
            "invalid_cursor",
            "The cursor is after_received_at (ISO 8601) and after_event_id, both together.",
        ) from None


def plan_problems(exc: PlanError) -> list[dict[str, Any]]:
    """A refused plan's errors in the error shape: ``path`` is ``file:line:column``."""
    return [
        {"path": f"{p.file}:{p.line}:{p.column}", "reason": p.message}
        for p in exc.problems
        if p.severity == "error"
    ]
