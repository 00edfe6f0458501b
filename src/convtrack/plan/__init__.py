"""The tracking plan (stage "define"): what events look like and what counts as a conversion.

``lint`` a plan file, ``load_plan`` it, ``compile_plan`` it once, then ``check`` events
against it at ingest. See docs/tracking-plan.md.
"""

from __future__ import annotations

from importlib import resources

from convtrack.plan.compiled import CheckResult, CompiledPlan, compile_plan
from convtrack.plan.events_view import check_event, conversions_of
from convtrack.plan.lint import lint, lint_text, load_plan
from convtrack.plan.model import Plan
from convtrack.plan.problems import PlanError, Problem

DEFAULT_PLAN = "default_plan.yaml"


def default_plan_text() -> str:
    return resources.files(__package__).joinpath(DEFAULT_PLAN).read_text(encoding="utf-8")


def load_default_plan() -> Plan:
    """The plan shipped with convtrack (e-commerce, leads, SaaS, app)."""
    plan, problems = lint_text(default_plan_text(), DEFAULT_PLAN)
    if plan is None:
        raise PlanError(problems)
    return plan


def load_configured_plan(path: str) -> CompiledPlan:
    """The compiled plan from ``path`` (the ``plan`` setting), or the default plan if empty.

    Raises ``PlanError`` with every problem when the file does not lint clean."""
    return compile_plan(load_plan(path) if path else load_default_plan())


__all__ = [
    "CheckResult", "CompiledPlan", "Plan", "PlanError", "Problem", "check_event",
    "compile_plan", "conversions_of", "default_plan_text", "lint", "lint_text",
    "load_configured_plan", "load_default_plan", "load_plan",
]  # fmt: skip
