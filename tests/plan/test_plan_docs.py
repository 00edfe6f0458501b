"""``convtrack plan docs``: every event, conversion and property; escaping; valid examples."""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest

from convtrack.cli import main
from convtrack.collect.parse import Origin, to_event
from convtrack.collect.pixel import hit_to_dict, parse_query
from convtrack.events import Event, EventIn
from convtrack.plan import check_event, compile_plan, lint_text, load_default_plan
from convtrack.plan.docs_model import Example, PlanDoc, plan_doc
from convtrack.plan.docs_text import property_rows
from convtrack.plan.examples import example
from convtrack.plan.render_html import render_html
from convtrack.plan.render_md import render_md

EVIL = """\
version: "1<b>"
events:
  - name: "evil<script>"
    description: "<script>alert(1)</script> a | b"
    owner: "<img src=x onerror=alert(2)>"
    properties:
      "x|<i>": {type: string, description: "<script>p</script>|q"}
conversions:
  - name: "conv<script>"
    description: "<script>c</script>"
    category: evil
    event: "evil<script>"
"""


@pytest.fixture(scope="module")
def doc() -> PlanDoc:
    return plan_doc(load_default_plan())


def _example(event_examples: list[Example], label: str) -> str | None:
    return next((x.code for x in event_examples if x.label == label), None)


def _origin(source: str) -> Origin:
    now = datetime.now(UTC)
    return Origin(source, "key_1", source == "server", "192.0.2.1", "test", now)


def _canonical(event_in: EventIn, source: str) -> Event:
    out = to_event(
        None, event_in, _origin(source), None, default_currency="EUR", max_future=timedelta(1)
    )
    assert isinstance(out, Event), out
    return out


@pytest.mark.parametrize("render", [render_md, render_html])
def test_docs_name_every_event_conversion_and_property(
    render: Callable[[PlanDoc], str], doc: PlanDoc
) -> None:
    text = render(doc)
    plan = load_default_plan()
    for event in plan.events:
        assert f"Event <code>{event.name}</code>" in text or f"Event `{event.name}`" in text
        for row in property_rows(event.properties, event.required):
            assert row[0] in text
        for alias in event.aliases:
            assert alias in text
    for conv in plan.conversions:
        assert f"Conversion <code>{conv.name}</code>" in text or f"Conversion `{conv.name}`" in text
        assert conv.category in text
    assert "purchase/subscription/renewal" in text
    assert "Paid Search" in text  # channel rules


def test_md_tree_nests_children(doc: PlanDoc) -> None:
    md = render_md(doc)
    assert "- `purchase`: `purchase`\n  - `purchase/subscription`: `subscription`\n" in md
    assert "    - `purchase/subscription/renewal`: `subscription_renewal`" in md


def test_server_examples_decode_and_pass_the_plan(doc: PlanDoc) -> None:
    compiled = compile_plan(load_default_plan())
    for event in doc.events:
        curl = _example(event.examples, "Server API")
        assert curl is not None, event.name
        argv = shlex.split(curl.replace("\\\n", " "))
        assert argv[:3] == ["curl", "-X", "POST"]
        assert "Authorization: Bearer ctk_sec_YOUR_SECRET_KEY" in argv
        body = argv[argv.index("--data") + 1]
        event_in = msgspec.json.decode(body.encode(), type=EventIn)
        result = check_event(compiled, _canonical(event_in, "server"))
        assert result.ok and result.known, (event.name, result.issues)
        assert not event.notes or all("does not validate" not in n for n in event.notes)


def test_pixel_urls_round_trip_and_pass_the_plan(doc: PlanDoc) -> None:
    compiled = compile_plan(load_default_plan())
    seen = 0
    for event in doc.events:
        url = _example(event.examples, "Pixel URL")
        if url is None:
            continue
        seen += 1
        parts = urlsplit(url)
        assert parts.path == "/p.gif" and " " not in url
        params = parse_query(parts.query.encode())
        assert ("k", "ctk_pub_YOUR_PUBLIC_KEY") in params
        raw = hit_to_dict(params, None)
        assert raw["event_name"] == event.name
        event_in = msgspec.convert(raw, EventIn, strict=False)
        result = check_event(compiled, _canonical(event_in, "pixel"))
        assert result.ok, (event.name, result.issues)
    assert seen >= 15


