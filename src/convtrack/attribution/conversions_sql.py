"""The tracking plan's counted conversions as one portable SQL query over ``events``.

``conversions_sql`` gives the same conversions as ``reports.counting.count_hits`` on the
candidates ``reports.conversions_query`` loads, but inside the store's engine: no Python
loop over events. One ``SELECT`` per conversion (its stored names, aliases included, and
its ``where``) is unioned; conversions with a once-rule are then ranked with
``ROW_NUMBER()`` per (conversion, dedup key) over all history before the window's end, and
only each key's first event counts.

The plan's semantics are kept exactly (see ``plan.filters``): a path walks objects by key
and arrays by index; the lifted columns ``value``, ``currency`` and ``order_id`` override
the properties of the same name; ``True`` never equals ``1`` but ``1`` equals ``1.0``;
``"5"`` is not ``5``; comparisons hold for numbers only; ``ne``/``not_in`` hold on a
missing property. Numbers are compared exactly (integers of any size as text, reals as
doubles). The ``once_per_order`` key is Python's ``str()`` of the order id, so ``5`` and
``"5"`` are one order; an object or array order id is keyed by its JSON text instead
(Python would also merge it with a string equal to its ``repr``).

Plan values are ``?`` parameters; JSON paths are escaped literals (see ``Dialect``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from convtrack.attribution.dialect import Dialect
from convtrack.errors import ConvtrackError
from convtrack.plan import CompiledPlan
from convtrack.plan.model import Condition, ConversionDef, Scalar
from convtrack.reports.counting import Window

# conversion_key = event_id + KEY_SEP + conversion name; names may not contain it, so the
# key is unique (split at its last KEY_SEP to get the event id and name back).
KEY_SEP = "\x1f"
COLUMNS = (
    "conversion_key", "event_id", "conversion", "category", "occurred_at",
    "anonymous_id", "user_id", "value", "currency",
)  # fmt: skip
LIFTED = {"value": "real", "currency": "string", "order_id": "string"}
ONCE = ("once_per_order", "once_per_person")
_NUMBER = "('integer', 'real')"

Query = tuple[str, list[Any]]


def conversions_sql(
    plan: CompiledPlan, window: Window, dialect: Dialect, default_currency: str
) -> Query | None:
    """One ``SELECT`` (``?`` parameters, no ``;``) with one row per counted conversion
    inside ``window`` and the columns of ``COLUMNS``; ``None`` when nothing can match.

    ``value`` is a double (NULL: no value); ``currency`` is NULL when the conversion has
    no value rule (like ``count_hits``, it is set when the rule finds no number)."""
    _check_names(plan)
    currency = plan.plan.default_currency or default_currency
    every: list[Query] = []
    once: list[Query] = []
    for conv in plan.plan.conversions:
        names = _stored_names(plan, conv.event)
        if names:
            arm = _Arm(conv, dialect)
            (once if conv.counting in ONCE else every).append(arm.sql(names, window, currency))
    if not every and not once:
        return None
    parts = every + ([_ranked(once, window, dialect)] if once else [])
    union = _join(" UNION ALL ", parts)
    cols = ", ".join(f"c.{c}" for c in COLUMNS[1:])
    key = "c.event_id || ? || c.conversion AS conversion_key"  # CONCAT types no parameter
    return f"SELECT {key}, {cols} FROM ({union[0]}) c", [KEY_SEP, *union[1]]  # noqa: S608


def _check_names(plan: CompiledPlan) -> None:
    """Names key the dedup and ``conversion_key``: unique (lint checks it too), no KEY_SEP."""
    seen: set[str] = set()
    for conv in plan.plan.conversions:
        problem = "is used twice" if conv.name in seen else ""
        if KEY_SEP in conv.name:
            problem = "contains the control character U+001F"
        if problem:
            raise ConvtrackError("invalid_plan", f"conversion name {conv.name!r} {problem}")
        seen.add(conv.name)


def _stored_names(plan: CompiledPlan, event: str) -> list[str]:
    """Stored names that ``plan.canonical`` maps to ``event`` (an alias matches nothing)."""
    names = {n for n, canonical in plan.names.items() if canonical == event}
    if event not in plan.names:
        names.add(event)
    return sorted(names)


def _join(sep: str, parts: list[Query]) -> Query:
    return sep.join(s for s, _ in parts), [p for _, ps in parts for p in ps]


def _at(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00:00"


def _ranked(arms: list[Query], window: Window, dialect: Dialect) -> Query:
    """The first event of each (conversion, dedup key), inside the window."""
    sql, params = _join(" UNION ALL ", arms)
    order = f"o.occurred_at, {dialect.binary_text('o.event_id')}"
    key = "o.conversion, o.dedup_kind, o.dedup_key"
    rank = f"ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order})"
    cols = ", ".join(f"r.{c}" for c in COLUMNS[1:])
    where = "r.rn = 1"
    if window.start is not None:
        where += f" AND r.occurred_at >= {dialect.timestamp_param()}"
        params = [*params, _at(window.start)]
    inner = f"SELECT o.*, {rank} AS rn FROM ({sql}) o"  # noqa: S608
    return f"SELECT {cols} FROM ({inner}) r WHERE {where}", params  # noqa: S608


# -- one conversion ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    """SQL for the value at one path: its portable type (NULL: missing), its text, and
    the number as a double (evaluate only where the type is 'integer' or 'real')."""

    type: str
    text: str
    num: str


@dataclass
class _Arm:
    """The SELECT of one conversion: an inner query projects each path's type and text
    once (t0, x0, ...); the outer one filters on them and computes value, currency, key."""

    conv: ConversionDef
    dialect: Dialect
    paths: dict[tuple[str, ...], int] = field(default_factory=dict)

    def sql(self, names: list[str], window: Window, currency: str) -> Query:
        conv = self.conv
        where = _join(" AND ", [self.condition(p, c) for p, c in conv.where.items()] or [_T])
        value, money = self.value(), self.currency(currency)
        selected = _join(", ", [
            ("e.event_id, ? AS conversion, ? AS category", [conv.name, conv.category]),
            ("e.occurred_at, e.anonymous_id, e.user_id", []),
            (f"{value[0]} AS value", value[1]),
            (f"{money[0]} AS currency", money[1]),
            *self.dedup(),
        ])  # fmt: skip
        inner = self.inner(names, window)  # after the above: they name the paths it projects
        sql = f"SELECT {selected[0]} FROM ({inner[0]}) e WHERE {where[0]}"  # noqa: S608
        return sql, [*selected[1], *inner[1], *where[1]]

    def inner(self, names: list[str], window: Window) -> Query:
        cols = ["event_id", "occurred_at", "anonymous_id", "user_id", "value"]
        for parts, i in self.paths.items():
            kind, text = self.project(parts)
            cols += [f"{kind} AS t{i}", f"{text} AS x{i}"]
        clauses = ["event_name IN (" + ", ".join("?" for _ in names) + ")"]
        params: list[Any] = list(names)
        at = self.dialect.timestamp_param()
        if window.end is not None:
            clauses.append(f"occurred_at < {at}")
            params.append(_at(window.end))
        if window.start is not None and self.conv.counting not in ONCE:
            clauses.append(f"occurred_at >= {at}")
            params.append(_at(window.start))
        where = " AND ".join(clauses)
        return f"SELECT {', '.join(cols)} FROM events WHERE {where}", params  # noqa: S608

    # -- paths ----------------------------------------------------------------------------
    def node(self, path: str) -> _Node:
        parts = _parts(path)
        i = self.paths.setdefault(parts, len(self.paths))
        num = self.dialect.to_double(f"e.x{i}")
        if parts == ("value",):  # the lifted DECIMAL column, else the property's text
            lifted = self.dialect.to_double("e.value")
            num = f"CASE WHEN e.value IS NOT NULL THEN {lifted} ELSE {num} END"
        return _Node(f"e.t{i}", f"e.x{i}", num)

    def project(self, parts: tuple[str, ...]) -> tuple[str, str]:
        """Type and text of the plan's view of ``parts``: a non-NULL lifted column
        replaces the property of its name (and has nothing below it)."""
        kind, text = _json(self.dialect, "properties", parts, 0)
        head = parts[0]
        if head not in LIFTED:
            return kind, text
        if len(parts) > 1:
            return (f"CASE WHEN {head} IS NULL THEN {kind} END",
                    f"CASE WHEN {head} IS NULL THEN {text} END")  # fmt: skip
        mine = "NULL" if head == "value" else head  # the value's number is in _Node.num
        return (f"CASE WHEN {head} IS NOT NULL THEN '{LIFTED[head]}' ELSE {kind} END",
                f"CASE WHEN {head} IS NOT NULL THEN {mine} ELSE {text} END")  # fmt: skip

    # -- where ----------------------------------------------------------------------------
    def condition(self, path: str, cond: Condition | Scalar) -> Query:
        if not isinstance(cond, Condition):
            cond = Condition(eq=cond)
        n = self.node(path)
        checks: list[Query] = []
        if cond.exists is not None:
            checks.append((f"{n.type} IS {'NOT ' if cond.exists else ''}NULL", []))
        for options, want in ((cond.eq, True), (cond.ne, False)):
            if options is not None:
                checks.append(_one_of(n, [options], want))
        for many, want in ((cond.in_, True), (cond.not_in, False)):
            if many is not None:
                checks.append(_one_of(n, many, want))
        for op, bound in ((">", cond.gt), (">=", cond.gte), ("<", cond.lt), ("<=", cond.lte)):
            if bound is not None:
                checks.append(_compare(self.dialect, n, op, bound))
        return _join(" AND ", checks or [_T])

    # -- what a hit carries -----------------------------------------------------------------
    def value(self) -> Query:
        rule = self.conv.value
        if rule is None:
            return self.dialect.to_double("NULL"), []
        if rule.fixed is not None:
            return self.dialect.to_double("?"), [float(rule.fixed)]
        n = self.node(rule.property or "")
        return f"CASE WHEN {n.type} IN {_NUMBER} THEN {n.num} END", []

    def currency(self, default: str) -> Query:
        if self.conv.value is None:
            return "CASE WHEN 1 = 0 THEN '' END", []  # a NULL of the text type
        if self.conv.currency:
            return "?", [self.conv.currency]
        n = self.node("currency")
        return f"CASE WHEN {n.type} = 'string' THEN {n.text} ELSE ? END", [default]

    def dedup(self) -> list[Query]:
        """``dedup_kind``/``dedup_key``: the plan's ``counting.dedup_key`` in SQL."""
        if self.conv.counting == "once_per_person":
            person = "COALESCE(NULLIF(e.user_id, ''), NULLIF(e.anonymous_id, ''))"
            kind = f"CASE WHEN {person} IS NULL THEN 'event' ELSE 'person' END"
            return [(f"{kind} AS dedup_kind, COALESCE({person}, e.event_id) AS dedup_key", [])]
        if self.conv.counting != "once_per_order":
            return []
        n = self.node("order_id")
        alone = f"{n.type} IS NULL OR {n.type} = 'null' OR ({n.type} = 'string' AND {n.text} = '')"
        kind = (
            f"CASE WHEN {alone} THEN 'event' "
            f"WHEN {n.type} IN ('object', 'array') THEN 'json' ELSE 'order' END"
        )
        boolean = f"CASE WHEN {n.text} = 'true' THEN 'True' ELSE 'False' END"
        key = (  # Python's str() of the order id
            f"CASE WHEN {alone} THEN e.event_id "
            f"WHEN {n.type} = 'real' THEN {self.dialect.float_text(n.num)} "
            f"WHEN {n.type} = 'boolean' THEN {boolean} ELSE {n.text} END"
        )
        return [(f"{kind} AS dedup_kind, {key} AS dedup_key", [])]


