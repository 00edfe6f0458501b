"""``GET /t.js``: the browser tag's size budget, caching (ETag, 304, versioned URL) and gzip."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from convtrack.web.tag import TagScript

TAG = resources.files("convtrack.web") / "static" / "t.js"


def get(
    tag: TagScript, headers: dict[str, str], query: bytes = b"", method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http", "method": method, "path": "/t.js", "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(tag(scope, receive, send))
    start, body = sent
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body["body"]


def test_the_tag_is_at_most_5_kb_gzipped() -> None:
    size = len(gzip.compress(TAG.read_bytes(), 9))
    assert size <= 5 * 1024, f"t.js is {size} bytes gzipped; the budget is 5120"


def test_served_plain_with_a_strong_etag_and_short_caching() -> None:
    status, headers, body = get(TagScript.load(), {})
    assert status == 200 and body == TAG.read_bytes()
    assert headers["content-type"].startswith("application/javascript")
    assert headers["cache-control"] == "public, max-age=300"
    assert headers["etag"].startswith('"') and not headers["etag"].startswith("W/")
    assert "content-encoding" not in headers and headers["vary"] == "accept-encoding"


def test_gzip_when_accepted_with_its_own_etag() -> None:
    tag = TagScript.load()
    status, headers, body = get(tag, {"accept-encoding": "br, gzip, deflate"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == TAG.read_bytes()
    assert int(headers["content-length"]) == len(body) <= 5 * 1024
    assert headers["etag"] != get(tag, {})[1]["etag"]


@pytest.mark.parametrize("accept", ["", "gzip"])
def test_if_none_match_answers_304_without_a_body(accept: str) -> None:
    tag = TagScript.load()
    etag = get(tag, {"accept-encoding": accept})[1]["etag"]
    status, headers, body = get(tag, {"accept-encoding": accept, "if-none-match": etag})
    assert status == 304 and body == b"" and headers["etag"] == etag
    assert get(tag, {"accept-encoding": accept, "if-none-match": '"other"'})[0] == 200


def test_a_versioned_url_is_cached_for_long() -> None:
    tag = TagScript.load()
    headers = get(tag, {}, query=f"v={tag.version}".encode())[1]
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert tag.version in headers["etag"]


def test_head_has_headers_only() -> None:
    status, headers, body = get(TagScript.load(), {}, method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_pure_tag_functions_under_node() -> None:
    here = Path(__file__).with_name("tag.test.js")
    done = subprocess.run(
        ["node", "--test", str(here)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
