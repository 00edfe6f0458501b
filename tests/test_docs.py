"""The CLI and settings references cannot drift from the code."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from convtrack.cli import build_parser
from convtrack.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                nested = _commands(sub, path)
                found |= nested or {path: [o for a in sub._actions for o in a.option_strings]}
    return found


def test_every_command_and_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for command, options in _commands(build_parser()).items():
        assert f"convtrack {command}" in text, f"docs/cli.md lacks `convtrack {command}`"
        for option in options:
            if option.startswith("--") and option != "--help":
                assert option in text or option in ("--config", "--data-dir", "--store"), (
                    f"docs/cli.md lacks {option} of `convtrack {command}`"
                )


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for f in fields(Settings):
        assert f"| `{f.name}` |" in text, f"docs/configuration.md lacks setting {f.name}"


def test_every_plan_key_is_documented() -> None:
    import msgspec

    from convtrack.plan import model

    text = (DOCS / "tracking-plan.md").read_text()
    structs = [
        obj
        for obj in vars(model).values()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj is not model.Strict
    ]
    assert len(structs) > 10
    for struct in structs:
        for f in msgspec.structs.fields(struct):
            assert f"`{f.encode_name}`" in text, (
                f"docs/tracking-plan.md lacks key {f.encode_name} of {struct.__name__}"
            )
