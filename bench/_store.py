"""Time ``DuckDBStore.append`` without its Arrow build, through the real append code.

``prebuilt_arrow(tables)`` swaps the ``to_arrow`` that ``convtrack.store.duckdb_store`` calls
for one that hands out the prebuilt tables in order, so the timed work is exactly the store's
own transaction (BEGIN, the inserts and the stitching, COMMIT) and nothing else. It checks on
exit that every table was used: if the store stops calling ``to_arrow`` by that name, the bench
fails loudly instead of silently timing the build too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from convtrack.store import duckdb_store


@contextmanager
def prebuilt_arrow(tables: Sequence[pa.Table]) -> Iterator[None]:
    queue = list(reversed(tables))
    original = duckdb_store.to_arrow

    def handout(events: Sequence[Any]) -> pa.Table:
        table = queue.pop()
        if table.num_rows != len(events):
            raise RuntimeError("prebuilt Arrow table does not match the appended events")
        return table

    duckdb_store.to_arrow = handout  # type: ignore[assignment]
    try:
        yield
    finally:
        duckdb_store.to_arrow = original
    if queue:
        raise RuntimeError("DuckDBStore.append no longer calls duckdb_store.to_arrow; fix bench")
