"""``convtrack links create|list`` (click links) and ``convtrack skan report`` (docs/mobile.md).

While a server holds the store, ``links create`` goes through its admin API; reads go through
the same session as every other command (cli/ops.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings, campaign_map
from convtrack.errors import ConvtrackError
from convtrack.store.links_model import LINK_COLUMNS, PLATFORMS


def register(sub: Any) -> None:
    group = sub.add_parser("links", help="click links: a short URL that records the click")
    actions = group.add_subparsers(dest="links_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a link and print its short URL")
    settings_args(create)
    create.add_argument("--to", required=True, help="destination URL (android: the Play link)")
    create.add_argument("--campaign", required=True, help="utm_campaign of its clicks")
    create.add_argument("--source", default="", help="utm_source of its clicks")
    create.add_argument("--medium", default="", help="utm_medium of its clicks")
    create.add_argument("--platform", choices=PLATFORMS, default="web")
    create.add_argument("--base-url", help="public URL of the server (default: where it runs)")
    create.set_defaults(func=links_create)
    lst = actions.add_parser("list", help="list the click links")
    settings_args(lst)
    lst.add_argument("--format", choices=["table", "csv", "json"], default="table")
    lst.set_defaults(func=links_list)

    skan = sub.add_parser("skan", help="SKAdNetwork postbacks, aggregated per campaign")
    skan_actions = skan.add_subparsers(dest="skan_command", metavar="ACTION", required=True)
    report = skan_actions.add_parser("report", help="installs per campaign (never per person)")
    settings_args(report)
    report.add_argument("--from", dest="start", metavar="DATE", help="first day (2024-05-01)")
    report.add_argument("--to", dest="end", metavar="DATE", help="first day left out")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report.set_defaults(func=skan_report)


def links_create(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import ServerOps, StoreOps, running_server, session
    from convtrack.collect.links import PREFIX, new_link

    with session(settings, write=True) as ops:
        if isinstance(ops, ServerOps):
            body = {"to": args.to, "campaign": args.campaign, "source": args.source,
                    "medium": args.medium, "platform": args.platform}  # fmt: skip
            link_id = ops._call("POST", "/v1/admin/links", json=body)["link_id"]
        else:
            assert isinstance(ops, StoreOps)
            link = new_link(args.to, args.campaign, args.source, args.medium, args.platform)
            ops.store.insert_link(link)
            link_id = link.link_id
    base = args.base_url or running_server(settings.data_dir)
    base = base or f"http://{settings.host}:{settings.port}"
    print(f"{base.rstrip('/')}{PREFIX}{link_id}")
    return 0


def links_list(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session
    from convtrack.cli.output import render

    sql = f"SELECT {', '.join(LINK_COLUMNS)} FROM links ORDER BY created_at"  # noqa: S608
    with session(settings) as ops:
        print(render(ops.query(sql), args.format))
    return 0


def skan_report(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.cli.ops import session
    from convtrack.cli.output import render
    from convtrack.reports.conversions_query import parse_day
    from convtrack.reports.skan import by_campaign, summary_query

    start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
    if start and end and start >= end:
        raise ConvtrackError("invalid_dates", "--to must be after --from (it is left out).")
    with session(settings) as ops:
        summary = ops.query(summary_query(start, end))
    print(render(by_campaign(summary, campaign_map(settings.skan_campaigns)), args.format))
    return 0
