"""``convtrack simulate``: generate seeded traffic with its ground truth, then deliver it.

Where the events go: ``--url`` sends them to a running server; ``--out FILE`` writes JSON
lines; with neither (and no ``--dry-run``) they are appended straight to the store of
``--data-dir``/``--store``. See docs/simulate.md.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from convtrack.cli.ops import running_server
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.simulate.http import HttpSink
from convtrack.simulate.progress import Progress
from convtrack.simulate.simulation import Params, Simulation, simulate
from convtrack.simulate.sinks import JsonlSink, Report, Sink, StoreSink
from convtrack.simulate.truth import build_truth, write_truth

DEFAULT_START = "2025-01-06"  # fixed, so a seed gives the same events on any day


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("what to generate")
    g.add_argument("--visitors", type=int, default=1000, help="people to simulate (default 1000)")
    g.add_argument("--days", type=int, default=7, help="length of the window (default 7)")
    g.add_argument("--start", help=f"first day, YYYY-MM-DD or RFC 3339 (default {DEFAULT_START})")
    g.add_argument(
        "--end",
        help="end of the window instead of --start: a date or 'today' "
        "(today 00:00 UTC; output then depends on the day you run it)",
    )
    g.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    g.add_argument("--truth", type=Path, help="write the ground truth JSON here")
    s = parser.add_argument_group("where to send it")
    s.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8787")
    s.add_argument("--key", help="public write key for browser copies (with --url)")
    s.add_argument("--server-key", help="secret write key for backend copies (with --url)")
    s.add_argument("--batch-size", type=int, default=500, help="events per request (1..500)")
    s.add_argument("--out", help="write events as JSON lines to FILE ('-' for stdout)")
    s.add_argument(
        "--dry-run",
        action="store_true",
        help="generate (and write --truth/--out) but send nothing to a server or store",
    )
    s.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on stderr")


def parse_when(text: str, now: datetime) -> datetime:
    if text.strip().lower() == "today":
        return datetime.combine(now.date(), time(), UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConvtrackError(
            "invalid_argument", f"{text!r} is not a date (YYYY-MM-DD), RFC 3339 time or 'today'."
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def window(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    if args.days < 1:
        raise ConvtrackError("invalid_argument", "--days must be at least 1.")
    if args.start and args.end:
        raise ConvtrackError("invalid_argument", "Give --start or --end, not both.")
    span = timedelta(days=args.days)
    if args.end:
        end = parse_when(args.end, now)
        return end - span, end
    start = parse_when(args.start or DEFAULT_START, now)
    return start, start + span


def params_from(args: argparse.Namespace, settings: Settings, now: datetime) -> Params:
    if args.visitors < 1:
        raise ConvtrackError("invalid_argument", "--visitors must be at least 1.")
    start, end = window(args, now)
    if end - now > timedelta(seconds=settings.max_future_seconds):
        raise ConvtrackError(
            "invalid_argument",
            f"The window ends {end.date()}, in the future; the server rejects such timestamps. "
            "Use an earlier --start or --end today.",
        )
    return Params(seed=args.seed, visitors=args.visitors, start=start, end=end)


def sinks_from(args: argparse.Namespace, settings: Settings) -> list[Sink]:
    if not 1 <= args.batch_size <= 500:
        raise ConvtrackError("invalid_argument", "--batch-size must be 1..500.")
    if (args.key or args.server_key) and not args.url:
        raise ConvtrackError("invalid_argument", "--key and --server-key need --url.")
    sinks: list[Sink] = []
    if args.out:
        sinks.append(JsonlSink(args.out))
    if args.url and not args.dry_run:
        if not (args.key and args.server_key):
            raise ConvtrackError(
                "invalid_argument",
                "--url needs --key (a public key, for browser copies) and --server-key (a secret "
                "key, for backend copies: `convtrack keys create --name backend --secret`).",
            )
        sinks.append(HttpSink(args.url, args.key, args.server_key, args.batch_size))
    elif not (args.url or args.out or args.dry_run):
        holder = running_server(settings.data_dir)
        if holder is not None:
            raise ConvtrackError(
                "store_locked",
                f"A server at {holder} holds {settings.data_dir}; send through it instead: "
                f"--url {holder} --key <public key> --server-key <secret key>.",
                409,
            )
        sinks.append(StoreSink(settings))
    return sinks


def generate(params: Params, quiet: bool) -> Simulation:
    progress = Progress("generated visitors", params.visitors, enabled=not quiet)
    sim = simulate(params, on_person=progress.advance)
    progress.close()
    return sim


def summary(totals: dict[str, Any], reports: list[Report]) -> str:
    lines = [
        f"simulate: {totals['people']:,} people, {totals['touches']:,} visits, "
        f"{totals['conversions']:,} conversions ({totals['conversions_delivered']:,} delivered, "
        f"{totals['conversions_server_only']:,} only by the server)",
        f"simulate: {totals['deliveries_sent']:,} events to send = "
        f"{totals['distinct_event_ids_sent']:,} distinct ids + "
        f"{totals['browser_server_pairs_sent']:,} browser/server duplicates; "
        f"{totals['browser_hits_blocked']:,} browser hits blocked",
    ]
    for r in reports:
        new = f", {r.new:,} new" if r.new is not None else ""
        retries = f", {r.retries} retries" if r.retries else ""
        lines.append(
            f"simulate: {r.target}: {r.accepted:,} accepted, {r.rejected:,} rejected{new}{retries}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    params = params_from(args, settings, now)
    sinks = sinks_from(args, settings)
    sim = generate(params, args.quiet)
    truth = build_truth(sim)
    if args.truth:
        write_truth(truth, args.truth)
    sent = sim.sent()
    reports = []
    for sink in sinks:
        progress = Progress("delivered events", len(sent), enabled=not args.quiet)
        reports.append(sink.send(sent, progress))
        progress.close()
    if not args.quiet:
        print(summary(truth["totals"], reports), file=sys.stderr)
    for r in reports:
        for error in r.errors:
            print(f"simulate: rejected: {error}", file=sys.stderr)
    return 1 if any(r.rejected for r in reports) else 0
