"""Fuzzing both APIs, driven by the beacon's own served OpenAPI document: never a 5xx.

Hypothesis builds requests for every operation of /openapi.json (each parameter from its
schema, plus hostile text, unknown parameters and arbitrary JSON bodies) and sends them over
loopback to the real app on a real, loaded PostgreSQL. Every answer must be below 500, JSON,
and carry an error code when it is a 4xx. The default run is small; the ``slow`` one is large.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon.web import create_app
from tests.beacon.querydata import load
from tests.beacon.webutil import settings as beacon_settings

HOSTILE = st.sampled_from(
    ["", " ", "-1", "1e9", "NaN", "null", "[]", "{}", "0x10", "99999999999999999999999",
     "chr17", "NC_000017.11", "GRCh38", "A" * 20_000, "N", "ACGTN", "<DEL>", "'; drop table",
     "\x00", "é", "%", "1,2", "1,2,3", ",", "17:g.1A>G", "NC_000017.11:g.43045712T>C"]
)  # fmt: skip
TEXT = st.one_of(HOSTILE, st.text(max_size=40))


class ServerThread:
    """The real app served by its own event loop in a thread (so Hypothesis can stay sync)."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(self.site.start())
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[ServerThread]:
    await load(database_url, tmp_path)
    thread = await asyncio.to_thread(
        ServerThread, create_app(beacon_settings(max_body_bytes=8192), dsn=database_url)
    )
    yield thread
    await asyncio.to_thread(thread.stop)


def _call(url: str, method: str, body: bytes | None = None) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def _value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "enum" in schema:
        return st.one_of(st.sampled_from([str(v) for v in schema["enum"]]), TEXT)
    if schema.get("type") == "integer":
        return st.one_of(st.integers(-5, 10**11).map(str), TEXT)
    if schema.get("type") == "array":
        items = st.lists(st.integers(-5, 10**11).map(str) | TEXT, min_size=0, max_size=3)
        return st.one_of(items.map(",".join), TEXT)
    return TEXT


def _operations(document: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    ops = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            ops.append((method.upper(), path, op.get("parameters", [])))
    return ops


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
PARAMETER_NAMES = st.sampled_from(
    ["referenceName", "start", "end", "referenceBases", "alternateBases", "variantType",
     "assemblyId", "geneId", "allele", "mateName", "variantMinLength", "variantMaxLength"]
)  # fmt: skip
BODY = st.one_of(
    JSON,
    st.fixed_dictionaries({
        "meta": st.just({"apiVersion": "v2.0.0"}),
        "query": st.fixed_dictionaries({
            "requestParameters": st.dictionaries(PARAMETER_NAMES, JSON, max_size=6),
            "requestedGranularity": st.sampled_from(["boolean", "count", "record"]) | TEXT,
            "pagination": st.dictionaries(st.sampled_from(["skip", "limit"]), JSON),
        }),
    }),
)  # fmt: skip


def _fuzz(server: ServerThread, examples: int) -> None:
    status, raw, _ = _call(server.url + "/openapi.json", "GET")
    assert status == 200
    operations = _operations(json.loads(raw))

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[str, str, bytes | None]:
        method, path, parameters = draw(st.sampled_from(operations))
        query: dict[str, str] = {}
        for parameter in parameters:
            value = draw(_value(parameter["schema"]))
            if parameter["in"] == "path":
                path = path.replace(
                    "{" + parameter["name"] + "}", urllib.parse.quote(value, safe="") or "x"
                )
            elif draw(st.booleans()):
                query[parameter["name"]] = value
        if draw(st.integers(0, 9)) == 0:
            query[draw(st.text(min_size=1, max_size=10))] = draw(TEXT)
        body = None
        if method == "POST":
            body = (
                json.dumps(draw(BODY)).encode()
                if draw(st.integers(0, 9))
                else draw(st.binary(max_size=64))
            )
        url = server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        return method, url, body

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests())
    def check(request: tuple[str, str, bytes | None]) -> None:
        method, url, body = request
        status, raw, content_type = _call(url, method, body)
        assert status < 500, (method, url, body, raw[:500])
        if urllib.parse.urlsplit(url).path == "/metrics":
            return
        if len(url) > 8000 and not content_type.startswith("application/json"):
            # a request line over aiohttp's 8 KiB limit is refused by the HTTP parser itself,
            # before any handler runs: a plain-text 400, never a 5xx
            assert status == 400
            return
        assert content_type.startswith("application/json"), (url, content_type)
        document = json.loads(raw)
        if status >= 400:
            assert document["error"]["errorCode"] == status

    check()  # fmt: skip


def test_fuzz_against_openapi(server: ServerThread) -> None:
    _fuzz(server, examples=150)


@pytest.mark.slow
def test_fuzz_against_openapi_long(server: ServerThread) -> None:
    _fuzz(server, examples=5000)


def test_operations_cover_every_route(server: ServerThread) -> None:
    _, raw, _ = _call(server.url + "/openapi.json", "GET")
    paths = {path for _, path, _ in _operations(json.loads(raw))}
    for required in (
        "/g_variants",
        "/g_variants/{id}",
        "/datasets/{id}/g_variants",
        "/api/v1/query",
    ):
        assert required in paths
