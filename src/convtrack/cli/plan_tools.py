"""``convtrack plan docs`` and ``convtrack plan diff``: documents and comparisons of plans."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from convtrack.cli.args import settings_args
from convtrack.config import Settings
from convtrack.plan.model import Plan

PLAN_FILE = "tracking-plan.yaml"
EXIT_BREAKING, EXIT_LINT = 1, 2


def register(plan: Any) -> None:
    """Add ``docs`` and ``diff`` to the ``plan`` subcommands."""
    docs = plan.add_parser("docs", help="write the tracking-implementation document")
    settings_args(docs)
    docs.add_argument(
        "file",
        nargs="?",
        help=f"plan file (default: the plan setting, else ./{PLAN_FILE}, else the default plan)",
    )
    docs.add_argument("--format", choices=["md", "html"], help="default: from --out, else md")
    docs.add_argument("--out", default="-", help="output file (default: standard output)")
    docs.add_argument(
        "--base-url", default="https://track.example.com", help="collector URL in the examples"
    )
    docs.set_defaults(func=plan_docs)

    diff = plan.add_parser("diff", help="classify changes between two plans (exit 1: breaking)")
    settings_args(diff)
    diff.add_argument("old", help="the plan before")
    diff.add_argument("new", help="the plan after")
    diff.add_argument("--format", choices=["text", "json"], default="text")
    diff.set_defaults(func=plan_diff)


def _load(path: str) -> Plan | None:
    """The plan at ``path``, or None after printing why it cannot be used."""
    from convtrack.plan import lint_text

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None
    plan, problems = lint_text(text, path)
    if plan is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{path} does not lint: fix it first (convtrack plan lint {path})", file=sys.stderr)
    return plan


def _docs_plan(args: argparse.Namespace, settings: Settings) -> Plan | None:
    from convtrack.plan import load_default_plan

    path = args.file or settings.plan or (PLAN_FILE if Path(PLAN_FILE).exists() else "")
    if not path:
        print("no plan file: documenting the default plan", file=sys.stderr)
        return load_default_plan()
    return _load(path)


def plan_docs(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.plan.docs_model import plan_doc
    from convtrack.plan.render_html import render_html
    from convtrack.plan.render_md import render_md

    plan = _docs_plan(args, settings)
    if plan is None:
        return 1
    fmt = args.format or ("html" if args.out.endswith((".html", ".htm")) else "md")
    doc = plan_doc(plan, args.base_url, settings.default_currency)
    text = render_html(doc) if fmt == "html" else render_md(doc)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({fmt}, plan {plan.version})", file=sys.stderr)
    return 0


def plan_diff(args: argparse.Namespace, settings: Settings) -> int:
    from convtrack.plan.diff import diff_plans, next_version, version_key, worst

    old, new = _load(args.old), _load(args.new)
    if old is None or new is None:
        return EXIT_LINT
    changes = diff_plans(old, new)
    level = worst(changes)
    suggested = next_version(old.version, level)
    if args.format == "json":
        report = {
            "old_version": old.version,
            "new_version": new.version,
            "level": level,
            "suggested_version": suggested,
            "changes": [{"path": c.path, "change": c.message, "level": c.level} for c in changes],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for change in changes:
            print(change)
        print(_summary(changes, level, old.version, new.version, suggested))
        if suggested and (version_key(new.version) or ()) < (version_key(suggested) or ()):
            need = f"these changes need at least {suggested}"
            print(f"warning: {args.new} says version {new.version}; {need}", file=sys.stderr)
    return EXIT_BREAKING if level == "breaking" else 0


_PART = {"breaking": "MODEL", "revision": "REVISION", "compatible": "ADDITION"}


def _summary(
    changes: list[Any], level: str | None, old: str, new: str, suggested: str | None
) -> str:
    if level is None:
        return "no changes"
    counts = ", ".join(
        f"{sum(c.level == lv for c in changes)} {lv}"
        for lv in ("breaking", "revision", "compatible")
    )
    bump = f"bump {_PART[level]}"
    target = f"{old} → {suggested}" if suggested else f"{old} → ? (not N.N.N)"
    return f"{len(changes)} change(s): {counts}; {bump}: {target} (new plan says {new})"
