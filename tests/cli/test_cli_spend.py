"""``convtrack spend import|list``: on the store itself, and through a running server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from convtrack.store.migrations import load_migrations
from live_server import Server, running_server

Run = Callable[..., Any]  # the `convtrack` fixture: returns .code, .out, .err

MAY = (
    "date,platform,channel,campaign,spend,currency,impressions,clicks\n"
    "2024-05-05,google_ads,,brand,10.50,EUR,100,7\n"
    "2024-05-06,google_ads,,brand,2,EUR,50,1\n"
    "2024-05-06,meta,,,5,USD,,\n"
)
BAD = "date,platform,spend,currency\n2024-05-05,google_ads,ten,EUR\n2024-05-06,myspace,1,EUR\n"


def spend_file(folder: Path, text: str, name: str = "may.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def listed(out: str) -> list[dict[str, Any]]:
    return list(json.loads(out))


# -- no server: straight on the store ---------------------------------------------------
def test_import_summarises_and_re_import_replaces(convtrack: Run, tmp_path: Path) -> None:
    path = spend_file(tmp_path, MAY)
    first = convtrack("spend", "import", str(path))
    assert first.code == 0, first.err
    assert "may.csv: 3 rows, 2024-05-05 to 2024-05-06 (2 days with spend)" in first.out
    assert "  EUR 12.50\n  USD 5.00" in first.out
    assert "stored: 3 inserted, 0 replaced" in first.out
    again = convtrack("spend", "import", str(path))
    assert "stored: 0 inserted, 3 replaced" in again.out

    totals = listed(convtrack("spend", "list", "--format", "json").out)
    assert totals == [
        {"currency": "EUR", "spend": "12.500000", "impressions": 150, "clicks": 8},
        {"currency": "USD", "spend": "5.000000", "impressions": None, "clicks": None},
    ]


def test_list_by_keys_grain_and_dates(convtrack: Run, tmp_path: Path) -> None:
    assert convtrack("spend", "import", str(spend_file(tmp_path, MAY))).code == 0
    weekly = convtrack("spend", "list", "--by", "platform", "channel", "--grain", "week",
                       "--format", "json")  # fmt: skip
    assert [(r["week"], r["platform"], r["channel"], r["spend"]) for r in listed(weekly.out)] == [
        ("2024-04-29", "google_ads", "Paid Search", "10.500000"),
        ("2024-05-06", "google_ads", "Paid Search", "2.000000"),
        ("2024-05-06", "meta", "Paid Social", "5.000000"),
    ]
    one_day = convtrack("spend", "list", "--from", "2024-05-06", "--to", "2024-05-07",
                        "--by", "campaign", "--format", "csv")  # fmt: skip
    assert one_day.out.splitlines() == [
        "campaign,currency,spend,impressions,clicks",
        ",USD,5.000000,,",
        "brand,EUR,2.000000,50,1",
    ]
    table = convtrack("spend", "list", "--grain", "month")
    assert "2024-05-01" in table.out and "(2 rows)" in table.out
    backwards = convtrack("spend", "list", "--from", "2024-05-06", "--to", "2024-05-01")
    assert backwards.code == 2 and "--to must be after --from" in backwards.err


def test_defaults_from_options(convtrack: Run, tmp_path: Path) -> None:
    path = spend_file(tmp_path, "day,cost\n2024-05-01,3\n", "tiktok.csv")
    result = convtrack("spend", "import", str(path), "--currency", "gbp", "--platform", "TikTok")
    assert result.code == 0, result.err
    rows = listed(convtrack("spend", "list", "--by", "platform", "channel", "--format", "json").out)
    assert [(r["platform"], r["channel"], r["currency"]) for r in rows] == [
        ("tiktok", "Paid Social", "GBP")
    ]


def test_dry_run_stores_nothing(convtrack: Run, tmp_path: Path) -> None:
    dry = convtrack("spend", "import", str(spend_file(tmp_path, MAY)), "--dry-run")
    assert dry.code == 0 and "dry run: nothing stored" in dry.out and "stored:" not in dry.out
    assert not (tmp_path / "data" / "convtrack.duckdb").exists()  # not even opened
    other = spend_file(tmp_path, MAY.replace("2024-05-0", "2024-06-0"), "june.csv")
    assert convtrack("spend", "import", str(other)).code == 0
    convtrack("spend", "import", str(spend_file(tmp_path, MAY)), "--dry-run")
    days = listed(convtrack("spend", "list", "--grain", "month", "--format", "json").out)
    assert {r["month"] for r in days} == {"2024-06-01"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["BAD"], "2 problems in the spend rows; nothing was imported"),
        (["BAD"], "line 2, spend: 'ten' is not a number"),
        (["BAD"], "line 3, channel: missing, and platform 'myspace' has no known channel"),
        (["MAY", "--currency", "EURO"], "--currency 'EURO' is not an ISO 4217 code"),
        (["missing.csv"], "Cannot read"),
        (["MAY", "--format", "parquet"], "not a readable Parquet file"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    convtrack: Run, tmp_path: Path, args: list[str], says: str
) -> None:
    files = {"BAD": spend_file(tmp_path, BAD, "bad.csv"), "MAY": spend_file(tmp_path, MAY)}
    argv = [str(files.get(a, a)) if a in files or a.endswith(".csv") else a for a in args]
    result = convtrack("spend", "import", *argv)
    assert result.code == 2
    assert says in result.err and "Traceback" not in result.err
    assert result.out == ""
    assert not (tmp_path / "data" / "convtrack.duckdb").exists()


def test_list_on_a_store_from_before_spend(convtrack: Run, data_dir: Path) -> None:
    data_dir.mkdir()
    con = duckdb.connect(str(data_dir / "convtrack.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER, name VARCHAR, applied_at DATE)")
    for m in load_migrations("duckdb")[:4]:
        con.execute(m.sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, NULL)", [m.version, m.name])
    con.close()
    result = convtrack("spend", "list")
    assert (result.code, result.err) == (2, "error: No spend imported yet.\n")


# -- through a running server -----------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("spend")) as srv:
        yield srv


def test_through_the_server(server: Server) -> None:
    path = spend_file(server.root, MAY)
    first = server.cli("spend", "import", str(path))
    assert "stored: 3 inserted, 0 replaced" in first.stdout
    assert "stored: 0 inserted, 3 replaced" in server.cli("spend", "import", str(path)).stdout
    rows = server.sql("SELECT campaign, source, CAST(spend AS VARCHAR) AS s FROM spend ORDER BY s")
    assert rows == [
        {"campaign": "brand", "source": "may.csv", "s": "10.500000"},
        {"campaign": "brand", "source": "may.csv", "s": "2.000000"},
        {"campaign": "", "source": "may.csv", "s": "5.000000"},
    ]
    totals = listed(server.cli("spend", "list", "--by", "platform", "--format", "json").stdout)
    assert [(r["platform"], r["spend"], r["impressions"]) for r in totals] == [
        ("google_ads", "12.500000", 150),
        ("meta", "5.000000", None),
    ]


def test_through_the_server_bad_input_and_dry_run_store_nothing(server: Server) -> None:
    before = server.sql("SELECT count(*) AS n FROM spend")
    bad = server.cli("spend", "import", str(spend_file(server.root, BAD, "bad.csv")), check=False)
    assert bad.returncode == 2 and "'ten' is not a number" in bad.stderr
    assert "Traceback" not in bad.stderr
    june = spend_file(server.root, MAY.replace("2024-05-0", "2024-06-0"), "june.csv")
    dry = server.cli("spend", "import", str(june), "--dry-run")
    assert "dry run: nothing stored" in dry.stdout
    assert server.sql("SELECT count(*) AS n FROM spend") == before


def test_a_big_file_goes_in_several_requests_and_counts_once(server: Server) -> None:
    lines = [
        f"2023-{1 + i % 12:02d}-{1 + i % 28:02d},google_ads,Paid Search,campaign-{i},1.25,EUR"
        for i in range(20_000)
    ]
    path = spend_file(server.root, "date,platform,channel,campaign,spend,currency\n"
                      + "\n".join(lines) + "\n", "big.csv")  # fmt: skip
    for expected in ("20000 inserted, 0 replaced", "0 inserted, 20000 replaced"):
        assert expected in server.cli("spend", "import", str(path)).stdout
    found = server.sql("SELECT count(*) AS n, SUM(spend) AS s FROM spend WHERE source = 'big.csv'")
    assert found[0]["n"] == 20_000 and float(found[0]["s"]) == 25_000.0
