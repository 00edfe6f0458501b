"""``convtrack attribute``: credit conversions to channels, campaigns or ads under one or more
models, with spend, CPA and ROAS, and path analytics (see docs/attribution.md)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any, TextIO

from convtrack.cli.args import settings_args
from convtrack.config import Settings

METRICS = ("conversions", "revenue", "cpa", "roas")


def register(sub: Any) -> None:
    from convtrack.attribution.dialect import GRAINS
    from convtrack.attribution.touchpoints import LEVELS

    cmd = sub.add_parser(
        "attribute",
        help="attribute conversions to channels/campaigns with one or more models",
        description="Credit each conversion to the touchpoints inside its windows. "
        "Models: see --list-models; options as NAME:option=value,... "
        "(e.g. time_decay:half_life_days=3, markov:order=2).",
    )
    settings_args(cmd)
    cmd.add_argument(
        "--model", action="append", metavar="NAME[:OPT=V,...]",
        help="a model (repeatable; default last_non_direct)",
    )  # fmt: skip
    cmd.add_argument("--compare", action="store_true", help="every model side by side")
    cmd.add_argument("--by", choices=LEVELS, default="channel", help="level (default channel)")
    cmd.add_argument("--from", dest="start", metavar="DATE", help="first UTC day of conversions")
    cmd.add_argument("--to", dest="end", metavar="DATE", help="UTC day after the last one")
    cmd.add_argument("--grain", choices=GRAINS, help="one row per day, week or month")
    cmd.add_argument("--currency", help="report currency (default: the plan's, else USD)")
    cmd.add_argument(
        "--metric", choices=METRICS, default="conversions",
        help="the number --compare shows per model (default conversions)",
    )  # fmt: skip
    cmd.add_argument("--paths", action="store_true", help="also show path analytics")
    cmd.add_argument(
        "--save", action="store_true",
        help="write the conversion_credits table for these models and dates instead",
    )  # fmt: skip
    cmd.add_argument("--list-models", action="store_true", help="list models and exit")
    cmd.add_argument("--plan", help="tracking plan file (default: the plan setting)")
    cmd.add_argument("--format", choices=["table", "csv", "json"], default="table")
    cmd.add_argument(
        "--engine", choices=["store", "spark"], default="store",
        help="where journeys are computed: the store (default) or Spark over --input",
    )  # fmt: skip
    cmd.add_argument("--input", metavar="DIR", help="the Parquet lake of `convtrack export`")
    cmd.add_argument(
        "--master", default="local[*]", help="Spark master URL (default local[*], or spark://…)"
    )
    cmd.set_defaults(func=attribute)


class Steps:
    """Progress on stderr, one line redrawn in place, only on a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.on = self.stream.isatty()
        self.started = time.monotonic()

    def __call__(self, name: str) -> None:
        if self.on:
            elapsed = time.monotonic() - self.started
            self.stream.write(f"\r\x1b[Kattribute: {name}… ({elapsed:.1f} s)")
            self.stream.flush()

    def done(self) -> None:
        if self.on:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _query(args: argparse.Namespace) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {"by": [args.by]}
    if args.model:
        query["model"] = list(args.model)
    if args.compare:
        query["compare"] = ["true"]
    for name, value in (("from", args.start), ("to", args.end), ("grain", args.grain),
                        ("currency", args.currency)):  # fmt: skip
        if value:
            query[name] = [value]
    return query


