"""``scan``: how PostgresStore.query reads user SQL before PostgreSQL sees it (no server)."""

from __future__ import annotations

import pytest

from convtrack.store.postgres.sql import scan


@pytest.mark.parametrize(
    ("sql", "converted"),
    [
        ("SELECT ? + ?", "SELECT %s + %s"),
        ("SELECT 7 % 4", "SELECT 7 %% 4"),
        ("SELECT '?', '%' , ?", "SELECT '?', '%%' , %s"),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
        ("SELECT E'\\'?', ?", "SELECT E'\\'?', %s"),
        ('SELECT "a?b" FROM t WHERE x = ?', 'SELECT "a?b" FROM t WHERE x = %s'),
        ("SELECT $$?$$, $q$ ? $q$, ?", "SELECT $$?$$, $q$ ? $q$, %s"),
        ("SELECT 1 -- ?\n, ?", "SELECT 1 -- ?\n, %s"),
        ("SELECT /* ? */ ?", "SELECT /* ? */ %s"),
    ],
)
def test_parameters_outside_literals_and_comments(sql: str, converted: str) -> None:
    assert scan(sql).sql == converted


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("SELECT 1", 1),
        ("SELECT 1;", 1),
        ("  SELECT 1 ; ; ", 1),
        ("SELECT ';'", 1),
        ("SELECT 1 -- ; DELETE", 1),
        ("SELECT 1; SELECT 2", 2),
        ("SELECT 1; DELETE FROM events", 2),
        ("SELECT $x$;$x$; SELECT 2", 2),
    ],
)
def test_statements_are_counted(sql: str, statements: int) -> None:
    assert scan(sql).statements == statements


@pytest.mark.parametrize(
    ("sql", "read_only"),
    [
        ("SELECT 1", True),
        ("  -- a comment\n  select 1", True),
        ("(SELECT 1)", True),
        ("WITH s AS (SELECT 1) SELECT * FROM s", True),
        ("EXPLAIN SELECT 1", True),
        ("EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1", True),
        ("EXPLAIN ANALYZE VERBOSE WITH s AS (SELECT 1) SELECT 1", True),
        ("EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", False),
        ("EXPLAIN ANALYZE DELETE FROM events", False),
        ("COPY events TO '/tmp/x'", False),
        ("DELETE FROM events", False),
        ("SELECT 1; SELECT 2", False),
    ],
)
def test_read_only_verbs(sql: str, read_only: bool) -> None:
    assert scan(sql).read_only is read_only
