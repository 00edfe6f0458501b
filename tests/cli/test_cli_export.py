"""``convtrack export --format parquet`` then ``convtrack attribute --engine spark``: the
same report as on the store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from convtrack.cli import main
from journey_data import PLAN, T0, Journeys, days


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("CONVTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    j = Journeys()
    j.page("a", T0 - days(4), gclid="G1")
    j.page("a", T0 - days(1), referrer="https://www.bing.com/")
    j.convert("a", T0, value=80, order_id="o1")
    j.page("b", T0 - days(3), utm_source="newsletter", utm_medium="email")
    j.convert("b", T0 - days(1), value=20, order_id="o2")
    j.page("c", T0 - days(2), referrer="https://www.google.com/")
    data = tmp_path / "data"
    data.mkdir()
    j.store(data, stitch=False).close()
    (data / "attr.duckdb").rename(data / "convtrack.duckdb")
    (tmp_path / "plan.yaml").write_text(PLAN)
    monkeypatch.setenv("CONVTRACK_PLAN", str(tmp_path / "plan.yaml"))
    return data


def test_export_then_attribute_on_spark(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    assert main(["export", "--format", "parquet", "--out", str(lake), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "5 day(s) written" in out and "0 unchanged" in out
    assert (lake / "manifest.json").exists()
    assert (lake / "events" / "date=2024-05-20" / "part-0.parquet").exists()
    assert (
        main(["export", "--out", str(lake), "--from", "2024-05-19", "--data-dir", str(data)]) == 0
    )
    assert "0 day(s) written" in capsys.readouterr().out

    args = ["attribute", "--compare", "--paths", "--format", "json", "--data-dir", str(data)]
    assert main(args) == 0
    on_store = json.loads(capsys.readouterr().out)
    spark = ["--engine", "spark", "--input", str(lake), "--master", "local[2]"]
    assert main([*args, *spark]) == 0
    on_spark = json.loads(capsys.readouterr().out)
    assert rounded(on_spark) == rounded(on_store)
    assert on_store["totals"]["conversions"] == 2


def rounded(value: Any) -> Any:
    """Floats to 9 decimals, all the way down (engines may differ in the last bits)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def test_spark_needs_a_lake(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attribute", "--engine", "spark", "--data-dir", str(data)]) == 2
    assert "--input" in capsys.readouterr().err
