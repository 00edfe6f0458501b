"""``convtrack qa modeled|anomalies``: modeled conversions and volume anomalies (docs/qa.md).

Both read the store through ``session`` (the running server's admin SQL API when it holds
the store), so they work with ``convtrack serve`` up or down.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings


def register(sub: Any) -> None:
    group = sub.add_parser("qa", help="tracking QA: modeled conversions, volume anomalies")
    actions = group.add_subparsers(dest="qa_command", metavar="ACTION", required=True)

    mod = actions.add_parser("modeled", help="conversions hidden by consent denial, estimated")
    settings_args(mod)
    mod.add_argument(
        "--from", dest="start", metavar="WHEN", help="ISO instant (default: 7 days ago)"
    )
    mod.add_argument("--to", dest="end", metavar="WHEN", help="ISO instant (default: now)")
    mod.add_argument("--format", choices=["table", "json"], default="table")
    mod.set_defaults(func=modeled_command)

    ano = actions.add_parser("anomalies", help="hourly volume outside the weekly forecast band")
    settings_args(ano)
    ano.add_argument("--to", dest="end", metavar="WHEN", help="ISO instant (default: now)")
    ano.add_argument("--hours", type=int, default=24, help="complete hours to check (default 24)")
    ano.add_argument("--weeks", type=int, default=4, help="weeks of history (default 4)")
    ano.add_argument("--format", choices=["table", "json"], default="table")
    ano.set_defaults(func=anomalies_command)


def _window(args: argparse.Namespace, default: timedelta) -> Any:
    from convtrack.qa.sql import window_from

    query = {k: v for k, v in (("from", getattr(args, "start", None)), ("to", args.end)) if v}
    return window_from(query, default)


def modeled_command(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import configured_plan, session
    from convtrack.qa.modeled import modeled
    from convtrack.qa.sql import Conversions

    window = _window(args, timedelta(days=7))
    conv = Conversions.of_plan(configured_plan(settings.plan))
    with session(settings) as ops:
        result = modeled(ops, window, conv)
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return 0
    ci, obs = result["interval95"], result["observed"]
    print(f"window      {result['window']['from']} .. {result['window']['to']}")
    print(f"observed    {obs['consented']} consented conversions "
          f"({obs['pseudonymous']} more stored pseudonymously, unattributable)")  # fmt: skip
    print(f"modeled     {result['modeled']:.1f} hidden by consent denial "
          f"(95 % {ci['lower']:.1f} .. {ci['upper']:.1f})")  # fmt: skip
    print(f"{'channel':<32} {'visits':>8} {'conv':>6} {'out':>8} {'modeled':>9}")
    for c in result["channels"]:
        print(f"{c['channel'][:32]:<32} {c['consented_visits']:>8} "
              f"{c['consented_conversions']:>6} {c['consented_out_visits']:>8} "
              f"{c['modeled']:>9.1f}")  # fmt: skip
    return 0


def anomalies_command(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session
    from convtrack.qa import anomaly
    from convtrack.qa.sql import parse_instant, utcnow

    end = parse_instant("--to", args.end) if args.end else utcnow()
    band = anomaly.Band(weeks=max(1, args.weeks))
    with session(settings) as ops:
        result = anomaly.report(ops, end, max(1, args.hours), band)
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return 0
    found = result["anomalies"]
    print(
        f"checked {result['checked']['from']} .. {result['checked']['to']}: {len(found)} anomalies"
    )
    for a in found:
        print(f"{a['hour']}  {a['kind']:<5}  {a['source']}/{a['event_name']}  {a['count']} "
              f"(expected {a['expected']:g}, band {a['lower']:g}..{a['upper']:g})")  # fmt: skip
    return 0
