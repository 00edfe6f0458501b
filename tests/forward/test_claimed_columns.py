"""A claim loads only FORWARDED_COLUMNS of each event: forward/rows.py must read nothing else."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pytest

from convtrack.events import CLICK_IDS
from convtrack.forward import registry
from convtrack.forward.rows import forward_event
from convtrack.store import duckdb_outbox
from convtrack.store.arrow import COLUMN_NAMES
from convtrack.store.outbox_model import FORWARDED_COLUMNS

HASH = "a" * 64
SPECIAL: dict[str, Any] = {
    "occurred_at": datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC),
    "value": Decimal("12.50"),
    "source": "tag",
    "consent": '{"ad_user_data":"granted","ad_storage":"denied"}',
    "properties": '{"ttp":"t1","contents":[{"id":"SKU1","quantity":2}],"action_source":"web"}',
    "pii_hashed": msgspec.json.encode({"email": {"*": HASH}, "phone": {"*": HASH}}).decode(),
    "email_sha256": HASH,
    "phone_sha256": HASH,
    "external_id_sha256": HASH,
}


class Recording(Mapping[str, Any]):
    """A stored row that notes every column read."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row, self.read = row, set[str]()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.row[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.row.get(key, default)

    def __iter__(self) -> Iterator[str]:  # the names only: no column's value is read
        return iter(self.row)

    def __len__(self) -> int:
        return len(self.row)


def full_row() -> dict[str, Any]:
    """Every stored column set (click ids and all), as a claim without the projection had it."""
    row = {name: f"{name}-value" for name in COLUMN_NAMES}
    row.update(SPECIAL)
    return row


def test_every_forwarded_column_is_stored_and_raw_pii_is_not_one() -> None:
    assert set(FORWARDED_COLUMNS) <= set(COLUMN_NAMES)
    assert set(CLICK_IDS) <= set(FORWARDED_COLUMNS)
    assert "pii_raw" not in FORWARDED_COLUMNS


@pytest.mark.parametrize("destination", sorted(registry()))
@pytest.mark.parametrize("job_event", ["Purchase", "refund:Purchase"])
def test_rows_read_only_forwarded_columns(destination: str, job_event: str) -> None:
    row = Recording(full_row())
    event = forward_event(row, destination, job_event)
    assert row.read <= set(FORWARDED_COLUMNS), sorted(row.read - set(FORWARDED_COLUMNS))
    loaded = {k: v for k, v in full_row().items() if k in FORWARDED_COLUMNS}
    assert forward_event(loaded, destination, job_event) == event


def test_claimed_values_are_what_fetchall_gives() -> None:
    """The claim's quick conversions (store/duckdb_outbox.py ``_values``) of zoned timestamps
    and decimals give exactly the values DuckDB's own ``fetchall`` does."""
    edge = 2**32 * 10**6
    rng = random.Random(7)
    micros = [0, 1, -1, 999_999, 1_773_500_966_123_456, edge - 1, edge, edge + 1, -edge - 1]
    micros += [rng.randrange(-edge, 2 * edge) for _ in range(20_000)]
    amounts = ["0", "-0.000001", "42.5", "129.95", "999999999999.999999", "-12345.678901"]
    given = pa.table(
        {
            "m": pa.array([*micros, None], pa.int64()),
            "a": pa.array([amounts[i % len(amounts)] for i in range(len(micros))] + [None]),
        }
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("given", given)
    sql = "SELECT make_timestamptz(m) AS moment, a::DECIMAL(18, 6) AS amount FROM given"
    expected = con.execute(sql).fetchall()
    table = con.sql(sql).to_arrow_table()
    got = list(zip(*(duckdb_outbox._values(c) for c in table.columns), strict=True))
    assert got == expected
    assert [type(v) for row in got for v in row] == [type(v) for row in expected for v in row]
