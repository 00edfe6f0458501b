"""``ActivePlan``: the compiled plan ingest checks against, reloadable while serving.

Ingest reads ``active.compiled`` once per request; a reload loads and compiles the new file
first and then replaces that one reference, so a request sees either the old plan or the new
one, never a mix. A plan that does not lint clean is refused and the old one stays.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from convtrack.plan import load_configured_plan
from convtrack.plan.compiled import CompiledPlan
from convtrack.plan.problems import PlanError, Problem

log = logging.getLogger("convtrack.plan")


def compile_file(path: str) -> CompiledPlan:
    """The compiled plan at ``path`` (default plan when empty); ``PlanError`` otherwise.

    An unreadable file is a ``PlanError`` too, so callers handle one kind of failure."""
    try:
        return load_configured_plan(path)
    except OSError as exc:
        reason = f"cannot read the plan file: {exc.strerror or exc}"
        raise PlanError([Problem(path, 0, 0, reason)]) from None


class ActivePlan:
    """The plan in force; ``reload()`` swaps it atomically (one attribute assignment)."""

    def __init__(self, path: str, compiled: CompiledPlan) -> None:
        self.path = path
        self.compiled = compiled
        self._reloading = threading.Lock()  # two reloads never swap out of order

    @classmethod
    def load(cls, path: str) -> ActivePlan:
        return cls(path, compile_file(path))

    @property
    def version(self) -> str:
        return self.compiled.version

    @property
    def file(self) -> str | None:
        """The plan file as an absolute path; None for the default plan."""
        return str(Path(self.path).resolve()) if self.path else None

    def reload(self, trigger: str) -> CompiledPlan:
        """Load and compile the file again; swap only a clean plan (``PlanError`` otherwise).

        Blocking (file I/O, schema compilation): call it off the event loop."""
        with self._reloading:
            try:
                fresh = compile_file(self.path)
            except PlanError as exc:
                lines = "\n".join(problem_lines(exc))
                log.warning("plan reload (%s) refused; %s stays:\n%s", trigger, self.version, lines)
                raise
            old, self.compiled = self.version, fresh
        log.info("plan reloaded (%s): version %s (was %s)", trigger, fresh.version, old)
        return fresh

    def describe(self) -> dict[str, str | None]:
        return {"version": self.version, "file": self.file}


def problem_lines(err: PlanError) -> list[str]:
    """Every problem of a refused plan as ``file:line:column: message``."""
    return [str(p) for p in err.problems]
