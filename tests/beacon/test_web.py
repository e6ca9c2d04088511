"""The beacon's HTTP API on a real PostgreSQL: framework endpoints, errors, operations."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from tests.beacon.webutil import beacon_client

FRAMEWORK = ["/", "/info", "/service-info", "/configuration", "/map", "/entry_types",
             "/filtering_terms", "/datasets", "/openapi.json", "/api/v1"]  # fmt: skip


async def test_framework_endpoints_answer(database_url: str) -> None:
    async with beacon_client(database_url) as client:
        for path in FRAMEWORK:
            response = await client.get(path)
            assert response.status == 200, path
            assert response.content_type == "application/json"
            body = await response.json()
            assert body, path
        info = await (await client.get("/info")).json()
        assert info["response"]["id"] == "org.test.beacon"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("referenceName=1&start=abc&alternateBases=T", "start"),
        ("referenceName=chrQ&start=5&alternateBases=T", "referenceName"),
        ("start=5&alternateBases=T", "referenceName"),
        ("referenceName=1&start=5&alternateBases=X", "alternateBases"),
        ("referenceName=1&start=5&end=3", "end"),
        ("referenceName=1&start=5&end=9&requestedGranularity=everything", "requestedGranularity"),
        ("referenceName=1&start=5&end=9&limit=-1", "limit"),
        ("referenceName=1&start=5&end=9&variantType=WOBBLE", "variantType"),
        ("referenceName=1&start=5&end=9&assemblyId=hg99", "assemblyId"),
        ("referenceName=1&start=1,2,3&end=9", "start"),
        ("referenceName=1&start=5&end=9&frobnicate=1", "frobnicate"),
        ("referenceName=1&start=5&end=9&datasetIds=nope", "datasetIds"),
        ("allele=NC_000017.11:g.12X>Y", "genomicAlleleShortForm"),
    ],
)
async def test_bad_input_is_a_400_naming_the_parameter(
    database_url: str, query: str, parameter: str
) -> None:
    async with beacon_client(database_url) as client:
        response = await client.get(f"/g_variants?{query}")
        assert response.status == 400
        body = await response.json()
        assert body["error"]["errorCode"] == 400
        assert body["error"]["parameter"] == parameter
        assert parameter in body["error"]["errorMessage"]


async def test_bad_json_body_is_a_400(database_url: str) -> None:
    async with beacon_client(database_url) as client:
        response = await client.post("/g_variants", data=b"{not json")
        assert response.status == 400
        assert (await response.json())["error"]["parameter"] == "body"
        response = await client.post("/g_variants", json=[1, 2])
        assert response.status == 400


async def test_unknown_path_is_404_and_wrong_method_405(database_url: str) -> None:
    async with beacon_client(database_url) as client:
        response = await client.get("/no/such/path")
        assert response.status == 404
        assert (await response.json())["error"]["errorCode"] == 404
        response = await client.delete("/g_variants")
        assert response.status == 405
        assert (await response.json())["error"]["errorCode"] == 405
        assert response.headers["Allow"] == "GET, HEAD, POST"
        response = await client.put("/g_variants/1-6-A-T")
        assert response.status == 405
        assert response.headers["Allow"] == "GET, HEAD, POST"
        response = await client.get("/datasets/missing")
        assert response.status == 404
        response = await client.get("/api/v1/nothing")
        assert response.status == 404
        assert (await response.json())["error"]["errorCode"] == 404  # a v1 error document
        response = await client.get("/api/v1")
        assert response.status == 200
        text = await (await client.get("/metrics")).text()
        assert 'endpoint="unmatched",method="GET",status="404"' in text
        assert 'endpoint="unmatched",method="DELETE",status="405"' in text
        assert "/no/such/path" not in text
        assert "{tail" not in text


async def test_head_is_served_wherever_get_is(database_url: str) -> None:
    async with beacon_client(database_url) as client:
        for path in ("/", "/info", "/service-info", "/datasets", "/health", "/openapi.json"):
            got = await client.get(path)
            head = await client.head(path)
            assert head.status == got.status == 200, path
            assert head.headers["Content-Type"] == got.headers["Content-Type"], path
            assert await head.read() == b"", path
        assert (await client.head("/g_variants", params={"start": "x"})).status == 400


async def test_oversized_body_is_413(database_url: str) -> None:
    async with beacon_client(database_url, max_body_bytes=1024) as client:
        response = await client.post("/g_variants", data=b"{" + b" " * 4096 + b"}")
        assert response.status == 413
        assert (await response.json())["error"]["errorCode"] == 413


async def test_dead_database_gives_503(unused_tcp_port: int) -> None:
    dead = f"postgresql://beacon@127.0.0.1:{unused_tcp_port}/beacon"
    async with beacon_client(dead) as client:
        response = await client.get("/g_variants?referenceName=1&start=5&alternateBases=T")
        assert response.status == 503
        body = await response.json()
        assert "unavailable" in body["error"]["errorMessage"]
        assert (await client.get("/health")).status == 503
        # Input errors are still reported as such while the store is down.
        assert (await client.get("/g_variants?referenceName=1&start=x")).status == 400


async def test_terminated_connections_give_503_then_recover(
    database_url: str, pg_admin_dsn: str
) -> None:
    async with beacon_client(database_url, db_pool_min=1, db_pool_max=2) as client:
        query = "/g_variants?referenceName=1&start=5&alternateBases=T"
        assert (await client.get(query)).status == 200
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            database = database_url.rsplit("/", 1)[1].split("?", maxsplit=1)[0]
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        statuses = [(await client.get(query)).status for _ in range(3)]
        assert set(statuses) <= {200, 503}
        assert statuses[-1] == 200


async def test_health_metrics_and_cors(database_url: str) -> None:
    async with beacon_client(database_url) as client:
        assert (await client.get("/health")).status == 200
        await client.get("/g_variants?referenceName=1&start=5&alternateBases=T")
        await client.get("/g_variants/1-6-A-T")
        text = await (await client.get("/metrics")).text()
        assert 'endpoint="/g_variants",method="GET",status="200"' in text
        assert 'endpoint="/g_variants/{id}"' in text
        assert "1-6-A-T" not in text
        assert "beacon_request_duration_seconds_bucket" in text
        assert "beacon_exact_index_alleles{" in text
        assert "beacon_exact_index_builds_total{" in text
        response = await client.get("/info", headers={"Origin": "https://example.org"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        response = await client.options(
            "/g_variants",
            headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
        )
        assert response.status == 204
        assert "POST" in response.headers["Access-Control-Allow-Methods"]


async def test_post_body_shape_is_checked_against_the_request_schema(database_url: str) -> None:
    async with beacon_client(database_url) as client:
        body = {"query": {"pagination": {"skip": [1]}}}
        response = await client.post("/g_variants", json=body)
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["parameter"] == "query.pagination.skip"
        response = await client.post("/g_variants", json={"query": {"requestParameters": 7}})
        assert (await response.json())["error"]["parameter"] == "query.requestParameters"


async def test_access_log_keeps_alleles_out_above_debug(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with beacon_client(database_url) as client:
        with caplog.at_level(logging.INFO, logger="beacon.access"):
            await client.get("/g_variants?referenceName=1&start=5&alternateBases=GATTACA")
            await client.get("/g_variants/1-6-A-GATTACA")
        info = [r.getMessage() for r in caplog.records if r.name == "beacon.access"]
        assert any("/g_variants/{id}" in line for line in info)
        assert not any("GATTACA" in line for line in info)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="beacon.access"):
            await client.get("/g_variants?referenceName=1&start=5&alternateBases=GATTACA")
        assert any("GATTACA" in r.getMessage() for r in caplog.records)
