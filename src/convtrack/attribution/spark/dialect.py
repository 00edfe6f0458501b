"""Spark SQL's spellings of the few things that differ between engines.

The session must use UTC (``spark.sql.session.timeZone``) and read ``"x"`` as an identifier
(``spark.sql.ansi.doubleQuotedIdentifiers``); ``SparkSource`` sets both. JSON properties
are read through Spark's VARIANT type (``try_parse_json``), which types values as Python's
``json.loads`` does, except integers beyond 38 digits (read as doubles here) and object
keys holding ``'`` or ``]`` (not addressable by a VARIANT path).
"""

from __future__ import annotations

from convtrack.attribution.dialect import URL_HOST_RX, Dialect, Grain


def _literal(text: str) -> str:
    """An SQL string literal (Spark reads backslash escapes inside literals)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _canonical_index(part: str) -> bool:
    return part.isascii() and part.isdigit() and str(int(part)) == part


class SparkDialect(Dialect):
    name = "spark"

    def timestamp_param(self) -> str:
        return "CAST(? AS TIMESTAMP)"

    def url_host(self, expr: str) -> str:
        return f"NULLIF(LOWER(regexp_extract({expr}, {_literal(URL_HOST_RX)}, 1)), '')"

    def epoch_seconds(self, expr: str) -> str:
        return f"(CAST(unix_micros({expr}) AS DOUBLE) / 1000000)"

    def from_epoch(self, expr: str) -> str:
        return f"timestamp_micros(CAST(ROUND({expr} * 1000000) AS BIGINT))"

    def utc_bucket(self, expr: str, grain: Grain) -> str:
        return f"CAST(date_trunc('{grain}', {expr}) AS DATE)"

    def ordered_concat(self, expr: str, order_by: str, sep: str = " > ") -> str:
        return f"listagg({expr}, '{sep}') WITHIN GROUP (ORDER BY {order_by})"

    # -- JSON through VARIANT ---------------------------------------------------------------

    def _variant(self, col: str, parts: tuple[str, ...]) -> str:
        """The VARIANT at ``parts`` (NULL when missing): a digit part indexes an array and
        keys an object, as a JSON pointer does."""
        expr = f"try_parse_json({col})"
        for part in parts:
            path = _literal("$['" + part + "']")
            key = f"variant_get({expr}, {path})"
            if _canonical_index(part):
                item = f"variant_get({expr}, '$[{part}]')"
                expr = (
                    f"CASE WHEN schema_of_variant({expr}) LIKE 'ARRAY%' THEN {item} ELSE {key} END"
                )
            else:
                expr = key
        return expr

    def json_type(self, col: str, parts: tuple[str, ...]) -> str:
        s = f"schema_of_variant({self._variant(col, parts)})"
        return (
            f"CASE WHEN {s} = 'STRING' THEN 'string' "
            f"WHEN {s} IN ('TINYINT', 'SMALLINT', 'INT', 'BIGINT') THEN 'integer' "
            f"WHEN {s} LIKE 'DECIMAL(%,0)' THEN 'integer' "
            f"WHEN {s} LIKE 'DECIMAL%' OR {s} IN ('DOUBLE', 'FLOAT') THEN 'real' "
            f"WHEN {s} = 'BOOLEAN' THEN 'boolean' WHEN {s} = 'VOID' THEN 'null' "
            f"WHEN {s} LIKE 'OBJECT%' THEN 'object' WHEN {s} LIKE 'ARRAY%' THEN 'array' END"
        )

    def json_text(self, col: str, parts: tuple[str, ...]) -> str:
        v = self._variant(col, parts)
        s = f"schema_of_variant({v})"
        return (
            f"CASE WHEN {s} LIKE 'OBJECT%' OR {s} LIKE 'ARRAY%' THEN to_json({v}) "
            f"ELSE variant_get({v}, '$', 'string') END"
        )

    def to_double(self, expr: str) -> str:
        return f"try_cast({expr} AS DOUBLE)"

    def float_text(self, expr: str) -> str:
        # Python's repr for the usual range ('5.0', '0.25'); Spark writes 1e16 as '1.0E16'.
        return f"CAST({expr} AS STRING)"

    def binary_text(self, expr: str) -> str:
        return expr  # Spark compares strings by UTF-8 bytes: code point order


SPARK = SparkDialect()
