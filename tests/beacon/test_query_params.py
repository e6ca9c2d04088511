"""beacon.web.query_params: the direct split of a plain query string agrees with aiohttp's
decoding of every query string the server's own HTTP parser lets through."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.http_parser import HttpRequestParser
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from beacon.web import query_params

_BASE = make_mocked_request("GET", "/")
PIECES = ["a", "b", "start", "=", "&", "%2C", "%C3%A9", "%", "%zz", "+", ";", ",", "1", "-", "#"]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _request(loop: asyncio.AbstractEventLoop, query: str) -> web.Request | None:
    """A request for ``/g_variants?{query}`` as the server reads it (its HTTP parser builds
    the URL); ``None`` when the parser itself refuses the request line (a 400 before any
    handler)."""
    parser = HttpRequestParser(mock.Mock(), loop, 2**16)
    line = f"GET /g_variants?{query} HTTP/1.1\r\nHost: beacon\r\n\r\n"
    try:
        messages, _, _ = parser.feed_data(line.encode())
    except BadHttpMessage:
        return None
    return _BASE.clone(rel_url=messages[0][0].url)


def _by_aiohttp(request: web.Request) -> dict[str, str]:
    """What query_params promises: request.query, repeated keys joined with commas."""
    joined: dict[str, str] = {}
    for key, value in request.query.items():
        joined[key] = value if key not in joined else f"{joined[key]},{value}"
    return joined


@settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
@example("referenceName=1&start=10198&referenceBases=G&alternateBases=A")
@example("start=1&start=2")
@example("a=&b")
@example("a=b=c&&d=1")
@example("a=%2C&b=+")
@example("")
def test_agrees_with_aiohttp(loop: asyncio.AbstractEventLoop, query: str) -> None:
    request = _request(loop, query)
    assume(request is not None)
    assert request is not None
    assert query_params(request) == _by_aiohttp(request)


def test_the_usual_query_is_split_directly(loop: asyncio.AbstractEventLoop) -> None:
    request = _request(loop, "referenceName=1&start=5&assemblyId=GRCh38")
    assert request is not None
    with mock.patch.object(type(request), "query", new_callable=mock.PropertyMock) as query:
        got = query_params(request)
    assert got == {"referenceName": "1", "start": "5", "assemblyId": "GRCh38"}
    query.assert_not_called()
    for query, expected in [
        ("start=1&start=2", {"start": "1,2"}),
        ("referenceBases=%41", {"referenceBases": "A"}),
        ("a=+1", {"a": " 1"}),
        ("a&b=2", {"a": "", "b": "2"}),
    ]:
        other = _request(loop, query)
        assert other is not None
        assert query_params(other) == expected
