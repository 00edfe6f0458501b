"""A small plan for the report tests (a module: conftest is not importable).

Hierarchy: purchase ← purchase/subscription ← purchase/subscription/renewal; lead ← lead/form.
"""

from __future__ import annotations

from convtrack.plan import CompiledPlan, compile_plan, lint_text

PLAN = """\
version: "r1"
default_currency: EUR
events:
  - name: purchase
    aliases: ["Order Completed", "Bob's Order"]
    properties:
      value: {type: number}
      currency: {type: string}
      order_id: {type: string}
  - name: subscribe
    properties:
      value: {type: number}
      order_id: {type: string}
      renewal: {type: boolean}
  - name: generate_lead
  - name: form_submit
conversions:
  - name: purchase
    category: purchase
    event: purchase
    value: {property: value}
    counting: once_per_order
  - name: subscription
    category: purchase/subscription
    event: subscribe
    where: {renewal: {ne: true}}
    value: {property: value}
    counting: once_per_order
  - name: renewal
    category: purchase/subscription/renewal
    event: subscribe
    where: {renewal: true}
    value: {fixed: 5}
    currency: USD
  - name: lead
    category: lead
    event: generate_lead
    counting: once_per_person
  - name: form
    category: lead/form
    level: micro
    event: form_submit
"""


def compiled() -> CompiledPlan:
    plan, problems = lint_text(PLAN, "report-plan.yaml")
    assert plan is not None and not problems, problems
    return compile_plan(plan)
