"""``convtrack plan diff``: one case per classification rule, bump rule and exit codes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from convtrack.cli import main
from convtrack.plan import default_plan_text, lint_text
from convtrack.plan.diff import diff_plans, next_version, worst
from convtrack.plan.model import Plan

OLD = """\
version: "1.2.3"
default_currency: EUR
unknown_events: warn
events:
  - name: purchase
    description: An order.
    aliases: ["Order Completed", "Completed Order"]
    types: [track, conversion]
    sources: [tag, server]
    required_identifiers: [[email, phone]]
    properties:
      order_id: {type: string, minLength: 1, maxLength: 128}
      value: {type: number, minimum: 0}
      tier: {type: string, enum: [gold, silver]}
      count: {type: integer}
      coupon: {type: string}
      items:
        type: array
        items: {type: object, properties: {price: {type: number}}}
    required: [order_id]
  - name: closed
    additional_properties: false
    properties: {a: {type: string}}
conversions:
  - name: purchase
    category: purchase
    event: purchase
    value: {property: value}
    counting: once_per_order
    windows: {click_days: 30, view_days: 1}
    platforms:
      meta: {event: Purchase}
      ga4: {event: purchase}
channels:
  rules:
    - {channel: Partners, referrer_domains: [partner.example]}
"""
CLOSED = "  - name: closed\n    additional_properties: false\n    properties: {a: {type: string}}\n"
COUPON = "      coupon: {type: string}\n"


def _plan(text: str) -> Plan:
    plan, problems = lint_text(textwrap.dedent(text))
    assert plan is not None, problems
    return plan


def _changes(old: str, new: str) -> list[str]:
    assert old != new, "the edit did not apply"
    return [str(c) for c in diff_plans(_plan(old), _plan(new))]


def _edit(*pairs: tuple[str, str]) -> str:
    text = OLD
    for before, after in pairs:
        assert before in text, before
        text = text.replace(before, after, 1)
    return text


CASES = [
    # breaking (MODEL)
    ((CLOSED, ""),
     "events/closed: removed (breaking)"),
    ((COUPON, ""), "events/purchase/properties/coupon: removed (breaking)"),
    (("value: {type: number, minimum: 0}", "value: {type: string}"),
     "events/purchase/properties/value: type number → string (breaking)"),
    (("count: {type: integer}", "count: {type: [integer, string]}"),
     "events/purchase/properties/count: type integer → [integer, string] (compatible)"),
    (("count: {type: integer}", "count: {type: number}"),
     "events/purchase/properties/count: type integer → number (compatible)"),
    (("value: {type: number, minimum: 0}", "value: {type: integer, minimum: 0}"),
     "events/purchase/properties/value: type number → integer (breaking)"),
    (("    required: [order_id]\n", "    required: [order_id, value]\n"),
     "events/purchase/properties/value: now required (breaking)"),
    (("    required: [order_id]\n", "      gift: {type: string}\n    required: [order_id, gift]\n"),
     "events/purchase/properties/gift: added as required (breaking)"),
    (("enum: [gold, silver]", "enum: [gold]"),
     "events/purchase/properties/tier: enum values removed: [silver] (breaking)"),
    (("coupon: {type: string}", "coupon: {type: string, enum: [A]}"),
     "events/purchase/properties/coupon: enum added: [A] (breaking)"),
    (("minLength: 1, maxLength: 128", "minLength: 2, maxLength: 128"),
     "events/purchase/properties/order_id: minLength 1 → 2 (breaking)"),
    (("minLength: 1, maxLength: 128", "minLength: 1, maxLength: 64"),
     "events/purchase/properties/order_id: maxLength 128 → 64 (breaking)"),
    (("coupon: {type: string}", "coupon: {type: string, format: email}"),
     "events/purchase/properties/coupon: format none → email (breaking)"),
    (("coupon: {type: string}", "coupon: {type: string, pattern: '^[A-Z]+$'}"),
     "events/purchase/properties/coupon: pattern none → ^[A-Z]+$ (breaking)"),
    (("{price: {type: number}}", "{price: {type: string}}"),
     "events/purchase/properties/items/items/price: type number → string (breaking)"),
    (('aliases: ["Order Completed", "Completed Order"]', 'aliases: ["Order Completed"]'),
     "events/purchase/aliases: Completed Order removed (breaking)"),
    (("types: [track, conversion]", "types: [conversion]"),
     "events/purchase/types: [track, conversion] → [conversion] (breaking)"),
    (("sources: [tag, server]", "sources: [server]"),
     "events/purchase/sources: [tag, server] → [server] (breaking)"),
    (("required_identifiers: [[email, phone]]", "required_identifiers: [email]"),
     "events/purchase/required_identifiers: now requires email (breaking)"),
    (("  - name: closed\n", "  - name: closed\n    additional_properties: true\n"), None),
    (("    required: [order_id]\n", "    required: [order_id]\n    additional_properties: false\n"),
     "events/purchase/properties: undeclared properties now rejected (breaking)"),
    (("unknown_events: warn", "unknown_events: quarantine"),
     "unknown_events: warn → quarantine (breaking)"),
    (("  - name: purchase\n    category:", "  - name: old\n    category:"),
     "conversions/purchase: removed (breaking)"),
    (("counting: once_per_order", "counting: every"),
     "conversions/purchase/counting: once_per_order → every (breaking)"),
    (("click_days: 30", "click_days: 7"),
     "conversions/purchase/windows/click_days: 30 → 7 (breaking)"),
    # revision (REVISION)
    ((COUPON, COUPON + "      gift: {type: string}\n"),
     "events/purchase/properties/gift: added (events stored before may carry it with another "
     "shape) (revision)"),
    (("value: {property: value}", "value: {fixed: 10}"),
     "conversions/purchase/value: property value → fixed 10 (revision)"),
    (("    value: {property", "    where: {tier: gold}\n    value: {property"),
     "conversions/purchase/where: changed (revision)"),
    (("      ga4: {event: purchase}\n", ""),
     "conversions/purchase/platforms/ga4: removed (revision)"),
    (("meta: {event: Purchase}", "meta: {event: Subscribe}"),
     "conversions/purchase/platforms/meta: changed (revision)"),
    (("partner.example", "partners.example"), "channels/rules/0: changed (revision)"),
    (("default_currency: EUR", "default_currency: USD"),
     "default_currency: EUR → USD (revision)"),
    (("version: \"1.2.3\"\n", "version: \"1.2.3\"\nchannels: {fallback: Other}\n"), None),
    # compatible (ADDITION)
    (("    properties: {a: {type: string}}\n", "    properties: {a: {type: string}, b: {}}\n"),
     "events/closed/properties/b: added (compatible)"),
    (("enum: [gold, silver]", "enum: [gold, silver, bronze]"),
     "events/purchase/properties/tier: enum values added: [bronze] (compatible)"),
    (("minLength: 1, maxLength: 128", "maxLength: 256"),
     "events/purchase/properties/order_id: maxLength 128 → 256 (compatible)"),
    (("    required: [order_id]\n", ""),
     "events/purchase/properties/order_id: no longer required (compatible)"),
    (("sources: [tag, server]", "sources: [tag, server, app]"),
     "events/purchase/sources: [tag, server] → [tag, server, app] (compatible)"),
    (("description: An order.", "description: A completed order."),
     "events/purchase/description: changed (compatible)"),
    (("value: {type: number, minimum: 0}", "value: {type: number, minimum: 0, description: x}"),
     "events/purchase/properties/value: description changed (compatible)"),
    (("      ga4: {event: purchase}\n", "      ga4: {event: purchase}\n      tiktok: {event: X}\n"),
     "conversions/purchase/platforms/tiktok: added (compatible)"),
    (("conversions:\n", "conversions:\n  - {name: c2, category: c2, event: closed}\n"),
     "conversions/c2: added (compatible)"),
    (("unknown_events: warn", "unknown_events: accept"),
     "unknown_events: warn → accept (compatible)"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "expected"), [c for c in CASES if c[1] is not None])
def test_each_rule(edit: tuple[str, str], expected: str) -> None:
    assert expected in _changes(OLD, _edit(edit))


def test_new_event_is_a_revision_unless_unknown_events_were_quarantined() -> None:
    new_event = ("events:\n", "events:\n  - {name: signup, properties: {plan: {type: string}}}\n")
    assert _changes(OLD, _edit(new_event)) == ["events/signup: added (events of this name were "
                                               "stored unchecked before) (revision)"]  # fmt: skip
    strict = _edit(("unknown_events: warn", "unknown_events: quarantine"))
    new = strict.replace(*new_event)
    assert _changes(strict, new) == ["events/signup: added (compatible)"]
    bare = ("events:\n", "events:\n  - {name: signup}\n")
    assert _changes(OLD, _edit(bare)) == ["events/signup: added (compatible)"]


def test_event_turned_into_an_alias_is_a_revision() -> None:
    new = _edit(
        (CLOSED, ""),
        ('aliases: ["Order Completed", "Completed Order"]',
         'aliases: ["Order Completed", "Completed Order", closed]'),
    )  # fmt: skip
    assert "events/closed: removed; now an alias of purchase (revision)" in _changes(OLD, new)


def test_channel_and_fallback_changes_are_revisions() -> None:
    new = OLD + "  fallback: Other\n  include_defaults: false\n"
    assert _changes(OLD, new) == [
        "channels/include_defaults: true → false (revision)",
        "channels/fallback: Unassigned → Other (revision)",
    ]


def test_identical_plans_have_no_changes() -> None:
    assert diff_plans(_plan(OLD), _plan(OLD)) == []
    assert worst([]) is None


@pytest.mark.parametrize(
    ("version", "level", "expected"),
    [
        ("1.2.3", "breaking", "2.0.0"),
        ("1.2.3", "revision", "1.3.0"),
        ("1.2.3", "compatible", "1.2.4"),
        ("1-0-0", "revision", "1-1-0"),
        ("1.2.3", None, "1.2.3"),
        ("2025-01-31.1", "breaking", None),
    ],
)
def test_next_version(version: str, level: str | None, expected: str | None) -> None:
    assert next_version(version, level) == expected  # type: ignore[arg-type]


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_cli_exit_codes_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(tmp_path, "old.yaml", OLD)
    same = _write(tmp_path, "same.yaml", OLD)
    assert main(["plan", "diff", old, same]) == 0
    assert capsys.readouterr().out == "no changes\n"

    widened = _edit(("enum: [gold, silver]", "enum: [gold, silver, x]"), ('"1.2.3"', '"1.2.4"'))
    added = _write(tmp_path, "added.yaml", widened)
    assert main(["plan", "diff", old, added]) == 0
    out = capsys.readouterr()
    assert "bump ADDITION: 1.2.3 → 1.2.4 (new plan says 1.2.4)" in out.out
    assert "warning" not in out.err

    retyped = _edit(("value: {type: number, minimum: 0}", "value: {type: string, minimum: 0}"))
    broken = _write(tmp_path, "broken.yaml", retyped)
    assert main(["plan", "diff", old, broken]) == 1
    out = capsys.readouterr()
    assert "events/purchase/properties/value: type number → string (breaking)\n" in out.out
    assert "1 change(s): 1 breaking, 0 revision, 0 compatible; bump MODEL: 1.2.3 → 2.0.0" in out.out
    assert "says version 1.2.3; these changes need at least 2.0.0" in out.err


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(tmp_path, "old.yaml", OLD)
    new = _write(tmp_path, "new.yaml", _edit(("default_currency: EUR", "default_currency: USD")))
    assert main(["plan", "diff", old, new, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "old_version": "1.2.3",
        "new_version": "1.2.3",
        "level": "revision",
        "suggested_version": "1.3.0",
        "changes": [{"path": "default_currency", "change": "EUR → USD", "level": "revision"}],
    }


def test_cli_exit_2_when_a_plan_does_not_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _write(tmp_path, "old.yaml", default_plan_text())
    bad = _write(tmp_path, "bad.yaml", 'version: "2"\nevnts: []\n')
    assert main(["plan", "diff", old, bad]) == 2
    assert f"{bad}:2:1: unknown key 'evnts'" in capsys.readouterr().err
    assert main(["plan", "diff", str(tmp_path / "missing.yaml"), old]) == 2
    assert "cannot read" in capsys.readouterr().err
