"""One test per lint rule, each with the exact line:column of the problem."""

from __future__ import annotations

from collections.abc import Callable

from plan_text import BASE

Lint = Callable[[str], list[tuple[int, int, str]]]


def test_clean_plan_has_no_problems(lint_yaml: Lint) -> None:
    assert lint_yaml(BASE) == []


def test_yaml_syntax_error(lint_yaml: Lint) -> None:
    [(line, col, msg)] = lint_yaml('version: "1"\nevents:\n  - name: [a\n')
    assert (line, col) == (4, 1)
    assert msg.startswith("YAML syntax error")


def test_unknown_key_with_suggestion(lint_yaml: Lint) -> None:
    text = BASE + "    descripton: typo\n"
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (7, 5)
    assert "unknown key 'descripton'" in msg and "did you mean 'description'" in msg


def test_every_unknown_key_is_reported(lint_yaml: Lint) -> None:
    text = BASE + "    ownr: x\nunknwn_events: warn\n"
    assert [(ln, c) for ln, c, _ in lint_yaml(text)] == [(7, 5), (8, 1)]


def test_duplicate_mapping_key(lint_yaml: Lint) -> None:
    text = 'version: "1"\nversion: "2"\n'
    assert lint_yaml(text) == [(2, 1, "duplicate key 'version'")]


def test_wrong_type(lint_yaml: Lint) -> None:
    text = BASE + "conversions:\n  - {name: p, event: purchase, category: p, counting: twice}\n"
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (8, 55)
    assert "conversions.0.counting" in msg and "twice" in msg


def test_missing_version(lint_yaml: Lint) -> None:
    [(line, col, msg)] = lint_yaml("events: []\n")
    assert (line, col) == (1, 1) and "version" in msg


def test_bad_json_schema(lint_yaml: Lint) -> None:
    text = BASE.replace("{type: number}", "{type: numbr}")
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (5, 21)
    assert msg.startswith("invalid JSON Schema")


def test_bad_bound_in_schema(lint_yaml: Lint) -> None:
    text = BASE.replace("{type: number}", "{type: number, minimum: zero}")
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (5, 38) and "'zero' is not of type 'number'" in msg


def test_unknown_format(lint_yaml: Lint) -> None:
    text = BASE.replace("{type: string}", "{type: string, format: uuidv4}")
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (6, 40) and "unknown format 'uuidv4'" in msg


def test_required_property_must_be_declared(lint_yaml: Lint) -> None:
    [(line, col, msg)] = lint_yaml(BASE + "    required: [value, total]\n")
    assert (line, col) == (7, 23) and "'total'" in msg


def test_duplicate_event_name(lint_yaml: Lint) -> None:
    [(line, col, msg)] = lint_yaml(BASE + "  - name: purchase\n")
    assert (line, col, msg) == (7, 11, "duplicate event name 'purchase' (already event 'purchase')")


def test_alias_clash(lint_yaml: Lint) -> None:
    alias = '    aliases: ["Order Completed"]\n'
    text = BASE + alias + "  - name: order\n" + alias
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (9, 15)
    assert msg == "duplicate alias name 'Order Completed' (already an alias of 'purchase')"


def test_duplicate_conversion_name(lint_yaml: Lint) -> None:
    conv = "  - {name: p, event: purchase, category: p}\n"
    [(line, col, msg)] = lint_yaml(BASE + "conversions:\n" + conv + conv)
    assert (line, col, msg) == (9, 12, "duplicate conversion name 'p'")


def test_unknown_event_in_conversion(lint_yaml: Lint) -> None:
    text = BASE + "conversions:\n  - {name: p, event: purchse, category: p}\n"
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (8, 22) and "unknown event 'purchse'" in msg and "'purchase'" in msg


def test_unknown_property_in_filter_and_value(lint_yaml: Lint) -> None:
    text = BASE + (
        "conversions:\n"
        "  - name: p\n"
        "    event: purchase\n"
        "    category: p\n"
        "    where: {plan: pro}\n"
        "    value: {property: vlue}\n"
    )
    found = lint_yaml(text)
    assert [(ln, c) for ln, c, _ in found] == [(11, 13), (12, 23)]
    assert "no property 'plan'" in found[0][2]
    assert "no property 'vlue'" in found[1][2] and "did you mean 'value'" in found[1][2]


def test_orphan_category(lint_yaml: Lint) -> None:
    text = BASE + "conversions:\n  - {name: p, event: purchase, category: purchase/renewal}\n"
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (8, 42) and "orphan" in msg and "'purchase'" in msg


def test_cycle_in_category(lint_yaml: Lint) -> None:
    text = BASE + (
        "conversions:\n"
        "  - {name: a, event: purchase, category: purchase}\n"
        "  - {name: b, event: purchase, category: purchase/renewal/purchase}\n"
    )
    [(line, col, msg)] = lint_yaml(text)
    assert (line, col) == (9, 42) and "its own ancestor" in msg


def test_invalid_currency(lint_yaml: Lint) -> None:
    text = BASE + "default_currency: usd\nconversions:\n"
    text += "  - {name: p, event: purchase, category: p, currency: EURO}\n"
    found = lint_yaml(text)
    assert [(ln, c) for ln, c, _ in found] == [(7, 19), (9, 55)]
    assert "did you mean 'USD'" in found[0][2]


def test_invalid_windows(lint_yaml: Lint) -> None:
    text = (
        BASE
        + "conversions:\n"
        + "".join(
            f"  - {{name: c{i}, event: purchase, category: c{i}, windows: {w}}}\n"
            for i, w in enumerate(
                ["{click_days: 0}", "{click_days: 7, view_days: 10}", "{click_days: 120}"]
            )
        )
    )
    found = lint_yaml(text)
    assert [(ln, c, m) for ln, c, m in found] == [
        (8, 69, "click_days must be 1..90"),
        (9, 83, "view_days must not exceed click_days"),
        (10, 69, "click_days must be 1..90"),
    ]


def test_reserved_ga4_event_name(lint_yaml: Lint) -> None:
    text = BASE + (
        "conversions:\n"
        "  - name: p\n"
        "    event: purchase\n"
        "    category: p\n"
        "    platforms:\n"
        "      ga4: {event: first_open}\n"
    )
    assert lint_yaml(text) == [(12, 20, "'first_open' is reserved by GA4")]


def test_unknown_source_and_bad_channel_regex(lint_yaml: Lint) -> None:
    text = BASE + (
        "    sources: [tag, sever]\n"
        "channels:\n"
        "  rules:\n"
        "    - {channel: Paid, utm_medium: '(cpc'}\n"
    )
    found = lint_yaml(text)
    assert [(ln, c) for ln, c, _ in found] == [(7, 20), (10, 35)]
    assert "did you mean 'server'" in found[0][2]
    assert found[1][2].startswith("invalid regex")


def test_unknown_key_inside_a_where_condition(lint_yaml: Lint) -> None:
    text = (
        BASE
        + "conversions:\n  - {name: p, event: purchase, category: p, where: {value: {gtt: 1}}}\n"
    )
    assert lint_yaml(text) == [
        (8, 61, "unknown key 'gtt' in conversions.0.where.value (did you mean 'gt'?)")
    ]
