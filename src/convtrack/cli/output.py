"""Rendering query results for the terminal: table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from convtrack.jsonable import plain
from convtrack.store import QueryResult


def render(result: QueryResult, fmt: str) -> str:
    rows = [[plain(v) for v in row] for row in result.rows]
    if fmt == "json":
        return json.dumps([dict(zip(result.columns, r, strict=True)) for r in rows], default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(rows)
        return buf.getvalue().rstrip("\n")
    return table(result.columns, rows)


def table(columns: list[str], rows: list[list[Any]], max_width: int = 80) -> str:
    cells = [[("" if v is None else str(v))[:max_width] for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    count = f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
    return "\n".join([line, rule, *body, count])
