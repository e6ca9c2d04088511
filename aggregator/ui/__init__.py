"""The clinicians' web page, served by the aggregator: static HTML, CSS and JavaScript.

No build step and nothing fetched from elsewhere: the files under ``pages/`` and ``static/``
are served as they are. The page talks to the aggregator's own ``/g_variants/stream`` and
``/api/members`` (contract in ``docs/ui.md``).

Routes added by :func:`add_routes`:

* ``GET /ui/{file}`` the page's scripts and style sheet;
* ``GET /search`` the search page, always (``/?q=...`` works the same where the app's ``/``
  hands browsers :func:`search_page`);
* ``GET /network`` the network page for browsers (:func:`wants_html`); other clients are sent
  to ``/api/members`` (303).

The app's own ``/`` handler decides between the page and the Beacon info JSON::

    if ui.wants_html(request):
        return await ui.search_page(request)
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

_HERE: Final = Path(__file__).resolve().parent
PAGES_DIR: Final = _HERE / "pages"
STATIC_DIR: Final = _HERE / "static"
STATIC_PREFIX: Final = "/ui"

# The page loads only its own files and talks only to its own origin. Handover links open
# elsewhere, which a Content-Security-Policy does not restrict.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """``(type/subtype, q)`` pairs of an Accept header; malformed q-values count as 0."""
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        ranges.append((media, q))
    return ranges


def _quality(ranges: list[tuple[str, float]], media: str) -> float:
    """The q-value the most specific matching range gives ``media`` (0 when none matches)."""
    main = media.partition("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for candidate, q in ranges:
        if candidate == media:
            specificity = 2
        elif candidate == f"{main}/*":
            specificity = 1
        elif candidate == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def prefers_html(accept: str | None) -> bool:
    """True when an Accept header ranks ``text/html`` above ``application/json``.

    Pure. A tie (``*/*``, no header) goes to JSON, so API clients such as curl keep getting
    the Beacon answer; browsers, which name ``text/html`` first, get the page.
    """
    if not accept:
        return False
    ranges = _media_ranges(accept)
    html = _quality(ranges, "text/html")
    return html > 0 and html > _quality(ranges, "application/json")


def wants_html(request: web.BaseRequest) -> bool:
    """True when the client prefers the web page to JSON (see :func:`prefers_html`)."""
    return prefers_html(request.headers.get("Accept"))


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(PAGES_DIR / name, headers=_PAGE_HEADERS)


async def search_page(request: web.Request) -> web.StreamResponse:
    """The search page (``pages/index.html``); its query lives in the URL's query string."""
    return _page("index.html")


async def network_page(request: web.Request) -> web.StreamResponse:
    """The network page for browsers; other clients are redirected to ``/api/members``."""
    if not wants_html(request):
        raise web.HTTPSeeOther("/api/members")
    return _page("network.html")


STATIC_FILES: Final = frozenset(p.name for p in STATIC_DIR.iterdir() if p.is_file())
"""The page's own files, the only names served under :data:`STATIC_PREFIX` (one folder)."""


async def static_file(request: web.Request) -> web.StreamResponse:
    """One of :data:`STATIC_FILES`; any other name is a 404 (raised, so that the app's error
    middleware answers it in the Beacon error shape)."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC_DIR / name)


def add_routes(app: web.Application) -> None:
    """Register the page's routes on ``app`` (see the module docstring). Adds no middleware."""
    app.router.add_get("/search", search_page, name="ui-search")
    app.router.add_get("/network", network_page, name="ui-network")
    app.router.add_get(STATIC_PREFIX + "/{name}", static_file, name="ui-static")
