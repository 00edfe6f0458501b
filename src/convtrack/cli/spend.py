"""``convtrack spend import|list``: load ad spend exports, and read spend back.

Importing a row whose key (day, platform, channel, campaign, currency) is stored replaces
it, so importing a file twice never counts it twice (see docs/spend.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.store.base import SpendRow


def register(sub: Any) -> None:
    from convtrack.attribution.dialect import GRAINS
    from convtrack.attribution.spend import BY, FORMATS

    group = sub.add_parser("spend", help="import ad spend (for CPA and ROAS) and list it")
    actions = group.add_subparsers(dest="spend_command", metavar="ACTION", required=True)

    imp = actions.add_parser("import", help="import a CSV or Parquet spend file (an upsert)")
    settings_args(imp)
    imp.add_argument("file", help="the spend file (see docs/spend.md for its columns)")
    imp.add_argument("--format", choices=FORMATS, help="default: from the file name")
    imp.add_argument("--currency", help="currency of rows without one, e.g. EUR")
    imp.add_argument("--platform", help="platform of rows without one, e.g. google_ads")
    imp.add_argument("--dry-run", action="store_true", help="check and summarise; store nothing")
    imp.set_defaults(func=spend_import)

    lst = actions.add_parser("list", help="spend, impressions and clicks per group and currency")
    settings_args(lst)
    lst.add_argument("--from", dest="start", metavar="DATE", help="first day (2024-05-01)")
    lst.add_argument("--to", dest="end", metavar="DATE", help="first day left out")
    lst.add_argument("--by", nargs="+", choices=BY, default=[], help="group by these keys")
    lst.add_argument("--grain", choices=GRAINS, help="one row per day, week or month")
    lst.add_argument("--format", choices=["table", "csv", "json"], default="table")
    lst.set_defaults(func=spend_list)


def spend_import(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.attribution.spend import Defaults, read_spend_file
    from convtrack.cli.ops import session

    path = Path(args.file)
    defaults = Defaults(_currency_option(args.currency), args.platform)
    parsed = read_spend_file(path, args.format, defaults)
    print(summary(parsed.rows, path.name))
    if parsed.ignored:
        print(f"ignored columns: {', '.join(parsed.ignored)}")
    if args.dry_run:
        print("dry run: nothing stored")
        return 0
    with session(settings, write=True) as ops:
        counts = ops.import_spend(parsed.rows, path.name)
    print(f"stored: {counts['inserted']} inserted, {counts['replaced']} replaced")
    return 0


def _currency_option(code: str | None) -> str | None:
    from convtrack.currencies import ISO_4217

    if code is not None and code.upper() not in ISO_4217:
        raise ConvtrackError("invalid_currency", f"--currency {code!r} is not an ISO 4217 code.")
    return code.upper() if code else None


def summary(rows: Sequence[SpendRow], name: str) -> str:
    """Rows, the days they cover and the total per currency."""
    days = sorted({r.day for r in rows})
    totals: dict[str, Decimal] = {}
    for r in rows:
        totals[r.currency] = totals.get(r.currency, Decimal(0)) + r.spend
    plural = "s" if len(rows) != 1 else ""
    lines = [
        f"{name}: {len(rows)} row{plural}, {days[0]} to {days[-1]} ({len(days)} days with spend)"
    ]
    lines += [f"  {cur} {_amount(total)}" for cur, total in sorted(totals.items())]
    return "\n".join(lines)


def _amount(value: Decimal) -> str:
    """Exact, without trailing zeros past the cents: 12.5 → 12.50, 0.123400 → 0.1234."""
    text = f"{value.normalize():f}"
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


def spend_list(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.attribution.spend import spend_query
    from convtrack.cli.ops import session
    from convtrack.cli.output import render
    from convtrack.reports.conversions_query import parse_day

    start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
    if start and end and start >= end:
        raise ConvtrackError("invalid_dates", "--to must be after --from (it is left out).")
    with session(settings) as ops:
        try:
            result = ops.query(*spend_query(start, end, args.by, args.grain))
        except ConvtrackError as err:
            if "spend does not exist" in err.message:  # a store older than migration 0005
                raise ConvtrackError("no_spend", "No spend imported yet.") from None
            raise
    print(render(result, args.format))
    return 0
