"""Spend files → rows: CSV and Parquet, aliases, defaults, and every kind of problem."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from convtrack.attribution.spend import (
    MAX_SHOWN,
    Defaults,
    SpendFile,
    json_chunks,
    read_spend_file,
    row_json,
    rows_from_json,
    spend_query,
)
from convtrack.errors import ConvtrackError
from convtrack.store.base import SpendRow

GOOD = (
    "date,platform,channel,campaign,spend,currency,impressions,clicks\n"
    "2024-05-01,google_ads,Paid Search,brand,12.50,EUR,1000,40\n"
    "2024-05-01,meta,,prospecting,3,EUR,,\n"
)


def write(tmp_path: Path, text: str, name: str = "spend.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def read(tmp_path: Path, text: str, **defaults: str) -> SpendFile:
    return read_spend_file(write(tmp_path, text), None, Defaults(**defaults))


def problems(tmp_path: Path, text: str, **defaults: str) -> str:
    with pytest.raises(ConvtrackError) as caught:
        read(tmp_path, text, **defaults)
    return caught.value.message


def test_good_csv(tmp_path: Path) -> None:
    parsed = read(tmp_path, GOOD)
    assert parsed.rows == [
        SpendRow(date(2024, 5, 1), "google_ads", "Paid Search", "brand", Decimal("12.5"), "EUR",
                 1000, 40),
        SpendRow(date(2024, 5, 1), "meta", "Paid Social", "prospecting", Decimal(3), "EUR"),
    ]  # fmt: skip
    assert parsed.ignored == []


def test_bom_aliases_case_and_extra_columns(tmp_path: Path) -> None:
    text = "Day,Source,Campaign Name,COST,Currency,CTR\n2024-05-02,Google Ads,b,1.25,usd,0.1\n"
    parsed = read_spend_file(write(tmp_path, text, bom=True))
    (row,) = parsed.rows
    assert (row.day, row.platform, row.channel, row.campaign) == (
        date(2024, 5, 2), "google_ads", "Paid Search", "b",
    )  # fmt: skip
    assert (row.spend, row.currency, row.impressions) == (Decimal("1.25"), "USD", None)
    assert parsed.ignored == ["CTR"]


def test_semicolon_files_may_use_a_decimal_comma(tmp_path: Path) -> None:
    parsed = read(tmp_path, "date;channel;spend;currency\n2024-05-01;Paid Search;12,5;EUR\n")
    assert parsed.rows[0].spend == Decimal("12.5")
    assert parsed.rows[0].platform == ""


def test_defaults_fill_missing_columns_and_empty_cells(tmp_path: Path) -> None:
    text = "date,spend,currency\n2024-05-01,1,\n2024-05-02,2,USD\n"
    rows = read(tmp_path, text, currency="EUR", platform="TikTok").rows
    assert [(r.platform, r.channel, r.currency) for r in rows] == [
        ("tiktok", "Paid Social", "EUR"),
        ("tiktok", "Paid Social", "USD"),
    ]


def test_blank_lines_are_skipped_and_spend_rounds_to_micros(tmp_path: Path) -> None:
    text = "date,platform,spend,currency\n\n2024-05-01,bing,0.1234567,EUR\n,,,\n"
    (row,) = read(tmp_path, text).rows
    assert row.spend == Decimal("0.123457")


def test_parquet(tmp_path: Path) -> None:
    table = pa.table(
        {
            "Date": pa.array([date(2024, 5, 1), date(2024, 5, 2)]),
            "platform": ["linkedin", "x"],
            "cost": pa.array([Decimal("10.10"), Decimal("0")], pa.decimal128(10, 2)),
            "currency": ["GBP", "GBP"],
            "clicks": pa.array([7, None], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "spend.parquet")
    rows = read_spend_file(tmp_path / "spend.parquet").rows
    assert [(r.day, r.channel, r.spend, r.clicks) for r in rows] == [
        (date(2024, 5, 1), "Paid Social", Decimal("10.10"), 7),
        (date(2024, 5, 2), "Paid Social", Decimal(0), None),
    ]


def test_parquet_floats_and_timestamps(tmp_path: Path) -> None:
    table = pa.table(
        {
            "date": [datetime(2024, 5, 1), datetime(2024, 5, 1, 13, 0)],
            "channel": ["Paid Search", "Paid Search"],
            "spend": [0.1, 2.0],
            "currency": ["EUR", "EUR"],
            "impressions": [5.0, 5.5],
        }
    )
    path = tmp_path / "spend.data"
    pq.write_table(table, path)
    with pytest.raises(ConvtrackError) as caught:
        read_spend_file(path, "parquet")
    message = caught.value.message
    assert "row 2, date: 2024-05-01T13:00:00 has a time of day" in message
    assert "row 2, impressions: 5.5 is not a whole number" in message
    assert "row 1" not in message


def test_every_bad_row_is_reported_with_line_column_and_reason(tmp_path: Path) -> None:
    text = (
        "date,platform,channel,spend,currency,impressions\n"
        "2024-05-01,google_ads,,1,EUR,1\n"  # line 2: fine
        "01/05/2024,google_ads,,1,EUR,\n"  # line 3: date
        "2024-05-01,,,1,EUR,\n"  # line 4: neither platform nor channel
        "2024-05-01,myspace,,1,EUR,\n"  # line 5: unknown platform, no channel
        "2024-05-02,bing,,$12,EUR,\n"  # line 6: spend not a number
        "2024-05-02,bing,,-1,EUR,\n"  # line 7: negative
        "2024-05-02,bing,,,EUR,\n"  # line 8: spend missing
        "2024-05-02,bing,,1e30,EUR,\n"  # line 9: spend too large
        "2024-05-03,bing,,1,EURO,\n"  # line 10: currency
        "2024-05-03,bing,,1,,\n"  # line 11: currency missing
        "2024-05-03,meta,,1,EUR,-3\n"  # line 12: impressions negative
        "2024-05-03,meta,,1,EUR\n"  # line 13: too few fields
        "2024-05-01,Google Ads,Paid Search,2,EUR,\n"  # line 14: same key as line 2
    )
    message = problems(tmp_path, text)
    expected = [
        "line 3, date: '01/05/2024' is not a date like 2024-05-01",
        "line 4, platform: missing: a row needs a platform or a channel",
        "line 5, channel: missing, and platform 'myspace' has no known channel",
        "line 6, spend: '$12' is not a number",
        "line 7, spend: -1 is negative",
        "line 8, spend: missing",
        "line 9, spend: 1e30 is too large",
        "line 10, currency: 'EURO' is not an ISO 4217 currency code",
        "line 11, currency: missing",
        "line 12, impressions: -3 is not a whole number of 0 or more",
        "line 13: has 5 fields, the header has 6",
        "line 14, key: same date, platform, channel, campaign and currency as line 2",
    ]
    for line in expected:
        assert line in message
    assert message.startswith("12 problems in the spend rows; nothing was imported")
    assert "line 2," not in message


def test_problems_past_the_cap_are_counted(tmp_path: Path) -> None:
    rows = "".join(f"2024-05-01,bing,c{i},x,EUR\n" for i in range(MAX_SHOWN + 5))
    with pytest.raises(ConvtrackError) as caught:
        read(tmp_path, "date,platform,campaign,spend,currency\n" + rows)
    assert caught.value.message.count("is not a number") == MAX_SHOWN
    assert "… and 5 more" in caught.value.message
    assert len(caught.value.details) == MAX_SHOWN + 5  # up to MAX_DETAILS
    assert caught.value.details[0] == {
        "index": 0, "path": "/rows/0/spend", "reason": caught.value.details[0]["reason"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "defaults", "says"),
    [
        ("platform,spend,currency\nbing,1,EUR\n", {}, "Missing column(s): date"),
        ("date,spend,currency\n2024-05-01,1,EUR\n", {}, "platform or channel (or --platform)"),
        ("date,platform,spend\n2024-05-01,bing,1\n", {}, "currency (or --currency)"),
        ("date,platform,cost,spend,currency\n", {}, "'cost' and 'spend' both mean spend"),
        ("date,platform,spend,currency\n", {}, "no rows"),
        ("", {}, "needs a header row"),
    ],
)
def test_file_level_problems(
    tmp_path: Path, text: str, defaults: dict[str, str], says: str
) -> None:
    assert says in problems(tmp_path, text, **defaults)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConvtrackError, match="not UTF-8"):
        read_spend_file(_latin1(tmp_path))
    with pytest.raises(ConvtrackError, match="--format csv or parquet"):
        read_spend_file(write(tmp_path, GOOD, "spend.xlsx"))
    with pytest.raises(ConvtrackError, match="not a readable Parquet file"):
        read_spend_file(write(tmp_path, GOOD, "spend.parquet"))
    with pytest.raises(ConvtrackError, match="Cannot read"):
        read_spend_file(tmp_path / "missing.csv")


def _latin1(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "date,platform,campaign,spend,currency\n2024-05-01,bing,Café,1,EUR\n".encode("latin-1")
    )
    return path


def test_api_rows_round_trip_and_are_checked_strictly(tmp_path: Path) -> None:
    rows = read(tmp_path, GOOD).rows
    assert rows_from_json([row_json(r) for r in rows]) == rows
    with pytest.raises(ConvtrackError) as caught:
        rows_from_json([{**row_json(rows[0]), "ctr": 1}, {"date": "2024-05-01", "spend": 1}])
    paths = {d["path"] for d in caught.value.details}
    assert paths == {"/rows/0/ctr"}  # unknown fields first; nothing else is looked at
    with pytest.raises(ConvtrackError) as caught:
        rows_from_json([{"date": "2024-05-01", "spend": 1, "platform": "bing"}])
    assert [d["path"] for d in caught.value.details] == ["/rows/0/currency"]


def test_json_chunks_keep_every_row_in_order(tmp_path: Path) -> None:
    rows = read(tmp_path, GOOD).rows * 50
    chunks = list(json_chunks(rows, 1000))
    assert len(chunks) > 5
    assert [item for chunk in chunks for item in chunk] == [row_json(r) for r in rows]


def test_spend_query_groups_by_bucket_keys_and_currency() -> None:
    sql, params = spend_query(date(2024, 5, 1), date(2024, 6, 1), ["channel", "platform"], "week")
    assert sql.startswith(
        "SELECT CAST(date_trunc('week', day) AS DATE) AS week, channel, platform, currency,"
    )
    assert "WHERE day >= CAST(? AS DATE) AND day < CAST(? AS DATE)" in sql
    assert "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4" in sql
    assert params == ["2024-05-01", "2024-06-01"]
    sql, params = spend_query(None, None, [], None)
    assert "WHERE" not in sql and "GROUP BY 1 " in sql and params == []
    with pytest.raises(ConvtrackError):
        spend_query(None, None, ["spend; DROP TABLE spend"], None)
    with pytest.raises(ConvtrackError):
        spend_query(None, None, [], "year")
