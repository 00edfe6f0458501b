# ruff: noqa: S608  (SQL text is fixed here; every value is a parameter)
"""Click links and SKAdNetwork postbacks in PostgreSQL (migration 0014_links_skan)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from convtrack.store.links_model import (
    LINK_COLUMNS,
    SKAN_COLUMNS,
    Link,
    SkanPostback,
    summary_sql,
)

_INSERT_LINK = f"INSERT INTO links ({', '.join(LINK_COLUMNS)}) VALUES ({', '.join(['%s'] * 7)})"
_SELECT_LINKS = f"SELECT {', '.join(LINK_COLUMNS)} FROM links"
_INSERT_SKAN = (
    f"INSERT INTO skan_postbacks ({', '.join(SKAN_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(SKAN_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING 1"
)


def insert_link(con: psycopg.Connection[Any], link: Link) -> None:
    con.execute(_INSERT_LINK, link.row())


def get_link(cur: psycopg.Cursor[Any], link_id: str) -> Link | None:
    row = cur.execute(f"{_SELECT_LINKS} WHERE link_id = %s", [link_id]).fetchone()
    return Link(*row) if row else None


def list_links(cur: psycopg.Cursor[Any]) -> list[Link]:
    return [Link(*r) for r in cur.execute(f"{_SELECT_LINKS} ORDER BY created_at").fetchall()]


def insert_skan(con: psycopg.Connection[Any], postback: SkanPostback) -> bool:
    return bool(con.execute(_INSERT_SKAN, postback.row()).fetchall())


def skan_summary(
    cur: psycopg.Cursor[Any], start: datetime | None, end: datetime | None
) -> list[tuple[Any, ...]]:
    return cur.execute(summary_sql("%s::timestamptz"), [start, end]).fetchall()
