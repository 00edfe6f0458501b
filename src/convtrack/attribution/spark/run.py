"""``convtrack attribute --engine spark``: the attribution report over a Parquet lake."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from convtrack.attribution.engine import Step
from convtrack.attribution.service import params_from, run_report
from convtrack.attribution.spark.source import SparkSource, session
from convtrack.plan import CompiledPlan


def spark_report(
    root: Path,
    master: str,
    plan: CompiledPlan,
    query: Mapping[str, Sequence[str]],
    default_currency: str,
    step: Step | None = None,
) -> dict[str, Any]:
    """The same report as ``run_report`` on a store, computed by Spark at ``master``."""
    say = step or (lambda _: None)
    params = params_from(query)
    say(f"starting Spark ({master})")
    spark = session(master)
    try:
        source = SparkSource(spark, root)
        return run_report(source, plan, params, default_currency, step).as_json()
    finally:
        spark.stop()
