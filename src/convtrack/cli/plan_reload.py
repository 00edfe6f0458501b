"""``convtrack plan reload``: make the running server load its plan file again."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings
from convtrack.errors import ConvtrackError


def register(plan: Any) -> None:
    reload = plan.add_parser(
        "reload", help="reload the running server's tracking plan (a bad plan is refused)"
    )
    settings_args(reload)
    reload.set_defaults(func=plan_reload)


def plan_reload(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import server_ops

    ops = server_ops(settings)
    if ops is None:
        print(
            f"no convtrack server is running for {settings.data_dir}; "
            "`convtrack serve` reads the plan when it starts",
            file=sys.stderr,
        )
        return 1
    try:
        result = ops.reload_plan()
    except ConvtrackError as err:
        if err.code != "invalid_plan":
            raise
        for problem in err.details:
            print(f"{problem['path']}: {problem['reason']}")
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    finally:
        ops.close()
    where = result["file"] or "the default plan"
    print(f"plan {result['version']} in force ({where}); was {result['previous_version']}")
    return 0
