"""What every ``EventStore`` backend must do (parametrised over backends in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from convtrack.errors import ConvtrackError
from convtrack.events import Campaign, Context, Event, HashedIds, Rejected
from convtrack.keys import hash_key
from convtrack.store import EventStore, KeyRecord, open_store

Make = Callable[..., Event]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # the default received_at of the `event` fixture


def test_event_fixture_default_time(event: Make) -> None:
    assert event("x").received_at == T0


def as_json(value: Any) -> Any:
    """JSON columns come back as text from some engines and as objects from others."""
    return json.loads(value) if isinstance(value, str) else value


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["event_id"] for r in rows]


# -- migrations -------------------------------------------------------------------------


class TestMigrations:
    def test_applied_once_and_recorded(self, store_url: str) -> None:
        with open_store(store_url) as store:
            assert store.schema_version() == 0
            applied = store.migrate()
            assert applied and applied[0].startswith("0001_")
            assert store.schema_version() == len(applied)
            assert store.migrate() == []
            assert store.schema_version() == len(applied)
            rows = store.query("SELECT version FROM schema_migrations ORDER BY version").rows
            assert [r[0] for r in rows] == list(range(1, len(applied) + 1))

    def test_idempotent_across_reopen(self, store_url: str) -> None:
        with open_store(store_url) as store:
            version = len(store.migrate())
        with open_store(store_url) as store:
            assert store.schema_version() == version
            assert store.migrate() == []

    def test_schema_is_usable_after_migrating(self, store: EventStore) -> None:
        assert store.count_events() == 0
        assert store.count_quarantined() == 0
        assert store.list_keys() == []


# -- events -----------------------------------------------------------------------------


class TestAppend:
    def test_returns_how_many_were_new(self, store: EventStore, event: Make) -> None:
        assert store.append([event("a"), event("b")]) == 2
        assert store.count_events() == 2

    def test_nothing_to_append(self, store: EventStore) -> None:
        assert store.append([]) == 0
        assert store.count_events() == 0

    def test_idempotent_within_a_batch(self, store: EventStore, event: Make) -> None:
        first = event("dup", user_id="first")
        assert store.append([first, event("dup", user_id="second"), event("other")]) == 2
        rows = store.events_after(None, 10)
        assert ids(rows) == ["dup", "other"]
        assert rows[0]["user_id"] == "first"

    def test_idempotent_across_appends(self, store: EventStore, event: Make) -> None:
        assert store.append([event("a")]) == 1
        assert store.append([event("a", user_id="changed"), event("b")]) == 1
        assert store.count_events() == 2
        assert store.events_after(None, 10)[0]["user_id"] is None

    def test_idempotent_across_reopen(
        self, open_migrated: Callable[[], EventStore], event: Make
    ) -> None:
        store = open_migrated()
        assert store.append([event("a"), event("b")]) == 2
        store.close()
        store = open_migrated()
        assert store.count_events() == 2
        assert store.append([event("b"), event("c")]) == 1
        assert store.count_events() == 3

    def test_round_trip(self, store: EventStore, event: Make) -> None:
        occurred = T0 - timedelta(minutes=3, microseconds=250)
        original = event(
            "rt",
            occurred_at=occurred,
            sent_at=T0 + timedelta(hours=1),
            client_timestamp=occurred + timedelta(hours=1),
            user_id="u-1",
            context=Context(url="https://shop.example/thanks", ip="192.0.2.1", user_agent="UA"),
            campaign=Campaign(
                gclid="Cj0KCQ-MiXeD",
                ScCid="sc-Case",
                utm_source="google",
                click_at=T0 - timedelta(days=2),
            ),
            hashed=HashedIds(email_sha256="a" * 64),
            value=19.99,
            currency="EUR",
            order_id="o-1",
            properties={"plan": "pro", "items": [{"sku": "A-1", "qty": 2}]},
            key_id="key_1",
        )
        store.append([original])
        [row] = store.events_after(None, 10)
        assert row["occurred_at"] == occurred and row["occurred_at"].utcoffset() == timedelta(0)
        assert row["received_at"] == T0
        assert row["sent_at"] == T0 + timedelta(hours=1)
        assert row["client_timestamp"] == occurred + timedelta(hours=1)
        assert row["click_at"] == T0 - timedelta(days=2)
        assert (row["event_name"], row["type"], row["source"]) == ("purchase", "track", "server")
        assert (row["page_url"], row["ip"], row["user_agent"]) == (
            "https://shop.example/thanks", "192.0.2.1", "UA",
        )  # fmt: skip
        assert (row["gclid"], row["ScCid"], row["utm_source"]) == (
            "Cj0KCQ-MiXeD", "sc-Case", "google",
        )  # fmt: skip
        assert row["email_sha256"] == "a" * 64 and row["phone_sha256"] is None
        assert float(row["value"]) == 19.99 and row["currency"] == "EUR"
        assert row["order_id"] == "o-1" and row["key_id"] == "key_1" and row["user_id"] == "u-1"
        assert as_json(row["properties"]) == {"plan": "pro", "items": [{"sku": "A-1", "qty": 2}]}
        assert row["pii_raw"] is None

    def test_extreme_values_fit(self, store: EventStore, event: Make) -> None:
        # The largest values the wire format accepts must be storable (events.Money).
        big = 999_999_999_999.99
        assert store.append([event("max", value=big), event("min", value=-big)]) == 2
        values = {r["event_id"]: float(r["value"]) for r in store.events_after(None, 10)}
        assert values == {"max": pytest.approx(big), "min": pytest.approx(-big)}

    def test_a_failed_append_stores_nothing(self, store: EventStore, event: Make) -> None:
        # A value beyond the column's range makes the engine fail mid-transaction.
        with pytest.raises(Exception):  # noqa: B017  (the engine's own error type)
            store.append([event("good"), event("poison", value=1e15)])
        assert store.count_events() == 0
        assert store.append([event("good")]) == 1  # the store still works


# -- quarantine -------------------------------------------------------------------------


def rejected(reject_id: str, **fields: Any) -> Rejected:
    values: dict[str, Any] = {
        "received_at": T0,
        "source": "tag",
        "payload": json.dumps({"event_name": "", "anonymous_id": "a"}),
        "reasons": [{"index": 0, "path": "/event_name", "reason": "too short"}],
        "key_id": "key_pub",
    }
    return Rejected(reject_id=reject_id, **(values | fields))


class TestQuarantine:
    def test_rejects_are_stored_with_payload_and_reasons(self, store: EventStore) -> None:
        assert store.append([], [rejected("r1")]) == 0
        assert store.count_quarantined() == 1
        [(payload, reasons, source, key_id, received)] = store.query(
            "SELECT payload, reasons, source, key_id, received_at FROM quarantine"
        ).rows
        assert json.loads(payload) == {"event_name": "", "anonymous_id": "a"}
        assert as_json(reasons) == [{"index": 0, "path": "/event_name", "reason": "too short"}]
        assert (source, key_id, received) == ("tag", "key_pub", T0)

    def test_events_and_rejects_in_one_append(self, store: EventStore, event: Make) -> None:
        assert store.append([event("ok")], [rejected("r1"), rejected("r2")]) == 1
        assert (store.count_events(), store.count_quarantined()) == (1, 2)

    def test_a_reject_is_stored_once(self, store: EventStore) -> None:
        store.append([], [rejected("r1")])
        store.append([], [rejected("r1")])
        assert store.count_quarantined() == 1


# -- keys -------------------------------------------------------------------------------


def key_record(key_id: str, name: str, kind: str = "public", minutes: int = 0) -> KeyRecord:
    return KeyRecord(
        key_id, name, kind, f"ctk_{kind[:3]}_{key_id[-2:]}", T0 + timedelta(minutes=minutes)
    )


class TestKeys:
    def test_insert_and_list(self, store: EventStore) -> None:
        store.insert_key(key_record("key_02", "backend", "secret", minutes=1), hash_key("k2"))
        store.insert_key(key_record("key_01", "web"), hash_key("k1"))
        keys = store.list_keys()
        assert [k.key_id for k in keys] == ["key_01", "key_02"]  # oldest first
        assert keys[0] == key_record("key_01", "web")
        assert keys[1].kind == "secret" and keys[1].active

    def test_key_hashes_are_what_the_collector_checks(self, store: EventStore) -> None:
        store.insert_key(key_record("key_01", "web"), hash_key("k1"))
        store.insert_key(key_record("key_02", "app", minutes=1), hash_key("k2"))
        hashes = store.key_hashes()
        assert set(hashes) == {hash_key("k1"), hash_key("k2")}
        assert hashes[hash_key("k1")].name == "web"

    @pytest.mark.parametrize("by", ["key_01", "web"])
    def test_revoke_by_id_or_name(self, store: EventStore, by: str) -> None:
        store.insert_key(key_record("key_01", "web"), hash_key("k1"))
        store.insert_key(key_record("key_02", "app", minutes=1), hash_key("k2"))
        revoked = store.revoke_key(by)
        assert revoked is not None and revoked.key_id == "key_01"
        assert revoked.revoked_at is not None and not revoked.active
        assert set(store.key_hashes()) == {hash_key("k2")}
        assert [k.active for k in store.list_keys()] == [False, True]  # listed, not deleted

    def test_revoke_unknown_or_twice(self, store: EventStore) -> None:
        store.insert_key(key_record("key_01", "web"), hash_key("k1"))
        assert store.revoke_key("nope") is None
        assert store.revoke_key("web") is not None
        assert store.revoke_key("web") is None

    def test_keys_survive_reopen(self, open_migrated: Callable[[], EventStore]) -> None:
        store = open_migrated()
        store.insert_key(key_record("key_01", "web"), hash_key("k1"))
        store.close()
        assert [k.key_id for k in open_migrated().list_keys()] == ["key_01"]


# -- query ------------------------------------------------------------------------------


class TestQuery:
    def test_select(self, store: EventStore, event: Make) -> None:
        store.append([event("a", value=5.0), event("b", value=7.5)])
        result = store.query("SELECT count(*) AS n, sum(value) AS total FROM events")
        assert result.columns == ["n", "total"]
        assert [(int(n), float(t)) for n, t in result.rows] == [(2, 12.5)]

    def test_with_and_params(self, store: EventStore, event: Make) -> None:
        store.append([event("a"), event("b", event_name="signup")])
        result = store.query(
            "WITH s AS (SELECT * FROM events WHERE event_name = ?) SELECT event_id FROM s",
            ["signup"],
        )
        assert result.rows == [("b",)]

    def test_explain_is_allowed(self, store: EventStore) -> None:
        assert store.query("EXPLAIN SELECT * FROM events").rows

    @pytest.mark.parametrize(
        "sql",
        [
            "INSERT INTO events (event_id) VALUES ('x')",
            "DELETE FROM events",
            "UPDATE events SET user_id = 'x'",
            "DROP TABLE events",
            "CREATE TABLE t AS SELECT 1",
            "SELECT 1; SELECT 2",
            "SELECT 1; DELETE FROM events",
            "DELETE FROM events; SELECT 1",
            "EXPLAIN ANALYZE DELETE FROM events",
            "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
            "UPDATE write_keys SET revoked_at = NULL",
        ],
    )
    def test_writes_are_refused(self, store: EventStore, event: Make, sql: str) -> None:
        store.append([event("a")])
        with pytest.raises(ConvtrackError) as info:
            store.query(sql)
        assert info.value.code == "read_only"
        assert store.count_events() == 1
        tables = {r[0] for r in store.query(
            "SELECT table_name FROM information_schema.tables"
        ).rows}  # fmt: skip
        assert "t" not in tables and "events" in tables

    def test_copy_to_a_file_is_refused(self, store: EventStore, tmp_path: Path) -> None:
        target = tmp_path / "leak.csv"
        with pytest.raises(ConvtrackError) as info:
            store.query(f"COPY events TO '{target}'")
        assert info.value.code == "read_only" and not target.exists()

    def test_unparseable_sql(self, store: EventStore) -> None:
        with pytest.raises(ConvtrackError) as info:
            store.query("SELEC 1")
        assert info.value.code in {"invalid_sql", "sql_error"} and info.value.status == 400

    def test_bad_reference(self, store: EventStore) -> None:
        with pytest.raises(ConvtrackError) as info:
            store.query("SELECT * FROM no_such_table")
        assert info.value.code == "sql_error" and "no_such_table" in info.value.message

    def test_read_only_query_beside_a_write(self, store: EventStore, event: Make) -> None:
        store.query("SELECT 1")
        assert store.append([event("after")]) == 1  # the read left no transaction behind


# -- reading events in order ------------------------------------------------------------


class TestEventsAfter:
    def stored(self, store: EventStore, event: Make) -> list[str]:
        # Inserted out of order; two pairs share a received_at (ties broken by event_id).
        t = [T0 + timedelta(seconds=s) for s in (0, 1, 2)]
        events = [
            event("c", received_at=t[1]), event("a", received_at=t[2]),
            event("b", received_at=t[1]), event("z", received_at=t[0]),
            event("y", received_at=t[0]), event("m", received_at=t[2] + timedelta(microseconds=1)),
        ]  # fmt: skip
        store.append(events)
        return ["y", "z", "b", "c", "a", "m"]

    def test_ordered_by_received_at_then_event_id(self, store: EventStore, event: Make) -> None:
        expected = self.stored(store, event)
        assert ids(store.events_after(None, 100)) == expected

    def test_paging_with_a_cursor_sees_each_event_once(
        self, store: EventStore, event: Make
    ) -> None:
        expected = self.stored(store, event)
        seen: list[str] = []
        cursor: tuple[datetime, str] | None = None
        while page := store.events_after(cursor, 2):
            assert len(page) <= 2
            seen += ids(page)
            cursor = (page[-1]["received_at"], page[-1]["event_id"])
        assert seen == expected

    def test_cursor_is_strictly_after(self, store: EventStore, event: Make) -> None:
        self.stored(store, event)
        assert ids(store.events_after((T0 + timedelta(seconds=1), "b"), 100)) == ["c", "a", "m"]
        assert store.events_after((T0 + timedelta(days=1), ""), 100) == []

    def test_cursor_in_another_time_zone(self, store: EventStore, event: Make) -> None:
        self.stored(store, event)
        plus_two = (T0 + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=2)))
        assert ids(store.events_after((plus_two, "b"), 100)) == ["c", "a", "m"]

    def test_last_events(self, store: EventStore, event: Make) -> None:
        self.stored(store, event)
        assert ids(store.last_events(3)) == ["c", "a", "m"]
        assert ids(store.last_events(100)) == ["y", "z", "b", "c", "a", "m"]
