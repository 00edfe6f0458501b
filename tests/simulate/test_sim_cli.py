"""``convtrack simulate`` through the real command line (in process)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from convtrack.cli import main
from convtrack.store import open_store


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No convtrack.toml or CONVTRACK_* from the caller's environment."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("CONVTRACK_")]:
        monkeypatch.delenv(name)


def dry_run(tmp_path: Path, name: str, *extra: str) -> tuple[bytes, bytes]:
    out, truth = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.json"
    code = main(
        ["simulate", "--dry-run", "--visitors", "150", "--out", str(out), "--truth", str(truth),
         "-q", *extra]
    )  # fmt: skip
    assert code == 0
    return out.read_bytes(), truth.read_bytes()


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    a = dry_run(tmp_path, "a", "--seed", "5")
    b = dry_run(tmp_path, "b", "--seed", "5")
    c = dry_run(tmp_path, "c", "--seed", "6")
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


def test_window_options_move_the_timestamps(tmp_path: Path) -> None:
    events, truth = dry_run(tmp_path, "w", "--start", "2024-02-01", "--days", "3")
    doc = json.loads(truth)
    assert (doc["start"], doc["end"]) == ("2024-02-01T00:00:00.000Z", "2024-02-04T00:00:00.000Z")
    stamps = [json.loads(line)["event"]["timestamp"] for line in events.splitlines()]
    assert all("2024-02-01" <= s < "2024-02-04" for s in stamps)


def test_end_today_ends_the_window_at_midnight_utc(tmp_path: Path) -> None:
    before = datetime.now(UTC).date()  # the run may cross midnight: its day is one of these
    _, truth = dry_run(tmp_path, "t", "--end", "today", "--days", "2")
    after = datetime.now(UTC).date()
    assert json.loads(truth)["end"] in {
        f"{day.isoformat()}T00:00:00.000Z" for day in (before, after)
    }


def test_without_a_target_it_fills_the_store(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    truth = tmp_path / "truth.json"
    args = ["simulate", "--data-dir", str(tmp_path / "d"), "--visitors", "120"]
    assert main([*args, "--truth", str(truth)]) == 0
    expected = json.loads(truth.read_text())["totals"]["distinct_event_ids_sent"]
    assert "accepted, 0 rejected" in capsys.readouterr().err
    assert main([*args, "-q"]) == 0  # a second run adds nothing
    with open_store(f"duckdb://{tmp_path / 'd' / 'convtrack.duckdb'}", read_only=True) as store:
        assert store.count_events() == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "http://127.0.0.1:9"], "--url needs --key"),
        (["--url", "http://127.0.0.1:9", "--key", "k"], "--server-key"),
        (["--key", "k"], "need --url"),
        (["--start", "2025-01-01", "--end", "2025-02-01"], "not both"),
        (["--start", "2999-01-01"], "in the future"),
        (["--start", "last tuesday"], "is not a date"),
        (["--visitors", "0"], "--visitors"),
        (["--days", "0"], "--days"),
        (["--batch-size", "501"], "--batch-size"),
    ],
)
def test_bad_arguments_are_explained(
    args: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["simulate", *args]) == 2
    assert message in capsys.readouterr().err
