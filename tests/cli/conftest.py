"""CLI fixtures: a clean environment, a data directory and a way to run ``convtrack``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from convtrack.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory; no CONVTRACK_* variable or ./convtrack.toml applies."""
    for name in list(os.environ):
        if name.startswith("CONVTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


@pytest.fixture
def convtrack(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``convtrack ARGS… --data-dir <data_dir>`` in-process; return code and output."""

    def run(*args: str, data: bool = True) -> Result:
        capsys.readouterr()
        argv = [*args, "--data-dir", str(data_dir)] if data else list(args)
        code = main(argv)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
