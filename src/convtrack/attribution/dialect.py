"""The few SQL spellings that differ between engines, behind one small object.

Everything else the attribution job writes is plain SQL that DuckDB, PostgreSQL and Spark
SQL all read the same way (CTEs, window functions, ``CASE``, ``COALESCE``). Parameters are
``?`` placeholders; a backend that wants ``%s`` translates them itself.
"""

from __future__ import annotations

from typing import Literal

Grain = Literal["day", "week", "month"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month")

# scheme://host[:port]/... → host (lower-cased by the caller's LOWER()).
URL_HOST_RX = r"^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#@]+)"


class Dialect:
    """DuckDB's spellings (the embedded default); other engines subclass this."""

    name = "duckdb"
    double = "DOUBLE"  # the 64-bit float type's name in casts

    def timestamp_param(self) -> str:
        """A ``?`` parameter given as ISO-8601 text, read as an instant."""
        return "CAST(? AS TIMESTAMP WITH TIME ZONE)"

    def url_host(self, expr: str) -> str:
        """The lower-cased host of a URL column, NULL when it has none."""
        return f"NULLIF(LOWER(regexp_extract({expr}, '{URL_HOST_RX}', 1)), '')"

    def epoch_seconds(self, expr: str) -> str:
        """An instant as seconds since 1970 (double)."""
        return f"epoch({expr})"

    def from_epoch(self, expr: str) -> str:
        """Seconds since 1970 back to an instant."""
        return f"to_timestamp({expr})"

    def utc_bucket(self, expr: str, grain: Grain) -> str:
        """The UTC day, ISO week (Monday) or month an instant falls in, as a DATE."""
        return f"CAST(date_trunc('{grain}', timezone('UTC', {expr})) AS DATE)"

    def ordered_concat(self, expr: str, order_by: str, sep: str = " > ") -> str:
        """Concatenate a group's text values in order (an aggregate)."""
        return f"string_agg({expr}, '{sep}' ORDER BY {order_by})"

    # -- JSON properties (used by the conversions query; see conversions_sql.py) --------

    # Values at a property path, for the conversions query. ``parts`` is a path split on
    # "." (``("items", "0", "price")``). A part of ASCII digits without a leading zero is an
    # array index on an array and a key on an object; every other part is a key only
    # (RFC 6901 semantics; conversions_sql resolves Python's other digit forms itself).
    # Parts go into the SQL text as an escaped literal (the caller rejects NUL characters);
    # a key may hold "?", so a backend that rewrites placeholders must skip string literals.

    def json_type(self, col: str, parts: tuple[str, ...]) -> str:
        """The type of the JSON value at ``parts`` of ``col``, as Python's ``json.loads``
        would give it: 'object', 'array', 'string', 'integer' (no '.', 'e' in the number;
        any size), 'real', 'boolean' or 'null'; SQL NULL when the path is missing."""
        path = self._json_pointer(parts)
        text = f"json_extract_string({col}, {path})"
        return (
            f"CASE json_type({col}, {path}) WHEN 'VARCHAR' THEN 'string' "
            "WHEN 'BIGINT' THEN 'integer' WHEN 'UBIGINT' THEN 'integer' "
            # numbers beyond 64 bits are 'DOUBLE' here, but keep their integer text
            f"WHEN 'DOUBLE' THEN CASE WHEN regexp_full_match({text}, '-{{0,1}}[0-9]+') "
            "THEN 'integer' ELSE 'real' END "
            "WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' "
            "WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' END"
        )

    def json_text(self, col: str, parts: tuple[str, ...]) -> str:
        """The value at ``parts`` as text: a string unescaped, an integer in canonical
        decimal (``-0`` is ``0``), a real in any text that casts back to the same double,
        'true'/'false', an object or array as compact JSON; NULL for null or missing."""
        return f"json_extract_string({col}, {self._json_pointer(parts)})"

    def to_double(self, expr: str) -> str:
        """A number, or number text, as a double (correctly rounded, like ``float()``)."""
        return f"CAST({expr} AS {self.double})"

    def float_text(self, expr: str) -> str:
        """A double as Python's ``repr(float)`` writes it ('5.0', '1e+16', '-0.0')."""
        return f"CAST({expr} AS VARCHAR)"

    def binary_text(self, expr: str) -> str:
        """Text that compares and sorts by code point, as Python's ``str`` does."""
        return expr

    @staticmethod
    def _json_pointer(parts: tuple[str, ...]) -> str:
        """``parts`` as a JSON pointer (RFC 6901) in an SQL string literal."""
        pointer = "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)
        return "'" + pointer.replace("'", "''") + "'"


DUCKDB = Dialect()


def dialect_for(engine: str) -> Dialect:
    """The dialect of an engine, by the scheme of its store URL (``postgres`` too)."""
    if engine == "duckdb":
        return DUCKDB
    if engine in ("postgresql", "postgres"):
        from convtrack.attribution.dialect_pg import POSTGRES

        return POSTGRES
    if engine == "spark":  # a Parquet lake read by Spark (attribution/spark/source.py)
        from convtrack.attribution.spark.dialect import SPARK

        return SPARK
    raise ValueError(f"no SQL dialect for engine {engine!r}")


def dialect_of(source: object) -> Dialect:
    """The dialect of a store, from its URL's scheme; DuckDB for a source without a URL
    (the embedded default, and what tests hand in)."""
    url = getattr(source, "url", None)
    if not isinstance(url, str) or "://" not in url:
        return DUCKDB
    return dialect_for(url.split("://", 1)[0].lower())