def test_pixel_url_encodes_values() -> None:
    plan, _ = lint_text(
        'version: "1"\nevents:\n  - name: "Order Completed & more"\n'
        "    properties: {note: {type: string, const: 'a b&c=d+e'}}\n"
    )
    assert plan is not None
    url = _example(plan_doc(plan).events[0].examples, "Pixel URL")
    assert url is not None and "e=Order%20Completed%20%26%20more" in url
    params = dict(parse_query(urlsplit(url).query.encode()))
    assert params["e"] == "Order Completed & more" and params["p.note"] == "a b&c=d+e"


def test_tag_examples_use_the_tag_api(doc: PlanDoc) -> None:
    by_name = {e.name: e for e in doc.events}
    purchase = _example(by_name["purchase"].examples, "Browser tag")
    assert purchase is not None and purchase.startswith("convtrack('conversion', 'purchase', {")
    assert '"order_id": "ORDER-1001"' in purchase and '"event_id"' in purchase
    search = _example(by_name["search"].examples, "Browser tag")
    assert search is not None and search.startswith("convtrack('track', 'search', {")
    renewal = next(c for c in doc.conversions if c.name == "subscription_renewal")
    assert renewal.example is not None and '"renewal": true' in renewal.example.code


def test_required_identifiers_and_sources_shape_the_examples() -> None:
    plan, problems = lint_text(
        textwrap.dedent("""\
            version: "1"
            events:
              - name: lead
                sources: [server]
                required_identifiers: [[email, phone], user_id]
                properties: {score: {type: integer, minimum: 10, maximum: 20}}
                required: [score]
            """)
    )
    assert plan is not None, problems
    event = plan_doc(plan).events[0]
    assert [x.label for x in event.examples] == ["Server API"]
    assert event.body["identifiers"] == {"email": "jane@example.com"}
    assert event.body["user_id"] and event.body["properties"] == {"score": 10}
    assert event.notes == []


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"enum": ["b", "a"]}, "b"),
        ({"type": "string", "format": "date-time"}, "2025-01-31T12:00:00Z"),
        ({"type": "string", "format": "currency"}, "EUR"),
        ({"type": "string", "minLength": 10}, "examplexxx"),
        ({"type": "string", "maxLength": 3}, "exa"),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "number", "exclusiveMaximum": 1}, 0.99),
        ({"type": "array", "items": {"type": "boolean"}, "minItems": 2}, [False, False]),
        ({"type": ["null", "string"], "pattern": "^[0-9]+$"}, "123"),
    ],
)
def test_example_values_follow_the_schema(schema: dict[str, object], value: object) -> None:
    assert example(schema) == value


def test_html_escapes_every_plan_string() -> None:
    plan, problems = lint_text(EVIL)
    assert plan is not None, problems
    html = render_html(plan_doc(plan))
    assert "<script" not in html.lower() and "<img" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html.replace("https://track.example.com", "")
    assert "<link" not in html and "src=" not in html.replace("src=x", "")

    class Tags(HTMLParser):
        found: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found.add(tag)

    parser = Tags()
    parser.feed(html)
    assert parser.found <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p",
        "table", "thead", "tbody", "tr", "th", "td", "code", "pre", "ul", "li", "a", "nav",
    }  # fmt: skip


def test_md_escapes_html_and_pipes() -> None:
    plan, _ = lint_text(EVIL)
    assert plan is not None
    md = render_md(plan_doc(plan))
    # Outside code (where Markdown renders HTML) no tag survives; code spans and blocks are inert.
    prose = re.sub(r"`+[^`]*`+", "", re.sub(r"```.*?```", "", md, flags=re.S))
    assert "<" not in prose and "&lt;img src=x onerror=alert(2)&gt;" in prose
    assert "&lt;script&gt;p&lt;/script&gt;\\|q" in md  # a table cell
    assert "`x\\|<i>`" in md  # a code span in a table: HTML inert, pipe escaped
    for line in md.splitlines():
        if line.startswith("| `x"):
            assert line.replace("\\|", "").count("|") == 6


def test_cli_writes_md_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(EVIL)
    assert main(["plan", "docs", str(plan), "--out", str(tmp_path / "p.html")]) == 0
    assert (tmp_path / "p.html").read_text().startswith("<!doctype html>")
    assert main(["plan", "docs", str(plan), "--format", "md", "--base-url", "https://t.io"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Tracking plan") and "https://t.io/v1/events" in out


def test_cli_default_plan_and_bad_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "docs", "--format", "html"]) == 0
    assert "Event <code>purchase</code>" in capsys.readouterr().out
    (tmp_path / "tracking-plan.yaml").write_text('version: "1"\nevnts: []\n')
    assert main(["plan", "docs"]) == 1
    assert "tracking-plan.yaml:2:1: unknown key 'evnts'" in capsys.readouterr().err
