"""``convtrack plan lint``: exit codes and file:line:column messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from convtrack.cli import main
from convtrack.plan import default_plan_text


def test_lint_clean_file_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tracking-plan.yaml").write_text(default_plan_text())
    assert main(["plan", "lint"]) == 0
    assert capsys.readouterr().out == ""


def test_lint_bad_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text('version: "1"\nunknown_event: warn\n')
    assert main(["plan", "lint", str(path)]) == 1
    out = capsys.readouterr().out
    hint = "(did you mean 'unknown_events'?)"
    assert out == f"{path}:2:1: unknown key 'unknown_event' in the plan {hint}\n"


def test_lint_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "lint", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err
