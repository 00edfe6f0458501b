"""Lint of ``adjustments[]`` and of the LinkedIn, Snapchat, Pinterest and Reddit mappings."""

from __future__ import annotations

from collections.abc import Callable

from plan_text import BASE

from convtrack.plan.rules import is_adjustment

Lint = Callable[[str], list[tuple[int, int, str]]]
REFUND_EVENT = """\
  - name: refund
    properties:
      order_id: {type: string}
"""
CONVERSION = """\
conversions:
  - name: purchase
    event: purchase
    category: purchase
"""


def plan(adjustments: str, platforms: str = "") -> str:
    mapped = f"    platforms:\n{platforms}" if platforms else ""
    return BASE + REFUND_EVENT + CONVERSION + mapped + "adjustments:\n" + adjustments


def test_a_valid_adjustment_and_mappings_lint_clean(lint_yaml: Lint) -> None:
    platforms = (
        '      linkedin: {conversion_rule_id: "104012"}\n'
        "      snapchat: {event: PURCHASE}\n"
        "      pinterest: {event: checkout}\n"
        "      reddit: {event: PURCHASE}\n"
    )
    text = plan("  - {event: refund, conversion: purchase, type: refund}\n", platforms)
    assert lint_yaml(text) == []


def test_unknown_event_and_conversion(lint_yaml: Lint) -> None:
    text = plan("  - {event: refnd, conversion: purchse, type: refund}\n")
    found = lint_yaml(text)
    assert [(line, col) for line, col, _ in found] == [(15, 13), (15, 32)]
    assert "unknown event 'refnd'" in found[0][2] and "did you mean 'refund'" in found[0][2]
    assert "unknown conversion 'purchse'" in found[1][2]


def test_an_event_cannot_adjust_its_own_conversion(lint_yaml: Lint) -> None:
    [(_, _, msg)] = lint_yaml(plan("  - {event: purchase, conversion: purchase, type: cancel}\n"))
    assert "defines the conversion 'purchase'" in msg


def test_unknown_type_duplicates_and_undeclared_where(lint_yaml: Lint) -> None:
    [(_, _, msg)] = lint_yaml(plan("  - {event: refund, conversion: purchase, type: chargeback}\n"))
    assert "chargeback" in msg
    twice = "  - {event: refund, conversion: purchase, type: refund}\n"
    assert [m for _, _, m in lint_yaml(plan(twice * 2))] == [
        "duplicate adjustment refund of 'purchase' by 'refund'"
    ]
    where = "  - {event: refund, conversion: purchase, type: refund, where: {amount: 1}}\n"
    [(_, _, msg)] = lint_yaml(plan(where))
    assert "event 'refund' declares no property 'amount'" in msg


def test_new_platform_mappings_are_checked(lint_yaml: Lint) -> None:
    platforms = (
        "      linkedin: {conversion_rule_id: urn:lla:1}\n"
        "      pinterest: {event: purchase}\n"
        "      reddit: {event: 'refund:Purchase'}\n"
    )
    text = plan("  - {event: refund, conversion: purchase, type: refund}\n", platforms)
    messages = [m for _, _, m in lint_yaml(text)]
    assert len(messages) == 3, messages
    assert "must be the numeric rule id" in messages[0]
    assert "'purchase' is not a Pinterest event name" in messages[1]
    assert "may not start with '<type>:'" in messages[2]
    assert is_adjustment("cancel:Lead") and not is_adjustment("Lead:cancel")
