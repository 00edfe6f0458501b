"""The CLI commands. Each takes the parsed arguments and the settings, returns an exit code."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from convtrack.cli.ops import session
from convtrack.cli.output import render, table
from convtrack.config import Settings


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.serve import run

    return run(settings)


def keys_create(args: argparse.Namespace, settings: Settings) -> int:
    with session(settings, write=True) as ops:
        created = ops.create_key(args.name, "secret" if args.secret else "public")
    print(created["key"])
    print(
        f"# {created['kind']} key {created['key_id']} ({created['name']}): store it now, "
        "it is not shown again.",
        file=sys.stderr,
    )
    return 0


def keys_list(args: argparse.Namespace, settings: Settings) -> int:
    with session(settings) as ops:
        keys = ops.list_keys()
    cols = ["key_id", "name", "kind", "prefix", "created_at", "revoked_at"]
    print(table(cols, [[k[c] for c in cols] for k in keys]))
    return 0


def keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with session(settings, write=True) as ops:
        revoked = ops.revoke_key(args.key)
    print(f"revoked {revoked['key_id']} ({revoked['name']})")
    return 0


def sql(args: argparse.Namespace, settings: Settings) -> int:
    with session(settings) as ops:
        result = ops.query(args.query)
    print(render(result, args.format))
    return 0


TAIL_PAGE = 500


def _cursor(event: dict[str, Any]) -> tuple[str, str]:
    return str(event["received_at"]), str(event["event_id"])


def _tail_line(e: dict[str, Any]) -> str:
    value = f" {e['value']} {e['currency']}" if e.get("value") is not None else ""
    who = e.get("user_id") or e.get("anonymous_id") or "-"
    return (
        f"{e['received_at']}  {e['source']:<6} {e['type']:<10} {e['event_name']}{value}"
        f"  id={e['event_id']} who={who}"
    )


def events_tail(args: argparse.Namespace, settings: Settings) -> int:
    with session(settings) as ops:
        # Start at the end: the last N events, or (N = 0) only the position of the newest.
        batch = ops.last_events(max(args.lines, 1))
        cursor: tuple[str, str] | None = None
        if args.lines <= 0:
            batch, cursor = [], (_cursor(batch[-1]) if batch else None)
        while True:
            for event in batch:
                line = json.dumps(event, default=str) if args.json else _tail_line(event)
                print(line, flush=True)
            if batch:
                cursor = _cursor(batch[-1])
            if len(batch) < TAIL_PAGE:
                if args.once:
                    return 0
                time.sleep(args.interval)
            batch = ops.events_after(cursor, TAIL_PAGE)


def simulate_args(parser: argparse.ArgumentParser) -> None:
    from convtrack.simulate.cli import add_arguments

    add_arguments(parser)


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.simulate.cli import run

    return run(args, settings)