_T: Query = ("TRUE", [])
_F: Query = ("FALSE", [])


def _parts(path: str) -> tuple[str, ...]:
    """``path`` split on ".", checked for what no SQL string literal can hold."""
    if "\x00" in path or any(0xD800 <= ord(ch) <= 0xDFFF for ch in path):
        raise ConvtrackError(
            "invalid_plan", f"property path {path!r} has a NUL or an unpaired surrogate"
        )
    return tuple(path.split("."))


def _index(part: str) -> str | None:
    """The array index Python's ``get`` would read for a part that a JSON pointer does
    not read as one ('01', Arabic-Indic digits); None for every other part."""
    if not part.isdigit() or (part.isascii() and str(int(part)) == part):
        return None
    try:
        return str(int(part))
    except ValueError:  # '²': Python raises on an array; here it is a key only
        return None


def _json(d: Dialect, col: str, parts: tuple[str, ...], start: int) -> tuple[str, str]:
    """Type and text at ``parts``, branching on the parent's type at each digit part the
    pointer reads differently from Python (at most a handful in any real plan)."""
    at = next((i for i in range(max(start, 1), len(parts)) if _index(parts[i])), None)
    if at is None:
        return d.json_type(col, parts), d.json_text(col, parts)
    parent = d.json_type(col, parts[:at])
    index = (*parts[:at], _index(parts[at]) or "", *parts[at + 1 :])
    array, obj = _json(d, col, index, at + 1), _json(d, col, parts, at + 1)
    pick = "CASE {} WHEN 'array' THEN {} WHEN 'object' THEN {} END"
    return pick.format(parent, array[0], obj[0]), pick.format(parent, array[1], obj[1])


