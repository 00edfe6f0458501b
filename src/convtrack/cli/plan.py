"""``convtrack plan …``: work with the tracking plan file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from convtrack.cli import plan_reload, plan_tools
from convtrack.cli.args import settings_args
from convtrack.config import Settings

PLAN_FILE = "tracking-plan.yaml"


def register(sub: Any) -> None:
    plan = sub.add_parser("plan", help="work with the tracking plan").add_subparsers(
        dest="plan_command", metavar="ACTION", required=True
    )
    lint = plan.add_parser("lint", help="check a tracking plan file (exit 0 clean, 1 not)")
    settings_args(lint)
    lint.add_argument("file", nargs="?", default=PLAN_FILE, help=f"default: ./{PLAN_FILE}")
    lint.add_argument("--strict", action="store_true", help="fail on warnings too")
    lint.set_defaults(func=plan_lint)
    plan_tools.register(plan)
    plan_reload.register(plan)


def plan_lint(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.plan import lint

    try:
        problems = lint(args.file)
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    failing = [p for p in problems if args.strict or p.severity == "error"]
    if failing:
        print(f"{len(failing)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: ok", file=sys.stderr)
    return 0
