"""PostgreSQL's spellings of the few engine-specific SQL pieces (see ``dialect.Dialect``).

Properties are ``jsonb`` there: a path is read with ``#>`` / ``#>>`` and an ``ARRAY[...]`` of
escaped literals. ``#>`` reads any part that ``strtol`` parses (`` 1``, ``+1``, ``-1`` from
the end) as an array index, where a JSON pointer reads only canonical digits: such a part
yields nothing under an array, as on DuckDB. jsonb keeps numbers as ``numeric``, so a real
written in exponent form without a point (``1e+16``) reads back as an integer.
"""

from __future__ import annotations

import re

from convtrack.attribution.dialect import URL_HOST_RX, Dialect, Grain

# A path part PostgreSQL's jsonb reads as an array index (strtol: spaces, sign, digits).
_PG_INDEX = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+")


def _canonical_index(part: str) -> bool:
    return part.isascii() and part.isdigit() and str(int(part)) == part


class PostgresDialect(Dialect):
    name = "postgresql"
    double = "DOUBLE PRECISION"

    def url_host(self, expr: str) -> str:
        return f"NULLIF(LOWER(substring({expr} from '{URL_HOST_RX}')), '')"

    def epoch_seconds(self, expr: str) -> str:
        return f"CAST(EXTRACT(EPOCH FROM {expr}) AS DOUBLE PRECISION)"

    def utc_bucket(self, expr: str, grain: Grain) -> str:
        return f"CAST(date_trunc('{grain}', {expr} AT TIME ZONE 'UTC') AS DATE)"

    # -- JSON properties ---------------------------------------------------------------

    def json_type(self, col: str, parts: tuple[str, ...]) -> str:
        kind = f"jsonb_typeof({col} #> {self._path(parts)})"
        text = f"({col} #>> {self._path(parts)})"
        return self._guard(
            col,
            parts,
            f"CASE WHEN {kind} = 'number' THEN CASE WHEN {text} ~ '^-?[0-9]+$' "
            f"THEN 'integer' ELSE 'real' END ELSE {kind} END",
        )

    def json_text(self, col: str, parts: tuple[str, ...]) -> str:
        return self._guard(col, parts, f"({col} #>> {self._path(parts)})")

    def float_text(self, expr: str) -> str:
        """PostgreSQL writes the shortest digits too, but '5' for 5.0 and exponents from
        1e15 (Python from 1e16): add the '.0' and spell out that one decade."""
        t = f"CAST({expr} AS TEXT)"
        mantissa = f"split_part({t}, 'e', 1)"
        digits = f"replace(replace({mantissa}, '-', ''), '.', '')"
        decade = (
            f"CASE WHEN {t} LIKE '-%' THEN '-' ELSE '' END || rpad(left({digits}, 16), 16, '0') "
            f"|| '.' || COALESCE(NULLIF(substr({digits}, 17), ''), '0')"
        )
        return (
            f"CASE WHEN {t} ~ '^-?[0-9]+$' THEN {t} || '.0' "
            f"WHEN {t} LIKE '%e+15' THEN {decade} ELSE {t} END"
        )

    def binary_text(self, expr: str) -> str:
        return f'({expr} COLLATE "C")'

    @staticmethod
    def _path(parts: tuple[str, ...]) -> str:
        return "ARRAY[" + ", ".join("'" + p.replace("'", "''") + "'" for p in parts) + "]"

    def _guard(self, col: str, parts: tuple[str, ...], expr: str) -> str:
        """``expr`` unless a part that is not a pointer index would index an array."""
        checks = [
            f"jsonb_typeof({col} #> {self._path(parts[:i])}) <> 'array'"
            for i, part in enumerate(parts)
            if i > 0 and _PG_INDEX.fullmatch(part) and not _canonical_index(part)
        ]
        # the top level is the properties object itself: a part there is always a key
        if not checks:
            return expr
        return f"CASE WHEN {' AND '.join(checks)} THEN {expr} END"


POSTGRES = PostgresDialect()
