# ruff: noqa: S608  (SQL text is fixed here; every value is a parameter)
"""The parts of the store written once for both engines: write keys, dashboard sessions,
failed sign-ins and alerts.

``KeysParts`` and ``DashboardParts`` are mixins of ``DuckDBStore`` and ``PostgresStore``
(store/dashboard_model.py says what the session, sign-in and alert rows mean). Their SQL is
the same on both engines but for a few spellings, which ``Spelling`` holds: the parameter mark
(``?`` / ``%s``), membership in a list parameter, a JSON parameter and row locks that skip
rows another transaction holds (PostgreSQL only: DuckDB has one writer). Writes run in the
store's ``_transaction()``, reads on a reader cursor through ``_reading``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import msgspec

from convtrack.store.base import KeyRecord
from convtrack.store.dashboard_model import (
    ALERT_COLUMNS,
    SESSION_COLUMNS,
    TOUCH_AFTER,
    AlertRecord,
    StoredSession,
    alert_from_row,
    cleared_suffix,
)

T = TypeVar("T")
_SESSIONS = ", ".join(SESSION_COLUMNS)
_ALERTS = ", ".join(ALERT_COLUMNS)


@dataclass(frozen=True)
class Spelling:
    """How one engine spells a parameter and "``column`` is in the list parameter"."""

    mark: str
    member: str  # with {column} and {mark}
    json_mark: str  # a JSON text parameter
    skip_locked: str = ""  # after a SELECT: lock its rows, skipping those locked elsewhere

    def sql(self, text: str) -> str:
        """``text`` with each ``{p}`` a parameter mark."""
        return text.replace("{p}", self.mark)

    def in_list(self, column: str) -> str:
        return self.member.format(column=column, mark=self.mark)


DUCKDB = Spelling("?", "list_contains(CAST({mark} AS VARCHAR[]), {column})", "?")
POSTGRES = Spelling("%s", "{column} = ANY({mark}::text[])", "%s::jsonb", " FOR UPDATE SKIP LOCKED")


class _Part:
    """What a part needs of its store."""

    _spelling: ClassVar[Spelling]

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError  # the store's own

    def _reading(self, read: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # the store's own


class KeysParts(_Part):
    """Write keys: only each key's hash is stored (collect/auth.py hashes them)."""

    def insert_key(self, record: KeyRecord, key_hash: str) -> None:
        sql = (
            "INSERT INTO write_keys (key_id, name, kind, prefix, key_hash, created_at)"
            " VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
        )
        with self._transaction() as con:
            con.execute(self._spelling.sql(sql), [record.key_id, record.name, record.kind,
                        record.prefix, key_hash, record.created_at])  # fmt: skip

    def _keys(self, where: str = "", params: Sequence[Any] = ()) -> list[tuple[KeyRecord, str]]:
        """Keys and their hashes; ``where`` (with ``{p}`` marks) is our own constant text."""
        sql = self._spelling.sql(
            "SELECT key_id, name, kind, prefix, created_at, revoked_at, key_hash"
            f" FROM write_keys {where} ORDER BY created_at, key_id"
        )
        rows = self._reading(lambda cur: cur.execute(sql, list(params)).fetchall())
        return [(KeyRecord(*row[:6]), row[6]) for row in rows]

    def list_keys(self) -> list[KeyRecord]:
        return [rec for rec, _ in self._keys()]

    def key_hashes(self) -> dict[str, KeyRecord]:
        return {h: rec for rec, h in self._keys("WHERE revoked_at IS NULL")}

    def revoke_key(self, key_id_or_name: str) -> KeyRecord | None:
        sql = (
            "UPDATE write_keys SET revoked_at = now() WHERE revoked_at IS NULL"
            " AND (key_id = {p} OR name = {p}) RETURNING key_id"
        )
        with self._transaction() as con:
            row = con.execute(self._spelling.sql(sql), [key_id_or_name] * 2).fetchall()
        if not row:
            return None
        return next(rec for rec, _ in self._keys("WHERE key_id = {p}", [row[0][0]]))


