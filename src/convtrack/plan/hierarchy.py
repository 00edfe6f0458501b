"""The conversion hierarchy: category paths such as ``purchase/subscription/renewal``.

Every conversion sits at one category path; a path's ancestors are its prefixes, and a
conversion counts in its own category and rolls up into each ancestor. Rules (lint):

- a segment is lower-case letters, digits and ``_``; no empty segments;
- **orphan**: a path whose parent path is not the category of some conversion in the plan
  (``purchase/subscription`` needs a conversion in ``purchase``) — declare each level;
- **cycle**: a category that is its own ancestor, i.e. a path that repeats a segment
  (``purchase/renewal/purchase``): roll-ups would count it into itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SEGMENT = re.compile(r"^[a-z0-9_]+$")


def ancestors(category: str) -> list[str]:
    """``a/b/c`` → ``["a/b", "a"]`` (nearest first)."""
    parts = category.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


def rollup(category: str) -> list[str]:
    """The categories a conversion in ``category`` counts in: itself, then its ancestors."""
    return [category, *ancestors(category)]


def path_problem(category: str) -> str | None:
    parts = category.split("/")
    bad = [p for p in parts if not SEGMENT.match(p)]
    if bad:
        return (
            f"category {category!r}: segment {bad[0]!r} must be lower-case letters, digits, '_' "
            "(segments are separated by '/')"
        )
    seen: set[str] = set()
    for part in parts:
        if part in seen:
            return f"category {category!r} is its own ancestor (cycle at {part!r})"
        seen.add(part)
    return None


def orphans(categories: Iterable[str]) -> dict[str, str]:
    """category → its missing parent, for each category whose parent is not declared."""
    declared = set(categories)
    out = {}
    for cat in declared:
        parents = ancestors(cat)
        if parents and parents[0] not in declared:
            out[cat] = parents[0]
    return out


def tree(categories: Iterable[str]) -> dict[str, list[str]]:
    """parent category ('' for the roots) → its direct children, sorted."""
    out: dict[str, list[str]] = {}
    for cat in sorted(set(categories)):
        parents = ancestors(cat)
        out.setdefault(parents[0] if parents else "", []).append(cat)
    return out
