"""``convtrack export --format parquet --out DIR``: the store as a Parquet lake for Spark
(events partitioned by UTC day, incremental; see docs/attribution.md, "On Spark")."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from convtrack.cli.args import settings_args
from convtrack.config import Settings


def register(sub: Any) -> None:
    cmd = sub.add_parser(
        "export",
        help="export events (by UTC day), identity and spend as Parquet",
        description="Write DIR/events/date=YYYY-MM-DD/*.parquet, DIR/identity_people, "
        "DIR/spend and DIR/manifest.json. A re-run writes only the days that changed. "
        "Reads a DuckDB store file read-only, or through the `convtrack serve` that holds it "
        "(the server then writes DIR), or a PostgreSQL store.",
    )
    settings_args(cmd)
    cmd.add_argument("--format", choices=["parquet"], default="parquet", help="only parquet")
    cmd.add_argument("--out", required=True, metavar="DIR", help="the lake's folder")
    cmd.add_argument("--from", dest="start", metavar="DATE", help="first UTC day of events")
    cmd.add_argument("--to", dest="end", metavar="DATE", help="UTC day after the last one")
    cmd.set_defaults(func=export)


class Progress:
    """``export: day 3/40 (2024-05-03)`` redrawn in place on stderr, only on a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.on = self.stream.isatty()
        self.started = time.monotonic()

    def __call__(self, done: int, total: int, day: str) -> None:
        if not self.on:
            return
        elapsed = time.monotonic() - self.started
        line = f"export: day {done + 1}/{total} ({day}, {elapsed:.1f} s)" if day else ""
        self.stream.write(f"\r\x1b[K{line}")
        self.stream.flush()


def export(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import server_ops
    from convtrack.export.stores import engine_of, export_url
    from convtrack.reports.conversions_query import parse_day

    start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
    out = Path(args.out).resolve()
    server = server_ops(settings) if engine_of(settings.store_url) == "duckdb" else None
    if server is not None:  # it holds the DuckDB file: it exports from its reader connection
        print("export: through the running `convtrack serve` (it writes DIR)", file=sys.stderr)
        progress = Progress()
        try:  # the server streams its progress: the same line as a direct export
            result = server.export_parquet(str(out), args.start, args.end, progress)
        except BaseException as exc:
            progress(0, 0, "")  # clear the line for the message
            if isinstance(exc, KeyboardInterrupt):
                print("export: stopped here; the server finishes the export", file=sys.stderr)
            raise
        finally:
            server.close()
    else:
        result = export_url(settings.store_url, out, start, end, Progress()).as_json()
    tables = ", ".join(f"{name} {rows:,} rows" for name, rows in result["tables"].items())
    print(
        f"events: {len(result['written'])} day(s) written ({result['rows']:,} rows), "
        f"{result['skipped']} unchanged; {tables}"
    )
    return 0
