"""A ``Source`` (``query(sql, params)``) backed by a Spark session over a Parquet lake.

``events``, ``identity_people`` and ``spend`` are temporary views of the lake's folders
(see ``convtrack.export.parquet``). Queries are the stores' portable SQL with ``?``
parameters (Spark's positional parameters); two spellings are translated outside string
literals: ``AS VARCHAR`` (Spark wants a length) and decimal literals such as ``1.0``, which
Spark reads as DECIMAL but DuckDB and PostgreSQL arithmetic treats as doubles here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convtrack.errors import ConvtrackError
from convtrack.export.parquet import MANIFEST
from convtrack.store import QueryResult

TABLES = ("events", "identity_people", "spend")
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_VARCHAR = re.compile(r"\bAS\s+VARCHAR\b", re.IGNORECASE)
_DECIMAL = re.compile(r"(?<![\w.])(\d+\.\d+)(?![\w.])")
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def spark_sql(sql: str) -> str:
    """The portable SQL in Spark's spelling (string literals untouched)."""
    out, at = [], 0
    for m in _LITERAL.finditer(sql):
        out.append(_translate(sql[at : m.start()]))
        out.append(m.group(0))
        at = m.end()
    out.append(_translate(sql[at:]))
    return "".join(out)


def _translate(code: str) -> str:
    return _DECIMAL.sub(r"\1D", _VARCHAR.sub("AS STRING", code))


def session(master: str = "local[*]", conf: dict[str, str] | None = None) -> Any:
    """A Spark session for attribution (``pyspark`` is the ``spark`` extra)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConvtrackError(
            "spark_missing", "pyspark is not installed: pip install 'convtrack[spark]'"
        ) from None
    builder = SparkSession.builder.master(master).appName("convtrack-attribute")
    local = {"spark.sql.shuffle.partitions": "8"} if master.startswith("local") else {}
    for key, value in {**SESSION_CONF, **local, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for key, value in SESSION_CONF.items():  # a reused session gets them too
        if not key.startswith("spark.ui"):
            spark.conf.set(key, value)
    return spark


class SparkSource:
    """The lake at ``root`` as views in ``spark``; ``query`` collects rows as tuples."""

    def __init__(self, spark: Any, root: Path) -> None:
        if not (root / MANIFEST).exists():
            raise ConvtrackError(
                "not_a_lake", f"{root} has no {MANIFEST}: write it with `convtrack export`"
            )
        self.spark = spark
        self.url = "spark://" + root.resolve().as_posix()  # its dialect: see dialect_of
        for table in TABLES:
            folder = root / table
            if not folder.is_dir():
                raise ConvtrackError("not_a_lake", f"{folder} is missing; export again")
            reader = spark.read.option("basePath", folder.as_posix())
            reader.parquet(folder.as_posix()).createOrReplaceTempView(table)

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        frame = self.spark.sql(spark_sql(sql), args=list(params) or None)
        rows = [tuple(row) for row in frame.collect()]
        return QueryResult(list(frame.columns), rows)
