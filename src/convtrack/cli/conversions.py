"""``convtrack conversions``: conversion counts and values under the plan's counting rules."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings

if TYPE_CHECKING:
    from convtrack.plan import CompiledPlan


def register(sub: Any) -> None:
    from convtrack.reports.conversions import BY

    conv = sub.add_parser(
        "conversions", help="conversion counts and values by day, category or name"
    )
    settings_args(conv)
    conv.add_argument("--by", choices=BY, default="name", help="group rows (default: name)")
    conv.add_argument("--from", dest="start", metavar="DATE", help="first UTC day (2024-05-01)")
    conv.add_argument("--to", dest="end", metavar="DATE", help="UTC day after the last one")
    conv.add_argument("--plan", help="tracking plan file (default: the plan setting)")
    conv.add_argument("--format", choices=["table", "csv", "json"], default="table")
    conv.set_defaults(func=conversions)


def _plan(path: str) -> CompiledPlan | None:
    """The compiled plan, or ``None`` after saying why it cannot be used."""
    from convtrack.plan import PlanError, load_configured_plan

    try:
        return load_configured_plan(path)
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"error: cannot read the tracking plan {path}: {reason}", file=sys.stderr)
    except PlanError as err:
        print(f"error: the tracking plan does not lint clean:\n{err}", file=sys.stderr)
    return None


def conversions(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session
    from convtrack.cli.output import render
    from convtrack.reports.conversions import conversions_report
    from convtrack.reports.conversions_query import load_candidates, parse_day
    from convtrack.reports.counting import Window
    from convtrack.store import QueryResult

    window = Window(parse_day(args.start, "--from"), parse_day(args.end, "--to"))
    if window.start and window.end and window.start >= window.end:
        print("error: --to must be after --from (--to is the first day left out)", file=sys.stderr)
        return 2
    plan = _plan(args.plan or settings.plan)
    if plan is None:
        return 2
    with session(settings) as ops:
        events = load_candidates(ops, plan, window)
    report = conversions_report(events, plan, args.by, window, settings.default_currency)
    print(render(QueryResult(report.columns, [tuple(r) for r in report.rows]), args.format))
    return 0
