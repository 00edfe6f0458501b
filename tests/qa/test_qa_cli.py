"""``convtrack qa modeled|anomalies`` on a real store file, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convtrack.cli import main
from convtrack.store import open_store
from qa_events import T0, visit


def test_qa_modeled_and_anomalies_read_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"duckdb://{tmp_path / 'cli.duckdb'}"
    with open_store(url) as store:
        store.migrate()
        events = []
        for n in range(20):
            events += visit(n, consented=n < 10, converts=n in (0, 1), source="google")
        store.append(events)  # type: ignore[arg-type]
    window = ["--from", "2026-03-02T00:00:00Z", "--to", "2026-03-03T00:00:00Z"]
    argv = ["qa", "modeled", *window, "--store", url, "--data-dir", str(tmp_path / "d")]
    assert main([*argv, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["modeled"] == 2.0 and out["observed"]["consented"] == 2
    assert main(argv) == 0
    assert "google / cpc" in capsys.readouterr().out
    to = ["--to", T0.isoformat(), "--store", url, "--data-dir", str(tmp_path / "d")]
    assert main(["qa", "anomalies", *to, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["anomalies"] == []