# -- conditions -------------------------------------------------------------------------


def _one_of(n: _Node, options: list[Scalar], want: bool) -> Query:
    """``any(_same(v, o) for o in options) == want``, never NULL."""
    sql, params = _join(" OR ", [_equals(n, o) for o in options] or [_F])
    return f"{'' if want else 'NOT '}COALESCE({sql}, FALSE)", params


def _equals(n: _Node, option: Scalar) -> Query:
    if isinstance(option, bool):
        return f"({n.type} = 'boolean' AND {n.text} = ?)", ["true" if option else "false"]
    if isinstance(option, str):
        return f"({n.type} = 'string' AND {n.text} = ?)", [option]
    terms: list[Query] = []
    whole = _as_int(option)
    if whole is not None:  # integers equal exactly: canonical decimal text
        terms.append((f"({n.type} = 'integer' AND {n.text} = ?)", [str(whole)]))
    real = _as_float(option)
    if real is not None:
        terms.append((f"CASE WHEN {n.type} = 'real' THEN {n.num} = ? END", [real]))
    return _join(" OR ", terms or [_F])


def _as_int(x: int | float) -> int | None:
    """The integer equal to ``x`` (Python's int == float is exact), if any."""
    if isinstance(x, int):
        return x
    return int(x) if math.isfinite(x) and x.is_integer() else None


