"""User SQL for ``PostgresStore.query``: ``?`` parameters, one statement, read-only verbs.

``EventStore.query`` takes DuckDB-style ``?`` parameters on every engine; psycopg wants
``%s`` and a literal ``%`` doubled. ``scan`` rewrites the text outside string literals, quoted
identifiers, dollar quotes and comments, and splits it into statements so a second one is
refused before anything runs. (PostgreSQL's jsonb ``?`` operators read as parameters here:
use ``jsonb_exists`` instead.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What may start a statement ``query`` runs; the read-only transaction refuses the rest
# (EXPLAIN ANALYZE of a write, a data-modifying WITH, SELECT … INTO).
READ_VERBS = frozenset({"select", "with", "explain", "values", "table", "show"})
# EXPLAIN ANALYZE runs what it explains, and PostgreSQL lets it run CREATE TABLE AS even in a
# read-only transaction: only these may be explained.
_EXPLAINABLE = frozenset({"select", "with", "values", "table"})
_EXPLAIN_OPTIONS = frozenset({"analyze", "analyse", "verbose"})
# Every word a PostgreSQL statement can start with: anything else cannot parse.
COMMANDS = READ_VERBS | {
    "abort", "alter", "analyze", "analyse", "begin", "call", "checkpoint", "close", "cluster",
    "comment", "commit", "copy", "create", "deallocate", "declare", "delete", "discard", "do",
    "drop", "end", "execute", "fetch", "grant", "import", "insert", "listen", "load", "lock",
    "merge", "move", "notify", "prepare", "reassign", "refresh", "reindex", "release", "reset",
    "revoke", "rollback", "savepoint", "security", "set", "start", "truncate", "unlisten",
    "update", "vacuum",
}  # fmt: skip
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")
_WORD = re.compile(r"[A-Za-z_]+")
_IDENT = re.compile(r"[A-Za-z_0-9$]")


@dataclass(frozen=True)
class Scanned:
    sql: str  # psycopg's placeholders: %s for each ?, %% for each %
    statements: int  # non-empty statements in the text
    words: tuple[str, ...]  # the first statement's words outside parentheses, lower case

    @property
    def verb(self) -> str:
        """The first statement's first keyword ('' when none)."""
        return self.words[0] if self.words else ""

    @property
    def read_only(self) -> bool:
        """One statement whose verb reads (and, for EXPLAIN, whose explained verb reads)."""
        if self.statements != 1 or self.verb not in READ_VERBS:
            return False
        if self.verb != "explain":
            return True
        explained = next((w for w in self.words[1:] if w not in _EXPLAIN_OPTIONS), "")
        return explained in _EXPLAINABLE


def _skip_quoted(sql: str, i: int, quote: str, backslash: bool) -> int:
    """The index just after the literal or identifier that starts at ``sql[i]``."""
    i += 1
    while i < len(sql):
        c = sql[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if sql.startswith(quote, i + 1):  # '' or "" stands for one quote
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _skip(sql: str, i: int) -> int:
    """If a literal, quoted identifier, dollar quote or comment starts at ``i``: its end."""
    c = sql[i]
    if c == "'":
        escaped = i > 0 and sql[i - 1] in "eE" and not (i > 1 and sql[i - 2].isalnum())
        return _skip_quoted(sql, i, "'", escaped)
    if c == '"':
        return _skip_quoted(sql, i, '"', False)
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        return len(sql) if end < 0 else end + 2
    if c == "$" and (m := _DOLLAR.match(sql, i)) and not (i and sql[i - 1].isalnum()):
        end = sql.find(m[0], m.end())
        return len(sql) if end < 0 else end + len(m[0])
    return i


def scan(sql: str) -> Scanned:
    out: list[str] = []
    statements, pending = 0, False  # pending: the current statement has a token
    words: list[str] = []
    depth = 0
    i = 0
    while i < len(sql):
        c = sql[i]
        end = _skip(sql, i)
        if end != i:
            if not (sql.startswith("--", i) or sql.startswith("/*", i)):
                pending = True
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        if c == ";":
            statements += pending
            pending = False
        elif not c.isspace():
            depth += {"(": 1, ")": -1}.get(c, 0)
            word = _WORD.match(sql, i) if not (i and _IDENT.match(sql[i - 1])) else None
            if word and statements == 0 and (depth == 0 or not words) and len(words) < 8:
                words.append(word[0].lower())
            pending = pending or c != "("
        out.append({"?": "%s", "%": "%%"}.get(c, c))
        i += 1
    return Scanned("".join(out), statements + pending, tuple(words))
