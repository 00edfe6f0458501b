"""``convtrack quarantine list|show|replay``: inspect quarantined events and replay them.

Through the running server's admin API when one holds the store, else straight on the store
(replay then checks against the plan file of the settings, as the server would).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.cli.ops import session
from convtrack.cli.output import table
from convtrack.config import Settings
from convtrack.errors import ConvtrackError

_AGO = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
LIST_COLUMNS = ["reject_id", "received_at", "source", "event_name", "status", "reason"]


def register(sub: Any) -> None:
    group = sub.add_parser("quarantine", help="inspect and replay quarantined events")
    actions = group.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)

    lst = actions.add_parser("list", help="quarantined events, newest first, and top reasons")
    settings_args(lst)
    lst.add_argument("--status", choices=["quarantined", "replayed"], help="default: both")
    lst.add_argument("--source", help="only this source, e.g. server, tag or pixel")
    lst.add_argument("--since", help="received since: ISO 8601 time or an age like 30m, 24h, 7d")
    lst.add_argument("--reason", help="only rows with a reason or path containing this text")
    lst.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    lst.add_argument("--format", choices=["table", "json"], default="table")
    lst.set_defaults(func=quarantine_list)

    show = actions.add_parser("show", help="one quarantined event with its payload (JSON)")
    settings_args(show)
    show.add_argument("id", help="the reject_id shown by `convtrack quarantine list`")
    show.set_defaults(func=quarantine_show)

    replay = actions.add_parser("replay", help="store quarantined events that pass the plan now")
    settings_args(replay)
    replay.add_argument("ids", nargs="*", metavar="ID", help="reject_ids to replay")
    replay.add_argument("--all", action="store_true", help="every event still quarantined")
    replay.add_argument(
        "--dry-run", action="store_true", help="show what would happen; store nothing"
    )
    replay.add_argument("--format", choices=["table", "json"], default="table")
    replay.set_defaults(func=quarantine_replay)


def since_value(text: str) -> str:
    """An ISO 8601 time, or an age (``30m``, ``24h``, ``7d``) → ISO 8601 (UTC)."""
    ago = _AGO.match(text.strip())
    if ago:
        delta = timedelta(**{_UNITS[ago[2]]: int(ago[1])})
        return (datetime.now(UTC) - delta).isoformat()
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise ConvtrackError(
            "invalid_since", f"--since {text!r}: use an ISO 8601 time or an age like 24h or 7d."
        ) from None


def quarantine_list(args: argparse.Namespace, settings: Settings) -> int:
    query = {"limit": str(args.limit)}
    for name in ("status", "source", "reason"):
        if getattr(args, name):
            query[name] = getattr(args, name)
    if args.since:
        query["since"] = since_value(args.since)
    with session(settings) as ops:
        found = ops.quarantine_list(query)
    if args.format == "json":
        print(json.dumps(found, indent=2))
        return 0
    print(table(LIST_COLUMNS, [_list_cells(row) for row in found["rows"]]))
    reasons = found["top_reasons"]
    if reasons:
        print("\ntop reasons:")
        print(
            table(
                ["count", "path", "reason"], [[r["count"], r["path"], r["reason"]] for r in reasons]
            )
        )
    return 0


def _list_cells(row: dict[str, Any]) -> list[Any]:
    cells = [row.get(c) for c in LIST_COLUMNS[:-1]]
    reasons = row.get("reasons") or []
    first = f"{reasons[0].get('path') or '/'}: {reasons[0].get('reason')}" if reasons else ""
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return [*cells, first + more]


def quarantine_show(args: argparse.Namespace, settings: Settings) -> int:
    with session(settings) as ops:
        row = ops.quarantine_show(args.id)
    print(json.dumps(row, indent=2))
    return 0


def quarantine_replay(args: argparse.Namespace, settings: Settings) -> int:
    if bool(args.ids) == bool(args.all):
        print("error: name the ids to replay, or --all (not both)", file=sys.stderr)
        return 2
    with session(settings, write=not args.dry_run) as ops:
        result = ops.quarantine_replay(list(args.ids), args.all, args.dry_run)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(_replay_report(result))
    return 1 if result["counts"].get("not_found") else 0


def _replay_report(result: dict[str, Any]) -> str:
    rows = [
        [o["reject_id"], o["status"], o["event_id"], o["event_name"], _reasons(o["reasons"])]
        for o in result["outcomes"]
    ]
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result["counts"].items()))
    head = "dry run: nothing stored. " if result["dry_run"] else ""
    summary = f"{head}plan {result['plan_version']}: {counts or 'nothing to replay'}"
    return (
        table(["reject_id", "outcome", "event_id", "event_name", "reasons"], rows) + "\n" + summary
    )


def _reasons(reasons: list[dict[str, Any]]) -> str:
    return "; ".join(f"{r.get('path') or '/'}: {r.get('reason')}" for r in reasons)