class DashboardParts(_Part):
    """Dashboard sessions and alerts (migration 0016_dashboard_sessions_alerts), failed
    sign-ins and alert claims (0018_signin_failures_alert_claims)."""

    # -- sessions -------------------------------------------------------------------------
    def create_session(self, session: StoredSession) -> None:
        marks = ", ".join(self._spelling.mark for _ in SESSION_COLUMNS)
        sql = f"INSERT INTO dashboard_sessions ({_SESSIONS}) VALUES ({marks})"
        with self._transaction() as con:
            con.execute(sql, session.row())

    def get_session(self, id_hash: str, now: datetime) -> StoredSession | None:
        session = self._reading(self._session, id_hash, now)
        if session is not None and now - session.last_seen >= TOUCH_AFTER:
            sql = "UPDATE dashboard_sessions SET last_seen = {p} WHERE id_hash = {p}"
            with self._transaction() as con:
                con.execute(self._spelling.sql(sql), [now, id_hash])
        return session

    def _session(self, cur: Any, id_hash: str, now: datetime) -> StoredSession | None:
        sql = (
            f"SELECT {_SESSIONS} FROM dashboard_sessions"
            " WHERE id_hash = {p} AND expires_at > {p}"
        )
        row = cur.execute(self._spelling.sql(sql), [id_hash, now]).fetchone()
        return StoredSession(*row) if row else None

    def delete_session(self, id_hash: str) -> bool:
        sql = "DELETE FROM dashboard_sessions WHERE id_hash = {p} RETURNING 1"
        return bool(self._write(sql, [id_hash]))

    def purge_expired_sessions(self, now: datetime) -> int:
        sql = "DELETE FROM dashboard_sessions WHERE expires_at <= {p} RETURNING 1"
        return len(self._write(sql, [now]))

    # -- failed sign-ins ------------------------------------------------------------------
    def note_signin_attempt(
        self, ip_hash: str, now: datetime, window: timedelta, purge: bool = True
    ) -> tuple[datetime, int]:
        """Count one attempt in one statement (racing nodes each count), then delete ended
        windows. The purge only takes rows no one else holds (it never waits), and the
        count waits while holding nothing, so concurrent attempts cannot deadlock."""
        sp, ended = self._spelling, now - window
        count = (
            "INSERT INTO signin_failures (ip_hash, first_at, attempts) VALUES ({p}, {p}, 1)"
            " ON CONFLICT (ip_hash) DO UPDATE SET"
            " attempts = CASE WHEN signin_failures.first_at <= {p} THEN 1"
            " ELSE signin_failures.attempts + 1 END,"
            " first_at = CASE WHEN signin_failures.first_at <= {p} THEN excluded.first_at"
            " ELSE signin_failures.first_at END"
            " RETURNING first_at, attempts"
        )
        delete = (
            "DELETE FROM signin_failures WHERE ip_hash IN (SELECT ip_hash FROM signin_failures"
            f" WHERE first_at <= {{p}}{sp.skip_locked})"
        )
        with self._transaction() as con:
            first_at, attempts = con.execute(
                sp.sql(count), [ip_hash, now, ended, ended]
            ).fetchall()[0]
            if purge:
                con.execute(sp.sql(delete), [ended])
        return first_at, int(attempts)

    def clear_signin_attempts(self, ip_hash: str) -> None:
        self._write("DELETE FROM signin_failures WHERE ip_hash = {p} RETURNING 1", [ip_hash])

    # -- alerts ---------------------------------------------------------------------------
    def raise_alert(self, alert: AlertRecord) -> bool:
        sp = self._spelling
        marks = [sp.json_mark if c == "details" else sp.mark for c in ALERT_COLUMNS]
        sql = (
            f"INSERT INTO alerts ({_ALERTS}) VALUES ({', '.join(marks)})"
            " ON CONFLICT DO NOTHING RETURNING 1"
        )
        with self._transaction() as con:
            details = msgspec.json.encode(alert.details).decode()
            return bool(con.execute(sql, alert.row(details)).fetchall())

    def claim_alerts(self, now: datetime, lease: timedelta) -> list[AlertRecord]:
        """One UPDATE: on PostgreSQL a racing claimer waits for the row, then finds it
        claimed at a time within the lease and skips it."""
        sql = (
            "UPDATE alerts SET claimed_at = {p} WHERE webhook_status = 'pending'"
            f" AND (claimed_at IS NULL OR claimed_at <= {{p}}) RETURNING {_ALERTS}"
        )
        claimed = [alert_from_row(r) for r in self._write(sql, [now, now - lease])]
        return sorted(claimed, key=lambda a: (a.raised_at or now, a.key))

    def record_alert_delivery(
        self,
        keys: Sequence[str],
        status: str,
        attempts: int,
        error: str,
        claimed_at: datetime | None = None,
    ) -> None:
        sql = (
            "UPDATE alerts SET webhook_status = {p}, webhook_attempts = {p}, webhook_error = {p}"
            f" WHERE {self._spelling.in_list('key')}"
        )
        params: list[Any] = [status, attempts, error, list(keys)]
        if claimed_at is not None:
            sql += " AND claimed_at = {p}"
            params.append(claimed_at)
        with self._transaction() as con:
            con.execute(self._spelling.sql(sql), params)

    def clear_alerts(self, active: Sequence[str], now: datetime) -> list[str]:
        """Close the open alerts whose condition is not among ``active``; their conditions."""
        sql = (
            "UPDATE alerts SET cleared_at = {p}, key = key || {p} WHERE cleared_at IS NULL"
            f" AND NOT ({self._spelling.in_list('key')}) RETURNING condition"
        )
        return sorted(r[0] for r in self._write(sql, [now, cleared_suffix(), list(active)]))

    def list_alerts(self, limit: int, open_only: bool = False) -> list[AlertRecord]:
        return self._reading(self._alerts, limit, open_only)

    def _alerts(self, cur: Any, limit: int, open_only: bool) -> list[AlertRecord]:
        where = "WHERE cleared_at IS NULL" if open_only else ""
        sql = f"SELECT {_ALERTS} FROM alerts {where} ORDER BY raised_at DESC, key LIMIT {{p}}"
        return [alert_from_row(r) for r in cur.execute(self._spelling.sql(sql), [int(limit)])
                .fetchall()]  # fmt: skip

    def purge_alerts(self, before: datetime) -> int:
        sql = "DELETE FROM alerts WHERE cleared_at IS NOT NULL AND cleared_at < {p} RETURNING 1"
        return len(self._write(sql, [before]))

    def _write(self, sql: str, params: list[Any]) -> list[Any]:
        with self._transaction() as con:
            return list(con.execute(self._spelling.sql(sql), params).fetchall())
