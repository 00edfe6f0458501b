"""``convtrack people rebuild|show``: stitch identities into people and look one up.

Through the running server's admin API when one holds the store, else straight on the store.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings


def register(sub: Any) -> None:
    group = sub.add_parser("people", help="identity stitching: rebuild and look people up")
    actions = group.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    rebuild = actions.add_parser(
        "rebuild", help="stitch every stored event's identifiers into people (replaces the graph)"
    )
    settings_args(rebuild)
    rebuild.set_defaults(func=people_rebuild)
    show = actions.add_parser("show", help="one person: identifiers, devices, events, consent")
    settings_args(show)
    which = show.add_mutually_exclusive_group(required=True)
    for option in ("email", "phone", "user-id", "anonymous-id", "external-id", "advertising-id"):
        which.add_argument(f"--{option}", metavar="VALUE", help=f"find the person by {option}")
    show.add_argument("--format", choices=["table", "json"], default="table")
    show.set_defaults(func=people_show)


def people_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session

    with session(settings, write=True) as ops:
        summary = ops.rebuild_identity()
    print(", ".join(f"{n:,} {name}" for name, n in summary.items()))
    return 0


def people_show(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session
    from convtrack.identity.lookup import KINDS, identifier, show
    from convtrack.jsonable import plain

    option = next(o for o in KINDS if getattr(args, o) is not None)
    kind, value = identifier(option, getattr(args, option))
    with session(settings) as ops:
        person = show(ops, kind, value)
    if args.format == "json":
        print(json.dumps(person, default=plain))
        return 0
    print(_text(person))
    return 0


def _text(person: dict[str, Any]) -> str:
    from convtrack.cli.output import table

    def rows(items: list[dict[str, Any]], cols: list[str]) -> list[list[Any]]:
        return [[item[c] for c in cols] for item in items]

    parts = [f"person {person['person_id']}"]
    for title, key, cols in (
        ("identifiers", "identifiers", ["kind", "value", "first_seen"]),
        ("devices", "devices", ["anonymous_id", "user_agent", "first_seen", "last_seen", "events"]),
        ("events", "events", ["event_name", "events", "last"]),
        ("consent", "consent", ["consent", "events"]),
        ("consent decisions", "consent_decisions", ["consent_decision", "events"]),
        ("merges", "merges", ["kept", "absorbed", "via_kind", "event_id", "at"]),
    ):
        parts.append(f"\n{title}\n" + table(cols, rows(person[key], cols)))
    return "\n".join(parts)
