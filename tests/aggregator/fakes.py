"""Fake remote beacons on loopback: the misbehaving members we do not own.

:func:`fake_member_app` is a small Beacon v2 (or v1.1) server whose ``g_variants`` answer is
chosen per test: a normal answer, or slow, hung, 500, garbage, oversized, ``"exists": "yes"``,
401. Every request it receives is recorded (path, query, headers) so tests can check what
the aggregator sent. A hung handler waits on ``release`` (set at teardown), so servers stop
promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

API = "v2.0.0"


@dataclass
class Behaviour:
    """What a fake member does when asked a query."""

    kind: str = "ok"  # ok | slow | hang | 500 | garbage | oversized | exists_yes | 401
    exists: bool = True
    count: int | None = 3
    delay_s: float = 0.0
    datasets: tuple[tuple[str, str], ...] = (("ds1", "GRCh38"),)
    """(dataset id, assembly) pairs the member holds."""
    partial: bool | None = None
    """Pretend to be an aggregator: state ``info.beaconNetwork`` (exists from ``exists``)."""
    network_exists: bool | None = None
    hang_calls: frozenset[int] = frozenset()
    """Numbers (1-based) of the query calls that hang whatever ``kind`` says."""


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class FakeMember:
    beacon_id: str
    behaviour: Behaviour
    release: asyncio.Event
    api: str = "v2"
    calls: list[Recorded] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def queries(self) -> list[Recorded]:
        return [c for c in self.calls if c.path in ("/g_variants", "/query")]


def _meta(beacon_id: str) -> dict[str, Any]:
    return {"beaconId": beacon_id, "apiVersion": API, "returnedSchemas": []}


def info_doc(beacon_id: str) -> dict[str, Any]:
    return {
        "meta": _meta(beacon_id),
        "response": {
            "id": beacon_id,
            "name": f"Fake {beacon_id}",
            "apiVersion": API,
            "environment": "test",
            "organization": {"id": "org.fake", "name": "Fake organisation"},
        },
    }


def configuration_doc(beacon_id: str) -> dict[str, Any]:
    return {
        "meta": _meta(beacon_id),
        "response": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "maturityAttributes": {"productionStatus": "TEST"},
            "entryTypes": {
                "genomicVariation": {
                    "id": "genomicVariation",
                    "name": "Genomic variation",
                    "partOfSpecification": "Beacon v2.0.0",
                    "defaultSchema": {
                        "id": "ga4gh-beacon-variant-v2.0.0",
                        "name": "variant",
                        "referenceToSchemaDefinition": "./genomicVariations/defaultSchema.json",
                    },
                }
            },
        },
    }


def map_doc(beacon_id: str, base: str) -> dict[str, Any]:
    return {
        "meta": _meta(beacon_id),
        "response": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "endpointSets": {
                "genomicVariation": {
                    "entryType": "genomicVariation",
                    "rootUrl": base + "/g_variants",
                },
                "dataset": {"entryType": "dataset", "rootUrl": base + "/datasets"},
            },
        },
    }


def answer_doc(beacon_id: str, b: Behaviour) -> dict[str, Any]:
    summary: dict[str, Any] = {"exists": b.exists}
    if b.count is not None:
        summary["numTotalResults"] = b.count if b.exists else 0
    sets = [
        {
            "id": ds,
            "setType": "dataset",
            "exists": b.exists,
            "resultsCount": (b.count or 0) if b.exists else 0,
            "results": [],
            "info": {"alleleCount": 2, "alleleNumber": 100},
        }
        for ds, _ in b.datasets
    ]
    doc: dict[str, Any] = {
        "meta": {**_meta(beacon_id), "returnedGranularity": "count"},
        "responseSummary": summary,
        "response": {"resultSets": sets if b.exists else []},
    }
    if b.partial is not None:
        doc["info"] = {"beaconNetwork": {"exists": b.network_exists, "partial": b.partial}}
    return doc


def fake_member_app(member: FakeMember) -> web.Application:
    app = web.Application()

    async def record(request: web.Request) -> None:
        body = await request.read()
        member.calls.append(
            Recorded(
                request.path,
                dict(request.query),
                dict(request.headers),
                orjson.loads(body) if body else None,
            )
        )

    async def info(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response(info_doc(member.beacon_id))

    async def configuration(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response(configuration_doc(member.beacon_id))

    async def beacon_map(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response(map_doc(member.beacon_id, member.url))

    async def datasets(request: web.Request) -> web.Response:
        await record(request)
        collections = [
            {"id": ds, "name": f"Dataset {ds}", "info": {"assemblyId": asm}}
            for ds, asm in member.behaviour.datasets
        ]
        return web.json_response(
            {
                "meta": _meta(member.beacon_id),
                "responseSummary": {"exists": True, "numTotalResults": len(collections)},
                "response": {"collections": collections},
            }
        )

    async def g_variants(request: web.Request) -> web.StreamResponse:
        await record(request)
        b = member.behaviour
        if b.kind == "hang" or len(member.queries()) in b.hang_calls:
            await member.release.wait()
        if b.kind == "slow" or b.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(member.release.wait(), timeout=b.delay_s)
        if b.kind == "500":
            return web.Response(status=500, text="Internal Server Error")
        if b.kind == "401":
            return web.json_response(
                {
                    "meta": _meta(member.beacon_id),
                    "error": {"errorCode": 401, "errorMessage": "no"},
                },
                status=401,
            )
        if b.kind == "garbage":
            return web.Response(body=b"<html>oops</html>", content_type="application/json")
        if b.kind == "oversized":
            doc = answer_doc(member.beacon_id, b)
            doc["padding"] = "x" * (8 * 1024 * 1024)
            return web.Response(body=orjson.dumps(doc), content_type="application/json")
        doc = answer_doc(member.beacon_id, b)
        if b.kind == "exists_yes":
            doc["responseSummary"]["exists"] = "yes"
        return web.Response(body=orjson.dumps(doc), content_type="application/json")

    async def v1_info(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response(
            {
                "id": member.beacon_id,
                "name": f"Fake v1 {member.beacon_id}",
                "apiVersion": "v1.1.0",
                "organization": {"id": "org.fake", "name": "Fake"},
                "datasets": [
                    {"id": ds, "name": ds, "assemblyId": asm}
                    for ds, asm in member.behaviour.datasets
                ],
            }
        )

    async def v1_query(request: web.Request) -> web.Response:
        await record(request)
        b = member.behaviour
        return web.json_response(
            {
                "beaconId": member.beacon_id,
                "apiVersion": "v1.1.0",
                "exists": b.exists,
                "alleleRequest": dict(request.query),
                "datasetAlleleResponses": [
                    {
                        "datasetId": ds,
                        "exists": b.exists,
                        "variantCount": b.count,
                        "frequency": 0.02,
                    }
                    for ds, _ in b.datasets
                ]
                if b.exists
                else [],
            }
        )

    if member.api == "v1":
        app.router.add_get("/", v1_info)
        app.router.add_get("/query", v1_query)
    else:
        app.router.add_get("/info", info)
        app.router.add_get("/configuration", configuration)
        app.router.add_get("/map", beacon_map)
        app.router.add_get("/datasets", datasets)
        app.router.add_get("/g_variants", g_variants)
        app.router.add_post("/g_variants", g_variants)
    return app


async def start_fake(
    beacon_id: str, behaviour: Behaviour | None = None, *, api: str = "v2"
) -> FakeMember:
    member = FakeMember(beacon_id, behaviour or Behaviour(), asyncio.Event(), api=api)
    server = TestServer(fake_member_app(member), host="127.0.0.1")
    await server.start_server()
    member.server = server
    return member


def refused_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
