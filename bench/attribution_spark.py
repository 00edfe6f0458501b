"""Attribution on Apache Spark (over the Parquet export) vs on the DuckDB store, same data.

Builds a DuckDB store with ``bench/attribution_report.py``'s generator (``--touchpoints``
landing page views, ``--conversions`` purchases, ``--people`` people over 120 days), exports
it with ``convtrack export``'s code, then times, in the same run:

- **duckdb**: ``run_report`` with every model (``--compare``) on the store;
- **spark**: the same report through ``SparkSource`` over the lake (``--master``, default
  ``local[*]``), with the Spark session's start-up timed apart.

Checks both give the same conversions and credits (1e-6 relative), prints the figures and
one JSON line. The issue's size is 10 M touchpoints (``--touchpoints 1e7 --conversions 1e6
--people 2e6``); the default is small enough to finish in a few minutes on one machine.

    python bench/attribution_spark.py [--touchpoints 2e5] [--conversions 2e4] [--people 4e4]
        [--master local[*]] [--dir DIR]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, environment  # noqa: E402
from attribution_report import build  # noqa: E402
from convtrack.attribution.service import Params, run_report  # noqa: E402
from convtrack.attribution.spark.source import SparkSource, session  # noqa: E402
from convtrack.export.stores import export_url  # noqa: E402
from convtrack.plan import load_configured_plan  # noqa: E402
from convtrack.store import open_store  # noqa: E402


def credits(report: Any) -> dict[tuple[str, str], float]:
    return {(r["model"], r["label"]): float(r["conversions"] or 0) for r in report.rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--touchpoints", type=float, default=2e5)
    ap.add_argument("--conversions", type=float, default=2e4)
    ap.add_argument("--people", type=float, default=4e4)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--dir", help="keep the store and lake here (default: a temporary one)")
    args = ap.parse_args()
    n_t, n_c, n_p = int(args.touchpoints), int(args.conversions), int(args.people)
    plan = load_configured_plan("")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dir or tmp)
        path = root / "bench.duckdb"
        print(f"building {n_t:,} touchpoints and {n_c:,} conversions for {n_p:,} people…")
        build(path, n_t, n_c, n_p)
        started = time.perf_counter()
        exported = export_url(f"duckdb://{path}", root / "lake")  # the file, read-only
        export_s = time.perf_counter() - started
        print(f"export to Parquet:            {export_s:7.2f} s  ({len(exported.written)} days)")

        with open_store(f"duckdb://{path}", read_only=True) as store:
            started = time.perf_counter()
            duck = run_report(store, plan, Params(compare=True), "USD")
            duck_s = time.perf_counter() - started
        print(f"DuckDB report, all models:    {duck_s:7.2f} s")

        started = time.perf_counter()
        spark = session(args.master)
        start_s = time.perf_counter() - started
        try:
            started = time.perf_counter()
            on_spark = run_report(
                SparkSource(spark, root / "lake"), plan, Params(compare=True), "USD"
            )
            spark_s = time.perf_counter() - started
            cores = int(spark.sparkContext.defaultParallelism)
        finally:
            spark.stop()
        print(f"Spark session start:          {start_s:7.2f} s  ({args.master}, {cores} cores)")
        print(f"Spark report, all models:     {spark_s:7.2f} s  ({spark_s / duck_s:.1f}× DuckDB)")
        a, b = credits(duck), credits(on_spark)
        same = a.keys() == b.keys() and all(
            math.isclose(a[k], b[k], rel_tol=1e-6, abs_tol=1e-9) for k in a
        )
        same = same and duck.totals["conversions"] == on_spark.totals["conversions"]
        print(f"same credits: {same} ({duck.totals['conversions']:,} conversions)")
    emit({
        "bench": "attribution_spark", "touchpoints": n_t, "conversions": n_c, "people": n_p,
        "master": args.master, "cores": cores, "export_s": round(export_s, 3),
        "duckdb_s": round(duck_s, 3), "spark_start_s": round(start_s, 3),
        "spark_s": round(spark_s, 3), "same": same, "environment": environment(),
    })  # fmt: skip
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
