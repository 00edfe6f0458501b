"""The ``convtrack`` command line. ``convtrack`` alone runs ``serve``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from convtrack import __version__
from convtrack.cli.args import settings_args
from convtrack.config import Settings, load_settings
from convtrack.errors import ConvtrackError

Command = Callable[[argparse.Namespace, Settings], int]


def _command_groups() -> list[Callable[[Any], None]]:
    """Each command group registers its own subcommands (one module per group)."""
    from convtrack.cli import (
        attribute,
        conversions,
        export,
        links,
        outbox,
        people,
        plan,
        privacy,
        qa,
        quarantine,
        spend,
    )  # fmt: skip

    return [
        plan.register, conversions.register, quarantine.register, spend.register,
        attribute.register, people.register, privacy.register, outbox.register,
        links.register, qa.register, export.register,
    ]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    from convtrack.cli import commands

    parser = argparse.ArgumentParser(
        prog="convtrack", description="First-party conversion tracking and attribution server."
    )
    parser.add_argument("--version", action="version", version=f"convtrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the collector and API (the default command)")
    settings_args(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8787)")
    serve.set_defaults(func=commands.serve)

    keys = sub.add_parser("keys", help="manage write keys").add_subparsers(
        dest="keys_command", metavar="ACTION", required=True
    )
    create = keys.add_parser("create", help="create a key (shown once)")
    settings_args(create)
    create.add_argument("--name", required=True, help="a label, e.g. web or backend")
    create.add_argument(
        "--secret",
        action="store_true",
        help="a secret server key (default: a public, write-only browser key)",
    )
    create.set_defaults(func=commands.keys_create)
    lst = keys.add_parser("list", help="list keys (never the keys themselves)")
    settings_args(lst)
    lst.set_defaults(func=commands.keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by id or name")
    settings_args(revoke)
    revoke.add_argument("key", help="key id (key_…) or name")
    revoke.set_defaults(func=commands.keys_revoke)

    events = sub.add_parser("events", help="look at stored events").add_subparsers(
        dest="events_command", metavar="ACTION", required=True
    )
    tail = events.add_parser("tail", help="print events as they arrive")
    settings_args(tail)
    tail.add_argument("-n", "--lines", type=int, default=10, help="start with the last N events")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.add_argument("--once", action="store_true", help="print and exit instead of following")
    tail.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    tail.set_defaults(func=commands.events_tail)

    sql = sub.add_parser("sql", help="run a read-only SQL query")
    settings_args(sql)
    sql.add_argument("query", help='e.g. "SELECT event_name, count(*) FROM events GROUP BY 1"')
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(func=commands.sql)

    for register in _command_groups():
        register(sub)

    sim = sub.add_parser("simulate", help="generate realistic traffic with ground truth")
    settings_args(sim)
    commands.simulate_args(sim)
    sim.set_defaults(func=commands.simulate)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("data_dir", "store", "host", "port")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["serve", *argv]
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, overrides=_overrides(args))
        return int(args.func(args, settings))
    except ConvtrackError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