def _as_float(x: int | float) -> float | None:
    """The double equal to ``x``, if any (NaN equals nothing)."""
    if isinstance(x, float):
        return None if math.isnan(x) else x
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if f == x else None


def _compare(d: Dialect, n: _Node, op: str, bound: float) -> Query:
    """``_num(v) and v <op> bound``: integers exactly (as text), reals as doubles."""
    if isinstance(bound, float) and math.isnan(bound):
        return _F  # no number compares with NaN
    if isinstance(bound, bool) or _as_float(bound) is None:
        raise ConvtrackError("invalid_plan", f"comparison bound {bound!r} is not a double")
    b = float(bound)
    ints = _int_compare(d, n.text, op, b)
    real = f"{n.num} {op} ?"
    sql = f"CASE WHEN {n.type} = 'integer' THEN {ints[0]} WHEN {n.type} = 'real' THEN {real} END"
    return f"COALESCE({sql}, FALSE)", [*ints[1], b]


def _int_compare(d: Dialect, text: str, op: str, b: float) -> Query:
    """An integer (canonical decimal text of any length) against a double, exactly:
    ``v > b`` is ``v >= floor(b) + 1`` and so on, then sign, length and digits decide."""
    if math.isinf(b):
        return _T if (b > 0) == (op in ("<", "<=")) else _F
    at_least = op in (">", ">=")
    k = {">": math.floor(b) + 1, ">=": math.ceil(b), "<": math.ceil(b) - 1, "<=": math.floor(b)}
    s = str(k[op])
    neg, n, bt = f"SUBSTR({text}, 1, 1) = '-'", f"LENGTH({text})", d.binary_text(text)
    longer = f"{n} > ? OR ({n} = ? AND {bt} >= ?)"  # |v| >= |k|, same sign
    shorter = f"{n} < ? OR ({n} = ? AND {bt} <= ?)"  # |v| <= |k|, same sign
    p = [len(s), len(s), s]
    if s.startswith("-"):
        sql = f"(NOT {neg} OR {shorter})" if at_least else f"({neg} AND ({longer}))"
    else:
        sql = f"(NOT {neg} AND ({longer}))" if at_least else f"({neg} OR {shorter})"
    return sql, p
