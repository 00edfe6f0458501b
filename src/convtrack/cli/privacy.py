"""``convtrack privacy …``: a person's rights (erase, export) and retention (purge).

Through the running server's API when one holds the store, else straight on the store.
Email, phone and external id are hashed here, as ingest does, before they go anywhere.
See docs/privacy.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings

IDENTIFIER_OPTIONS = (
    "email", "phone", "user-id", "anonymous-id", "external-id", "advertising-id",
)  # fmt: skip


def register(sub: Any) -> None:
    group = sub.add_parser("privacy", help="a person's rights (erase, export) and retention")
    actions = group.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)
    _register_why(actions)
    _register_erase(actions)
    _register_export(actions)
    _register_purge(actions)


def _register_why(actions: Any) -> None:
    # Part A's `privacy why` (docs/cli.md); see privacy_why below.
    why = actions.add_parser("why", help="explain the consent decision applied to one event")
    settings_args(why)
    why.add_argument("event_id", metavar="EVENT_ID")
    why.add_argument("--format", choices=["text", "json"], default="text")
    why.set_defaults(func=privacy_why)


WHY_SQL = (
    "SELECT event_id, event_name, source, received_at, ip, user_agent, "
    "CAST(consent AS VARCHAR) AS consent, CAST(consent_decision AS VARCHAR) AS consent_decision "
    "FROM events WHERE event_id = ?"
)


def privacy_why(args: argparse.Namespace, settings: Settings) -> int:
    """Explain in words the stored consent decision of one event, and what it did."""
    from convtrack.cli.ops import session
    from convtrack.errors import ConvtrackError

    with session(settings) as ops:
        result = ops.query(WHY_SQL, [args.event_id])
    if not result.rows:
        raise ConvtrackError("event_not_found", f"No stored event has id {args.event_id!r}.", 404)
    row = dict(zip(result.columns, result.rows[0], strict=True))
    for name in ("consent", "consent_decision"):
        row[name] = json.loads(row[name]) if isinstance(row[name], str) else row[name]
    print(json.dumps(row, indent=2, default=str) if args.format == "json" else why_text(row))
    return 0


def why_text(row: dict[str, Any]) -> str:
    from convtrack.enrich.privacy import explain_record

    lines = [
        f"event {row['event_id']} ({row['event_name']}, from {row['source']}, "
        f"received {row['received_at']})",
        f"Consent signals sent with it: {json.dumps(row['consent']) if row['consent'] else 'none'}",
    ]
    if row["consent_decision"]:
        lines.append(explain_record(row["consent_decision"]))
    else:
        lines.append(
            "No consent decision is recorded: the event was stored before consent was applied "
            "at ingest, so it is kept as it arrived."
        )
    lines.append(f"Stored IP: {row['ip'] or '-'}; stored user agent: {row['user_agent'] or '-'}")
    return "\n".join(lines)


def _identifier_args(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    for option in IDENTIFIER_OPTIONS:
        which.add_argument(f"--{option}", metavar="VALUE", help=f"the person by {option}")


def _register_erase(actions: Any) -> None:
    erase = actions.add_parser(
        "erase", help="delete everything about a person and drop their later events"
    )
    settings_args(erase)
    _identifier_args(erase)
    erase.add_argument("--yes", action="store_true", help="erase without asking")
    erase.set_defaults(func=privacy_erase)


def _register_export(actions: Any) -> None:
    export = actions.add_parser("export", help="everything held about a person, as JSON")
    settings_args(export)
    _identifier_args(export)
    export.add_argument("--out", metavar="FILE", help="write to FILE (mode 0600) not stdout")
    export.set_defaults(func=privacy_export)


def _register_purge(actions: Any) -> None:
    purge = actions.add_parser(
        "purge", help="apply retention now: delete old rows, truncate old raw IPs"
    )
    settings_args(purge)
    purge.add_argument("--dry-run", action="store_true", help="count, change nothing")
    purge.set_defaults(func=privacy_purge)


def _named(args: argparse.Namespace) -> tuple[str, str]:
    """The option (as the API names it, e.g. ``user_id``) and value given."""
    option = next(o for o in IDENTIFIER_OPTIONS if getattr(args, o.replace("-", "_")))
    name = option.replace("-", "_")
    return name, getattr(args, name)


def _counts(deleted: dict[str, int]) -> str:
    from convtrack.cli.output import table

    return table(["table", "rows"], [[t, n] for t, n in deleted.items()])


def privacy_erase(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session

    option, value = _named(args)
    with session(settings, write=True) as ops:
        if not args.yes:
            preview = ops.privacy_erase(option, value, True)
            print(f"this erases {preview['total']:,} rows:\n{_counts(preview['deleted'])}")
            if not _confirmed():
                print("nothing erased (pass --yes to erase without asking)", file=sys.stderr)
                return 1
        done = ops.privacy_erase(option, value, False)
    print(f"erased {done['total']:,} rows; later events of this person are dropped")
    print(_counts(done["deleted"]))
    return 0


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        return False
    return input("erase them? type yes: ").strip().lower() == "yes"


def privacy_export(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session

    option, value = _named(args)
    with session(settings) as ops:
        document = ops.privacy_export(option, value)
    text = json.dumps(document, indent=2, sort_keys=True)
    if args.out is None:
        print(text)
        return 0
    path = Path(args.out)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return 0


def privacy_purge(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session

    with session(settings, write=True) as ops:
        done = ops.privacy_purge(args.dry_run)
    if "purged" not in done and "raw_ips" not in done:
        print("nothing to do: retention_days and raw_ip_hours are 0 (keep forever)")
        return 0
    print(json.dumps(done, indent=2))
    return 0
