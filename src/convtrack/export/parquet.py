"""``convtrack export --format parquet``: the store as a Parquet lake, incrementally.

Layout under ``DIR``::

    events/date=YYYY-MM-DD/part-0.parquet   one folder per UTC day of ``occurred_at``
    identity_people/part-0.parquet           anonymous id -> stitched person (rewritten)
    spend/part-0.parquet                     daily ad spend (rewritten)
    manifest.json                            what each day holds (rows, last received_at)

A day is written again only when its row count or its latest ``received_at`` changed since
the manifest was written: a re-run writes the new days, today's partial day and days that
late events (or an erasure) changed, and nothing else. Every folder is written to a
temporary name and renamed into place, so a reader never sees half a day.

This module is the engine-free part (manifest, folders); a ``Lake`` reads one engine:
``export.duckdb_lake`` (a DuckDB file, or the running server's reader connection) and
``export.postgres_lake`` (PostgreSQL, streamed through a server-side cursor). Both write the
same Parquet schema: DuckDB's. Raw PII (``pii_raw``) never leaves the store; JSON columns
become text.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from convtrack.errors import ConvtrackError

MANIFEST = "manifest.json"
LAYOUT_VERSION = 1
LEFT_OUT = frozenset({"pii_raw"})
SIDE_TABLES = ("identity_people", "spend")


def export_running() -> ConvtrackError:
    """409 ``export_running``: another export holds the lock (a new error each time: a raised
    exception keeps its traceback)."""
    return ConvtrackError("export_running", "An export is running; try again later.", 409)


PART = "part-0.parquet"

T = TypeVar("T")
Progress = Callable[[int, int, str], None]
DayStats = tuple[str, int, str]  # (YYYY-MM-DD, rows, last received_at as text)


class Lake(Protocol):
    """One engine's side of the export."""

    def day_stats(self, start: date | None, end: date | None) -> list[DayStats]:
        """Rows and latest ``received_at`` of each UTC day in ``[start, end)``, by day."""
        ...

    def write_day(self, day: str, path: Path) -> tuple[int, str]:
        """The day's events as the Parquet file ``path``; the rows and last ``received_at``
        of what was written (read in the same snapshot)."""
        ...

    def write_table(self, table: str, path: Path) -> int:
        """A side table as the Parquet file ``path``; its row count."""
        ...


@dataclass
class ExportResult:
    written: list[str] = field(default_factory=list)  # days written this run
    skipped: int = 0  # days unchanged since the last run
    rows: int = 0  # event rows written
    tables: dict[str, int] = field(default_factory=dict)  # side table -> rows

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def export_parquet(
    lake: Lake,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the lake under ``out`` (see the module doc); ``end`` is the first day left out."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out)
    days: dict[str, Any] = manifest["days"]
    result = ExportResult()
    todo: list[str] = []
    for day, rows, last in lake.day_stats(start, end):
        state: dict[str, Any] = {"rows": rows, "last_received_at": last}
        if days.get(day) == state and (out / "events" / f"date={day}").is_dir():
            result.skipped += 1
        else:
            todo.append(day)
    for i, day in enumerate(todo):
        if progress:
            progress(i, len(todo), day)
        rows, last = _swap_in(out / "events" / f"date={day}", partial(lake.write_day, day))
        days[day] = {"rows": rows, "last_received_at": last}
        result.written.append(day)
        result.rows += rows
        _write_manifest(out, manifest)  # after each day: an interrupted run loses nothing
    for table in SIDE_TABLES:
        result.tables[table] = _swap_in(out / table, partial(lake.write_table, table))
    manifest["tables"] = result.tables
    manifest["exported_at"] = datetime.now(UTC).isoformat()
    _write_manifest(out, manifest)
    if progress:
        progress(len(todo), len(todo), "")
    return result


def _swap_in(dest: Path, write: Callable[[Path], T]) -> T:
    """``write`` the folder's one file, then swap the folder in whole (temp folder + rename)."""
    tmp = dest.parent / f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        done = write(tmp / PART)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if dest.exists():
        old = dest.parent / f".old-{dest.name}-{uuid.uuid4().hex[:8]}"
        dest.rename(old)
    tmp.rename(dest)
    if old is not None:
        shutil.rmtree(old)
    return done


def _read_manifest(out: Path) -> dict[str, Any]:
    path = out / MANIFEST
    if not path.exists():
        return {"version": LAYOUT_VERSION, "days": {}, "tables": {}}
    manifest = json.loads(path.read_text())
    if manifest.get("version") != LAYOUT_VERSION:
        raise ConvtrackError(
            "export_layout", f"{path} was written by another export layout; use a new folder"
        )
    return dict(manifest)


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, out / MANIFEST)