def attribute(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session

    if args.list_models:
        return _list_models()
    if args.plan:
        settings = dataclasses.replace(settings, plan=args.plan)
    steps = Steps()
    query = _query(args)
    if args.engine == "spark":
        report = _on_spark(args, settings, query, steps)
        print(render_report(report, args.format, args.metric, args.paths))
        for note in report.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
        return 0
    try:
        with session(settings, write=args.save) as ops:
            if args.save:
                saved = ops.save_credits(query, steps)
            else:
                report = ops.attribution(query, steps)
    finally:
        steps.done()
    if args.save:
        models = ", ".join(saved["models"])
        print(f"conversion_credits: {saved['rows']:,} rows written for {models}")
        return 0
    print(render_report(report, args.format, args.metric, args.paths))
    for note in report.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    return 0


def _on_spark(
    args: argparse.Namespace, settings: Settings, query: dict[str, list[str]], steps: Steps
) -> dict[str, Any]:
    from pathlib import Path

    from convtrack.attribution.spark.run import spark_report
    from convtrack.cli.ops import configured_plan
    from convtrack.errors import ConvtrackError

    if not args.input:
        raise ConvtrackError("missing_input", "--engine spark needs --input DIR (a lake)")
    if args.save:
        raise ConvtrackError("unsupported", "--save writes the store: not with --engine spark")
    plan = configured_plan(settings.plan)
    try:
        return spark_report(
            Path(args.input), args.master, plan, query, settings.default_currency, steps
        )
    finally:
        steps.done()


def _list_models() -> int:
    from convtrack.attribution.model import registered

    for name, entry in registered().items():
        opts = ", ".join(f"{k}={v}" for k, v in entry.options.items())
        print(f"{name:<16} {entry.description}" + (f" (options: {opts})" if opts else ""))
    return 0


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}"


def render_report(report: dict[str, Any], fmt: str, metric: str, paths: bool) -> str:
    from convtrack.cli.output import render
    from convtrack.store import QueryResult

    if fmt == "json":
        return json.dumps(report, default=str)
    rows = report["rows"]
    level = report["level"]
    grain = report["grain"]
    models = [m["model"] for m in report["models"]]
    if fmt == "csv":
        cols = ["model", level, "bucket", "conversions", "revenue", "currency", "spend",
                "cpa", "roas"]  # fmt: skip
        out = [(r["model"], r["label"], r["bucket"], r["conversions"], r["revenue"],
                report["currency"], r["spend"], r["cpa"], r["roas"]) for r in rows]  # fmt: skip
        return render(QueryResult(cols, out), "csv")
    text = (
        _compare(rows, level, grain, models, metric)
        if len(models) > 1
        else _single(rows, level, grain, report["currency"])
    )
    if paths:
        text += "\n\n" + _paths(report["paths"])
    return text


def _single(rows: list[dict[str, Any]], level: str, grain: str | None, currency: str) -> str:
    from convtrack.cli.output import table

    cols = ([grain] if grain else []) + [level, "conversions", f"revenue ({currency})",
                                         "spend", "cpa", "roas"]  # fmt: skip
    body = []
    for r in sorted(rows, key=lambda r: (r["bucket"] or "", -(r["conversions"] or 0), r["label"])):
        other = ", ".join(f"{_num(v)} {c}" for c, v in r["revenue_other"].items())
        revenue = _num(r["revenue"]) + (f" (+ {other})" if other else "")
        body.append(([r["bucket"]] if grain else []) + [
            r["label"], _num(r["conversions"]), revenue, _num(r["spend"]), _num(r["cpa"]),
            _num(r["roas"]),
        ])  # fmt: skip
    return table(cols, body)


def _compare(
    rows: list[dict[str, Any]], level: str, grain: str | None, models: list[str], metric: str
) -> str:
    from convtrack.cli.output import table

    grid: dict[tuple[str | None, str], dict[str, Any]] = {}
    for r in rows:
        grid.setdefault((r["bucket"], r["label"]), {})[r["model"]] = r[metric]
    cols = ([grain] if grain else []) + [level] + models
    body = []
    first = models[0]
    for (bucket, label), vals in sorted(
        grid.items(), key=lambda kv: (kv[0][0] or "", -(kv[1].get(first) or 0), kv[0][1])
    ):
        body.append(([bucket] if grain else []) + [label] + [_num(vals.get(m)) for m in models])
    return f"{metric} by model\n" + table(cols, body)


def _paths(paths: dict[str, Any]) -> str:
    from convtrack.cli.output import table

    top = table(
        ["path", "conversions", "share"],
        [
            [" > ".join(p["path"]), p["conversions"], f"{100 * p['share']:.1f}%"]
            for p in paths["top"]
        ],
        max_width=120,
    )
    length = table(
        ["touches", "conversions"], [[x["touches"], x["conversions"]] for x in paths["length"]]
    )
    days = table(["days to convert", "conversions"],
                 [[x["days"], x["conversions"]] for x in paths["days_to_convert"]])  # fmt: skip
    return f"top converting paths\n{top}\n\npath length\n{length}\n\ntime to convert\n{days}"
