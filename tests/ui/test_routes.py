"""The page's routes and content negotiation, over real HTTP (no browser needed)."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from aggregator import ui
from tests.ui.servers import serving

CHROME_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (CHROME_ACCEPT, True),
        (FIREFOX_ACCEPT, True),
        ("text/html", True),
        ("text/*", True),
        (None, False),  # no header: an API client
        ("", False),
        ("*/*", False),  # curl: a tie goes to JSON
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.5, application/json", False),
        ("text/html, application/json", False),  # tie
        ("text/html;q=0", False),
        ("text/html;q=abc, */*;q=0.1", False),  # malformed q counts as 0
        ("application/ld+json, text/html;q=0.9", True),
    ],
)
def test_prefers_html(accept: str | None, html: bool) -> None:
    assert ui.prefers_html(accept) is html


async def test_routes_serve_the_pages_and_their_files() -> None:
    app = web.Application()
    ui.add_routes(app)
    async with (
        serving(app) as base,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        async with http.get(f"{base}/search", headers={"Accept": "application/json"}) as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert 'id="q"' in await r.text()
        async with http.get(f"{base}/network", headers={"Accept": CHROME_ACCEPT}) as r:
            assert r.status == 200
            assert 'id="members"' in await r.text()
        async with http.get(
            f"{base}/network", headers={"Accept": "application/json"}, allow_redirects=False
        ) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/api/members"
        for name, kind in [
            ("query.js", "javascript"),
            ("search.js", "javascript"),
            ("network.js", "javascript"),
            ("words.js", "javascript"),
            ("dom.js", "javascript"),
            ("style.css", "text/css"),
        ]:
            async with http.get(f"{base}/ui/{name}") as r:
                assert r.status == 200, name
                assert kind in r.content_type, (name, r.content_type)
        async with http.get(f"{base}/ui/../__init__.py") as r:
            assert r.status in (403, 404)
        async with http.get(f"{base}/ui/") as r:
            assert r.status in (403, 404)


def test_every_file_a_page_names_exists() -> None:
    import re

    for page in ui.PAGES_DIR.glob("*.html"):
        for ref in re.findall(r'(?:src|href)="/ui/([^"]+)"', page.read_text()):
            assert (ui.STATIC_DIR / ref).is_file(), (page.name, ref)
    for script in ui.STATIC_DIR.glob("*.js"):
        for ref in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (ui.STATIC_DIR / ref).is_file(), (script.name, ref)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("text", "background"),
        ("muted", "background"),
        ("muted", "surface"),
        ("accent", "background"),
        ("accent-dark", "surface"),
        ("error", "error-bg"),
        ("yes-fg", "yes-bg"),
        ("no-fg", "no-bg"),
        ("unknown-fg", "unknown-bg"),
        ("na-fg", "na-bg"),
    ],
)
def test_text_colours_meet_wcag_aa_contrast(text: str, background: str) -> None:
    import re

    css = (ui.STATIC_DIR / "style.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    assert _contrast(colours[text], colours[background]) >= 4.5
