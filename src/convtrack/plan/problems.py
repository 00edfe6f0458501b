"""One lint finding, located at ``file:line:column``, and the "did you mean" helper."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """A finding in a plan file; ``line`` and ``column`` are 1-based (0 when unknown)."""

    file: str
    line: int
    column: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.line}:{self.column}: {tag}{self.message}"


@dataclass(frozen=True)
class Finding:
    """A problem not yet located: the plan path it concerns (``("events", 0, "name")``)."""

    path: tuple[str | int, ...]
    message: str
    at_key: bool = False  # point at the mapping key rather than its value
    severity: Severity = "error"


class PlanError(Exception):
    """A plan that does not lint clean; ``problems`` says why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors[:20]))


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close choice exists, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
