"""``diff_plans(old, new)``: every change between two plans, classified like SchemaVer.

- **breaking** (SchemaVer MODEL): events that passed the old plan fail the new one, or stored
  data means something else: removed events, aliases, properties or conversions; retyped,
  newly required or narrowed properties; stricter types, sources, identifiers or unknown-event
  policy; a conversion's event, category, counting rule or windows changed.
- **revision** (REVISION): some data already stored may no longer fit, or some historical
  counts change: a property or event newly declared where undeclared data was accepted, a
  conversion's filter, value, currency or level changed, a platform mapping changed or
  removed, channel rules, fallback or default currency changed.
- **compatible** (ADDITION): everything that passed still passes and means the same: new
  optional properties where undeclared ones were rejected, new conversions, widened types,
  enums and bounds, new platform mappings, descriptions and owners.

See docs/tracking-plan.md, "Comparing plans".
"""

from __future__ import annotations

import re

from convtrack.plan.docs_text import value_text
from convtrack.plan.model import ConversionDef, EventDef, Plan
from convtrack.plan.schema_diff import LEVELS, Change, Level, Shape, compare_object, join, show

STRICTNESS = {"accept": 0, "warn": 0, "quarantine": 1}
_VERSION = re.compile(r"^(\d+)([.-])(\d+)\2(\d+)$")


def diff_plans(old: Plan, new: Plan) -> list[Change]:
    out = _top(old, new)
    out += _events(old, new)
    out += _conversions(old, new)
    out += _channels(old, new)
    return out


def worst(changes: list[Change]) -> Level | None:
    found = {c.level for c in changes}
    return next((level for level in LEVELS if level in found), None)


def next_version(version: str, level: Level | None) -> str | None:
    """``1.4.2`` → ``2.0.0`` (breaking), ``1.5.0`` (revision), ``1.4.3`` (compatible).

    None when ``version`` is not three numbers (``1.0.0`` or SchemaVer's ``1-0-0``)."""
    m = _VERSION.match(version)
    if m is None or level is None:
        return None if m is None else version
    major, sep, minor, patch = int(m[1]), m[2], int(m[3]), int(m[4])
    bumped = {
        "breaking": (major + 1, 0, 0),
        "revision": (major, minor + 1, 0),
        "compatible": (major, minor, patch + 1),
    }[level]
    return sep.join(str(n) for n in bumped)


def version_key(version: str) -> tuple[int, ...] | None:
    m = _VERSION.match(version)
    return None if m is None else (int(m[1]), int(m[3]), int(m[4]))


def _top(old: Plan, new: Plan) -> list[Change]:
    out = []
    if old.default_currency != new.default_currency:
        msg = f"{old.default_currency or 'setting'} → {new.default_currency or 'setting'}"
        out.append(Change("default_currency", msg, "revision"))
    if old.unknown_events != new.unknown_events:
        stricter = STRICTNESS[new.unknown_events] > STRICTNESS[old.unknown_events]
        msg = f"{old.unknown_events} → {new.unknown_events}"
        out.append(Change("unknown_events", msg, "breaking" if stricter else "compatible"))
    return out


def _aliases(plan: Plan) -> dict[str, str]:
    return {a: e.name for e in plan.events for a in e.aliases}


def _constrains(e: EventDef) -> bool:
    return bool(
        e.properties
        or e.required
        or not e.additional_properties
        or e.types
        or e.sources
        or e.required_identifiers
    )


def _events(old: Plan, new: Plan) -> list[Change]:
    olds, news = {e.name: e for e in old.events}, {e.name: e for e in new.events}
    old_alias, new_alias = _aliases(old), _aliases(new)
    unchecked = old.unknown_events != "quarantine"
    out = []
    for name in olds.keys() - news.keys():
        if name in new_alias:
            msg = f"removed; now an alias of {new_alias[name]}"
            out.append(Change(join("events", name), msg, "revision"))
        else:
            out.append(Change(join("events", name), "removed", "breaking"))
    for name in sorted(news.keys() - olds.keys()):
        e = news[name]
        if name in old_alias:
            msg = f"added; was an alias of {old_alias[name]}"
            out.append(Change(join("events", name), msg, "revision"))
        elif unchecked and _constrains(e):
            msg = "added (events of this name were stored unchecked before)"
            out.append(Change(join("events", name), msg, "revision"))
        else:
            out.append(Change(join("events", name), "added", "compatible"))
    for name in sorted(olds.keys() & news.keys()):
        out += _event(olds[name], news[name], new_alias, unchecked)
    return sorted(out, key=lambda c: c.path)


