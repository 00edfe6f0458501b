"""Operator actions for the CLI, through the running server or straight on the store.

While ``convtrack serve`` holds the DuckDB file no other process may open it, so the CLI
talks to the server's admin API (found through ``<data_dir>/server.json``). When no server
runs, it opens the store itself.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from convtrack.attribution.spend import json_chunks
from convtrack.collect.quarantine import QuarantineDesk, filters_from_query
from convtrack.collect.replay import ReplayOptions
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.identity.records import StitchPolicy
from convtrack.jsonable import plain_row
from convtrack.keys import create_key, key_view
from convtrack.plan import CompiledPlan, PlanError
from convtrack.plan.active import compile_file, problem_lines
from convtrack.store import EventStore, QueryResult, open_store
from convtrack.store.base import SpendRow

SERVER_FILE = "server.json"
SPEND_CHUNK_BYTES = 1_048_576  # per POST /v1/admin/spend request (the server takes 4 MiB)


class Ops(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult: ...
    def events_after(self, cursor: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]: ...
    def last_events(self, limit: int) -> list[dict[str, Any]]: ...
    def list_keys(self) -> list[dict[str, Any]]: ...
    def create_key(self, name: str, kind: str) -> dict[str, Any]: ...
    def revoke_key(self, key: str) -> dict[str, Any]: ...
    def quarantine_list(self, query: dict[str, str]) -> dict[str, Any]: ...
    def quarantine_show(self, reject_id: str) -> dict[str, Any]: ...
    def quarantine_replay(
        self, ids: list[str], replay_all: bool, dry_run: bool
    ) -> dict[str, Any]: ...
    def import_spend(self, rows: Sequence[SpendRow], source: str) -> dict[str, int]: ...
    def attribution(self, query: dict[str, list[str]], step: Any = None) -> dict[str, Any]: ...
    def save_credits(self, query: dict[str, list[str]], step: Any = None) -> dict[str, Any]: ...
    def rebuild_identity(self) -> dict[str, Any]: ...
    def privacy_erase(self, option: str, value: str, dry_run: bool) -> dict[str, Any]: ...
    def privacy_export(self, option: str, value: str) -> dict[str, Any]: ...
    def privacy_purge(self, dry_run: bool) -> dict[str, Any]: ...
    def close(self) -> None: ...


def write_server_file(data_dir: Path, url: str) -> Path:
    path = data_dir / SERVER_FILE
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    return path


def running_server(data_dir: Path) -> str | None:
    """URL of the server that holds this data directory, if one is alive."""
    path = data_dir / SERVER_FILE
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(info["url"])


class ServerOps:
    def __init__(self, url: str, token: str) -> None:
        self._http = httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60
        )

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ConvtrackError(
                "server_unreachable", f"Cannot reach the server: {exc}", 503
            ) from None
        return self._answer(response)

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        body = response.json()
        if response.status_code >= 400:
            err = body.get("error", {})
            raise ConvtrackError(
                err.get("code", "error"),
                err.get("message", ""),
                response.status_code,
                err.get("details") or [],
            )
        return body

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        body = self._call(
            "POST", "/v1/admin/sql", json={"sql": sql, "params": list(params), "limit": 1_000_000}
        )
        return QueryResult(body["columns"], [tuple(r) for r in body["rows"]])

    def events_after(self, cursor: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params |= {"after_received_at": cursor[0], "after_event_id": cursor[1]}
        return list(self._call("GET", "/v1/admin/events", params=params)["events"])

    def last_events(self, limit: int) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/admin/events", params={"last": limit})["events"])

    def list_keys(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/admin/keys")["keys"])

    def create_key(self, name: str, kind: str) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/admin/keys", json={"name": name, "kind": kind}))

    def revoke_key(self, key: str) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/admin/keys/revoke", json={"key": key}))

    def quarantine_list(self, query: dict[str, str]) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/admin/quarantine", params=query))

    def quarantine_show(self, reject_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/admin/quarantine/{quote(reject_id, safe='')}"))

    def quarantine_replay(self, ids: list[str], replay_all: bool, dry_run: bool) -> dict[str, Any]:
        body = {"ids": ids, "all": replay_all, "dry_run": dry_run}
        return dict(self._call("POST", "/v1/admin/quarantine/replay", json=body, timeout=None))

    def import_spend(self, rows: Sequence[SpendRow], source: str) -> dict[str, int]:
        """One request (one transaction) per chunk; a re-run after a failure is safe: it
        replaces what an earlier chunk stored."""
        counts = {"inserted": 0, "replaced": 0}
        for chunk in json_chunks(rows, SPEND_CHUNK_BYTES):
            body = {"rows": chunk, "source": source}
            done = self._call("POST", "/v1/admin/spend", json=body, timeout=None)
            counts = {k: n + int(done[k]) for k, n in counts.items()}
        return counts

    def plan(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/admin/plan"))

    def rebuild_identity(self) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/admin/identity/rebuild", timeout=None))

    def attribution(self, query: dict[str, list[str]], step: Any = None) -> dict[str, Any]:
        """The server runs the report with its active plan (what it ingests with)."""
        if step is not None:
            step("waiting for the server")
        return dict(self._call("GET", "/v1/reports/attribution", params=query, timeout=None))

    def save_credits(self, query: dict[str, list[str]], step: Any = None) -> dict[str, Any]:
        if step is not None:
            step("waiting for the server")
        path = "/v1/reports/attribution/credits"
        return dict(self._call("POST", path, params=query, timeout=None))

    def reload_plan(self) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/admin/plan/reload"))

    def export_parquet(
        self, out: str, start: str | None, end: str | None, progress: Any = None
    ) -> dict[str, Any]:
        """The server writes the lake (it holds the DuckDB file); ``out``: absolute. Its
        progress lines (web/export_stream.py) are passed to ``progress(done, total, day)``."""
        body = {"out": out, "start": start, "end": end}
        headers = {"accept": "application/x-ndjson, application/json"}
        request = self._http.build_request(
            "POST", "/v1/admin/export", json=body, headers=headers, timeout=None
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            message = f"Cannot reach the server: {exc}"
            raise ConvtrackError("server_unreachable", message, 503) from None
        try:
            if not response.headers.get("content-type", "").startswith("application/x-ndjson"):
                response.read()  # an error before the export began, or an older server
                return dict(self._answer(response))
            return _export_lines(response.iter_lines(), progress)
        except httpx.HTTPError as exc:
            raise ConvtrackError(
                "server_unreachable", f"The server stopped answering mid-export: {exc}", 503
            ) from None
        finally:
            response.close()

    # Email, phone and external id travel hashed (the server keeps a digest as it is).
    def privacy_erase(self, option: str, value: str, dry_run: bool) -> dict[str, Any]:
        body = {option: _hashed(option, value), "dry_run": dry_run}
        return dict(self._call("POST", "/v1/privacy/erase", json=body, timeout=None))

    def privacy_export(self, option: str, value: str) -> dict[str, Any]:
        params = {option: _hashed(option, value)}
        return dict(self._call("GET", "/v1/privacy/export", params=params, timeout=None))

    def privacy_purge(self, dry_run: bool) -> dict[str, Any]:
        body = {"dry_run": dry_run}
        return dict(self._call("POST", "/v1/admin/privacy/purge", json=body, timeout=None))

    def close(self) -> None:
        self._http.close()


class StoreOps:
    def __init__(self, store: EventStore, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or Settings()

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        return self.store.query(sql, params)

    def events_after(self, cursor: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        parsed = (datetime.fromisoformat(cursor[0]), cursor[1]) if cursor else None
        return [plain_row(r) for r in self.store.events_after(parsed, limit)]

    def last_events(self, limit: int) -> list[dict[str, Any]]:
        return [plain_row(r) for r in self.store.last_events(limit)]

    def list_keys(self) -> list[dict[str, Any]]:
        return [key_view(k) for k in self.store.list_keys()]

    def create_key(self, name: str, kind: str) -> dict[str, Any]:
        record, plaintext = create_key(self.store, name, kind)
        return {"key": plaintext, **key_view(record)}

    def revoke_key(self, key: str) -> dict[str, Any]:
        record = self.store.revoke_key(key)
        if record is None:
            raise ConvtrackError("key_not_found", f"No active key with id or name {key!r}.", 404)
        return key_view(record)

    def quarantine_list(self, query: dict[str, str]) -> dict[str, Any]:
        return self._desk().find(*filters_from_query(query))

    def quarantine_show(self, reject_id: str) -> dict[str, Any]:
        return self._desk().show(reject_id)

    def quarantine_replay(self, ids: list[str], replay_all: bool, dry_run: bool) -> dict[str, Any]:
        return self._desk().replay(ids, replay_all=replay_all, dry_run=dry_run)

    def import_spend(self, rows: Sequence[SpendRow], source: str) -> dict[str, int]:
        return self.store.upsert_spend(rows, source)

    def rebuild_identity(self) -> dict[str, Any]:
        return self.store.rebuild_identity()

    def attribution(self, query: dict[str, list[str]], step: Any = None) -> dict[str, Any]:
        from convtrack.attribution.service import params_from, run_report

        plan = configured_plan(self.settings.plan)
        params = params_from(query)
        report = run_report(self.store, plan, params, self.settings.default_currency, step)
        return report.as_json()

    def save_credits(self, query: dict[str, list[str]], step: Any = None) -> dict[str, Any]:
        from convtrack.attribution.service import params_from, save_report_credits

        plan = configured_plan(self.settings.plan)
        params = params_from(query)
        return save_report_credits(self.store, plan, params, self.settings.default_currency, step)

    def privacy_erase(self, option: str, value: str, dry_run: bool) -> dict[str, Any]:
        from convtrack.privacy.erase import erase

        return erase(self.store, option, value, dry_run=dry_run)

    def privacy_export(self, option: str, value: str) -> dict[str, Any]:
        from convtrack.privacy.export import export

        return export(self.store, option, value)

    def privacy_purge(self, dry_run: bool) -> dict[str, Any]:
        from convtrack.privacy.retention import Retention, purge

        return purge(self.store, Retention.from_settings(self.settings), dry_run=dry_run)

    def _desk(self) -> QuarantineDesk:
        """Replay here checks against the plan file of the settings, as the server would."""
        options = ReplayOptions.from_settings(self.settings)
        return QuarantineDesk(self.store, lambda: configured_plan(self.settings.plan), options)

    def close(self) -> None:
        self.store.close()


def _hashed(option: str, value: str) -> str:
    """The value as the store holds it: email, phone and external id hashed here."""
    from convtrack.identity.lookup import identifier

    return identifier(option, value)[1]


def configured_plan(path: str) -> CompiledPlan:
    """The plan file ``path`` compiled; its problems as a CLI error when it does not lint."""
    try:
        return compile_file(path)
    except PlanError as exc:
        lines = "\n".join(problem_lines(exc))
        raise ConvtrackError("invalid_plan", f"the tracking plan has problems:\n{lines}") from None


def _export_lines(lines: Iterator[str], progress: Any) -> dict[str, Any]:
    """The export's ndjson answer: progress lines to ``progress``, then its result (or its
    error, raised)."""
    for text in lines:
        if not text.strip():
            continue
        line = json.loads(text)
        if "progress" in line:
            if progress is not None:
                report = line["progress"]
                progress(report["done"], report["total"], report["day"])
        elif "error" in line:
            err = line["error"]
            code, message = err.get("code", "error"), err.get("message", "")
            raise ConvtrackError(code, message, 500, err.get("details") or [])
        else:
            return dict(line)
    raise ConvtrackError(
        "export_interrupted",
        "The server's answer ended before the export's result; its log says why. "
        "Run the export again: it writes only what is still missing.",
        502,
    )


def server_ops(settings: Settings) -> ServerOps | None:
    """The admin API of the server serving this data directory; None when none runs."""
    url = running_server(settings.data_dir)
    if url is None:
        return None
    return ServerOps(url, (settings.data_dir / "admin.token").read_text().strip())


@contextlib.contextmanager
def session(settings: Settings, *, write: bool = False) -> Iterator[Ops]:
    """``connect`` for a ``with`` block: the connection is closed however the block ends."""
    ops = connect(settings, write=write)
    try:
        yield ops
    finally:
        ops.close()


def connect(settings: Settings, *, write: bool = False) -> Ops:
    url = running_server(settings.data_dir)
    if url is not None:
        token = (settings.data_dir / "admin.token").read_text().strip()
        return ServerOps(url, token)
    store = open_store(settings.store_url, read_only=not write)
    if write:
        store.migrate()
        policy = StitchPolicy.from_settings(settings)
        store.configure_identity(policy, settings.identity_stitching)
    return StoreOps(store, settings)
