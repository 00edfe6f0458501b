"""``convtrack attribute`` on a store file (no server): table, compare, CSV, progress."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from convtrack.cli import main
from convtrack.cli.attribute import Steps
from journey_data import PLAN, T0, Journeys, days


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("CONVTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    j = Journeys()
    j.page("a", T0 - days(4), gclid="G1")
    j.page("a", T0 - days(1), referrer="https://www.bing.com/")
    j.convert("a", T0, value=80, order_id="o1")
    data = tmp_path / "data"
    data.mkdir()
    j.store(data, stitch=False).close()  # no identity note on stderr
    (data / "attr.duckdb").rename(data / "convtrack.duckdb")
    (tmp_path / "plan.yaml").write_text(PLAN)
    monkeypatch.setenv("CONVTRACK_PLAN", str(tmp_path / "plan.yaml"))
    yield data


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["attribute", *args, "--data-dir", str(data)]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_table_for_one_model(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = run(capsys, data, "--model", "first_touch")
    lines = out.splitlines()
    assert lines[0].split() == [
        "channel",
        "conversions",
        "revenue",
        "(USD)",
        "spend",
        "cpa",
        "roas",
    ]
    assert lines[2].split()[:4] == ["Paid", "Search", "1.00", "80.00"]
    assert err == ""  # no progress line: stderr is not a terminal


def test_compare_and_metric(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(capsys, data, "--model", "first_touch", "--model", "last_touch",
                 "--metric", "revenue", "--paths")  # fmt: skip
    assert out.startswith("revenue by model")
    assert "Organic Search" in out and "top converting paths" in out
    assert "Paid Search > Organic Search" in out


def test_csv_and_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(capsys, data, "--model", "linear", "--format", "csv")
    assert out.splitlines()[1:] == [
        "linear,Organic Search,,0.5,40.0,USD,,,",
        "linear,Paid Search,,0.5,40.0,USD,,,",
    ]
    out, _ = run(capsys, data, "--model", "linear", "--format", "json", "--by", "medium")
    body = json.loads(out)
    assert {r["label"] for r in body["rows"]} == {"cpc", "referral"}


def test_list_models(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(capsys, data, "--list-models")
    assert "time_decay" in out and "half_life_days=7.0" in out and "markov" in out


def test_bad_model_is_a_clear_error(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attribute", "--model", "nope", "--data-dir", str(data)]) != 0
    assert "No attribution model 'nope'" in capsys.readouterr().err


def test_progress_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, loud = io.StringIO(), Tty()
    for stream in (quiet, loud):
        steps = Steps(stream)
        steps("aggregating paths")
        steps.done()
    assert quiet.getvalue() == ""
    assert "attribute: aggregating paths" in loud.getvalue()
