"""Plan fixtures: write a small YAML plan to a real file and lint it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from convtrack.plan import lint


@pytest.fixture
def lint_yaml(tmp_path: Path) -> Callable[[str], list[tuple[int, int, str]]]:
    """Lint YAML text (dedented) from a real file; return (line, column, message) triples."""

    def run(text: str) -> list[tuple[int, int, str]]:
        path = tmp_path / "plan.yaml"
        path.write_text(textwrap.dedent(text))
        problems = lint(path)
        assert all(p.file == str(path) for p in problems)
        return [(p.line, p.column, p.message) for p in problems]

    return run
