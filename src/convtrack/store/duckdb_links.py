# ruff: noqa: S608  (SQL text is fixed here; every value is a parameter)
"""Click links and SKAdNetwork postbacks in DuckDB (migration 0014_links_skan).

The caller (``DuckDBStore``) holds the writer's lock and transaction for writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from convtrack.store.links_model import (
    LINK_COLUMNS,
    SKAN_COLUMNS,
    Link,
    SkanPostback,
    summary_sql,
)

_INSERT_LINK = f"INSERT INTO links ({', '.join(LINK_COLUMNS)}) VALUES ({', '.join('?' * 7)})"
_SELECT_LINKS = f"SELECT {', '.join(LINK_COLUMNS)} FROM links"
_INSERT_SKAN = (
    f"INSERT INTO skan_postbacks ({', '.join(SKAN_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(SKAN_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING 1"
)


def insert_link(con: duckdb.DuckDBPyConnection, link: Link) -> None:
    con.execute(_INSERT_LINK, link.row())


def get_link(con: duckdb.DuckDBPyConnection, link_id: str) -> Link | None:
    row = con.execute(f"{_SELECT_LINKS} WHERE link_id = ?", [link_id]).fetchone()
    return Link(*row) if row else None


def list_links(con: duckdb.DuckDBPyConnection) -> list[Link]:
    return [Link(*r) for r in con.execute(f"{_SELECT_LINKS} ORDER BY created_at").fetchall()]


def insert_skan(con: duckdb.DuckDBPyConnection, postback: SkanPostback) -> bool:
    return bool(con.execute(_INSERT_SKAN, postback.row()).fetchall())


def skan_summary(
    con: duckdb.DuckDBPyConnection, start: datetime | None, end: datetime | None
) -> list[tuple[Any, ...]]:
    return con.execute(summary_sql("?::TIMESTAMPTZ"), [start, end]).fetchall()
