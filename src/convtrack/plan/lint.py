"""``lint(path)``: every problem in a plan file, each at ``file:line:column``."""

from __future__ import annotations

from pathlib import Path

from convtrack.plan.model import Plan
from convtrack.plan.problems import Finding, PlanError, Problem
from convtrack.plan.rules import RULES
from convtrack.plan.structure import decode
from convtrack.plan.yamlnodes import Located, YamlSyntaxError, load_located


def lint(path: str | Path) -> list[Problem]:
    """Problems found in the plan file at ``path`` (empty when it is clean), in file order."""
    return lint_text(Path(path).read_text(encoding="utf-8"), str(path))[1]


def lint_text(text: str, file: str = "<plan>") -> tuple[Plan | None, list[Problem]]:
    """The decoded plan (None when it has errors) and every problem, sorted by position."""
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        return None, [Problem(file, *exc.pos, exc.message)]
    findings = [Finding(p, f"duplicate key {p[-1]!r}", at_key=True) for p, _ in located.duplicates]
    plan, shape = decode(located)
    findings += shape
    if plan is not None:
        findings += [f for rule in RULES for f in rule(plan)]
    problems = sorted(_locate(f, located, file) for f in findings)
    if any(p.severity == "error" for p in problems):
        plan = None
    return plan, problems


def _locate(f: Finding, located: Located, file: str) -> Problem:
    if f.path in {p for p, _ in located.duplicates}:
        line, col = next(pos for p, pos in located.duplicates if p == f.path)
    else:
        line, col = located.where(f.path, key=f.at_key)
    return Problem(file, line, col, f.message, f.severity)


def load_plan(path: str | Path) -> Plan:
    """The plan at ``path``; raises ``PlanError`` (with every problem) unless it lints clean."""
    plan, problems = lint_text(Path(path).read_text(encoding="utf-8"), str(path))
    if plan is None:
        raise PlanError(problems)
    return plan