def _event(a: EventDef, b: EventDef, new_alias: dict[str, str], unchecked: bool) -> list[Change]:
    path = join("events", a.name)
    out = []
    for key in ("description", "owner"):
        if getattr(a, key) != getattr(b, key):
            out.append(Change(join(path, key), "changed", "compatible"))
    for alias in a.aliases:
        if alias in b.aliases:
            continue
        where = new_alias.get(alias)
        if where is not None:
            out.append(Change(join(path, "aliases"), f"{alias} moved to {where}", "breaking"))
        else:
            out.append(Change(join(path, "aliases"), f"{alias} removed", "breaking"))
    for alias in b.aliases:
        if alias not in a.aliases:
            level: Level = "revision" if unchecked and _constrains(b) else "compatible"
            out.append(Change(join(path, "aliases"), f"{alias} added", level))
    out += _set_change(join(path, "types"), a.types, b.types)
    out += _set_change(join(path, "sources"), a.sources, b.sources)
    out += _identifiers(join(path, "required_identifiers"), a, b)
    old_shape = Shape(a.properties, a.required, a.additional_properties)
    new_shape = Shape(b.properties, b.required, b.additional_properties)
    return out + compare_object(join(path, "properties"), old_shape, new_shape)


def _set_change(path: str, old: list[str], new: list[str]) -> list[Change]:
    """Allowed-value lists where empty means "any"."""
    if set(old) == set(new):
        return []
    msg = f"{show(old) if old else 'any'} → {show(new) if new else 'any'}"
    wider = not new or (bool(old) and set(old) <= set(new))
    return [Change(path, msg, "compatible" if wider else "breaking")]


def _groups(e: EventDef) -> list[frozenset[str]]:
    return [frozenset([g] if isinstance(g, str) else g) for g in e.required_identifiers]


def _identifiers(path: str, a: EventDef, b: EventDef) -> list[Change]:
    old, new = _groups(a), _groups(b)
    out = []
    for group in new:
        if not any(o <= group for o in old):
            msg = f"now requires {' or '.join(sorted(group))}"
            out.append(Change(path, msg, "breaking"))
    for group in old:
        if not any(n <= group for n in new):
            msg = f"no longer requires {' or '.join(sorted(group))}"
            out.append(Change(path, msg, "compatible"))
    return out


def _conversions(old: Plan, new: Plan) -> list[Change]:
    olds = {c.name: c for c in old.conversions}
    news = {c.name: c for c in new.conversions}
    out = [Change(join("conversions", n), "removed", "breaking") for n in olds.keys() - news.keys()]
    out += [
        Change(join("conversions", n), "added", "compatible") for n in news.keys() - olds.keys()
    ]
    for name in olds.keys() & news.keys():
        out += _conversion(olds[name], news[name])
    return sorted(out, key=lambda c: c.path)


_CONVERSION_LEVELS: dict[str, Level] = {
    "event": "breaking",
    "category": "breaking",
    "counting": "breaking",
    "where": "revision",
    "value": "revision",
    "currency": "revision",
    "level": "revision",
    "description": "compatible",
}


def _conversion(a: ConversionDef, b: ConversionDef) -> list[Change]:
    path = join("conversions", a.name)
    out = []
    for key, level in _CONVERSION_LEVELS.items():
        before, after = getattr(a, key), getattr(b, key)
        if before != after:
            if key == "value":
                before, after = value_text(before), value_text(after)
            msg = "changed" if key in ("where", "description") else f"{before} → {after}"
            out.append(Change(join(path, key), msg, level))
    for key in ("click_days", "view_days"):
        before, after = getattr(a.windows, key), getattr(b.windows, key)
        if before != after:
            out.append(Change(join(path, "windows", key), f"{before} → {after}", "breaking"))
    for platform in ("meta", "google", "ga4", "tiktok"):
        before, after = getattr(a.platforms, platform), getattr(b.platforms, platform)
        if before == after:
            continue
        msg = "added" if before is None else "removed" if after is None else "changed"
        level = "compatible" if before is None else "revision"
        out.append(Change(join(path, "platforms", platform), msg, level))
    return out


def _channels(old: Plan, new: Plan) -> list[Change]:
    a, b = old.channels, new.channels
    out = []
    for i in range(max(len(a.rules), len(b.rules))):
        before = a.rules[i] if i < len(a.rules) else None
        after = b.rules[i] if i < len(b.rules) else None
        if before != after:
            msg = "added" if before is None else "removed" if after is None else "changed"
            out.append(Change(join("channels", "rules", i), msg, "revision"))
    if a.include_defaults != b.include_defaults:
        msg = f"{show(a.include_defaults)} → {show(b.include_defaults)}"
        out.append(Change("channels/include_defaults", msg, "revision"))
    if a.fallback != b.fallback:
        out.append(Change("channels/fallback", f"{a.fallback} → {b.fallback}", "revision"))
    return out
