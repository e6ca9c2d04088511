"""Beacon v1.1 under /api/v1 with v1 semantics, on a real load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from beacon.model import DisclosurePolicy, Granularity
from beacon.policy import CountMode
from tests.beacon.querydata import load
from tests.beacon.webutil import beacon_client

V1_SNP = {
    "referenceName": "17",
    "start": "43045711",
    "referenceBases": "T",
    "alternateBases": "C",
    "assemblyId": "GRCh38",
}


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> Any:
    await load(database_url, tmp_path, "ds1")
    await load(database_url, tmp_path, "ds2", records=[
        "chr17\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\t0/0"])  # fmt: skip
    count_only = DisclosurePolicy(
        anonymous=Granularity.COUNT,
        registered=Granularity.COUNT,
        controlled=Granularity.RECORD,
        count_mode=CountMode.EXACT,
        public_min_carriers=0,
    )
    await load(database_url, tmp_path, "ds3", policy=count_only)
    await load(database_url, tmp_path, "ds4", policy=DisclosurePolicy(public_min_carriers=0))
    async with beacon_client(database_url) as c:
        yield c


async def _query(client: TestClient, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/query", params=params)
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def test_info_document(client: TestClient) -> None:
    body = await (await client.get("/api/v1")).json()
    assert body["apiVersion"] == "v1.1.0"
    assert [d["id"] for d in body["datasets"]] == ["ds1", "ds2", "ds3", "ds4"]
    ds1 = body["datasets"][0]
    assert (ds1["assemblyId"], ds1["sampleCount"]) == ("GRCh38", 4)
    assert body["sampleAlleleRequests"]


async def test_allele_query_counts(client: TestClient) -> None:
    body = await _query(client, **V1_SNP, includeDatasetResponses="ALL")
    assert body["exists"] is True
    assert body["error"] is None
    assert body["alleleRequest"]["start"] == 43045711
    by_id = {d["datasetId"]: d for d in body["datasetAlleleResponses"]}
    ds1 = by_id["ds1"]
    assert ds1["exists"] is True
    assert (ds1["variantCount"], ds1["callCount"], ds1["sampleCount"]) == (1, 8, 2)
    assert ds1["frequency"] == pytest.approx(0.375)
    assert by_id["ds2"]["exists"] is False
    assert by_id["ds2"]["variantCount"] == 0
    assert by_id["ds3"]["sampleCount"] == 2
    # a dataset whose policy allows existence only gives no counts
    assert by_id["ds4"]["exists"] is True
    assert by_id["ds4"]["sampleCount"] is None
    assert by_id["ds4"]["frequency"] is None
    hits = await _query(client, **V1_SNP, includeDatasetResponses="HIT")
    assert sorted(d["datasetId"] for d in hits["datasetAlleleResponses"]) == ["ds1", "ds3", "ds4"]
    misses = await _query(client, **V1_SNP, includeDatasetResponses="MISS")
    assert [d["datasetId"] for d in misses["datasetAlleleResponses"]] == ["ds2"]
    none = await _query(client, **V1_SNP)
    assert none["datasetAlleleResponses"] is None


async def test_v1_semantics(client: TestClient) -> None:
    assert not (await _query(client, **{**V1_SNP, "alternateBases": "G"}))["exists"]
    assert (await _query(client, **{**V1_SNP, "referenceBases": "N"}))["exists"]
    base = {"referenceName": "17", "referenceBases": "N", "assemblyId": "GRCh38"}
    # bracket (startMin..endMax) with a variant type
    bracket = {"startMin": "43049990", "startMax": "43050010", "endMin": "43059990",
               "endMax": "43060010"}  # fmt: skip
    assert (await _query(client, **base, **bracket, variantType="DEL"))["exists"]
    assert not (await _query(client, **base, **bracket, variantType="DUP"))["exists"]
    # precise start and end
    assert (await _query(client, **base, start="43050000", end="43060000", variantType="DEL"))[
        "exists"
    ]
    assert not (await _query(client, **base, start="43050000", end="43060001", variantType="DEL"))[
        "exists"
    ]
    # start with a variant type only: alleles of that type starting there
    assert (await _query(client, **base, start="43070000", variantType="DUP"))["exists"]
    # the datasets asked for
    body = await _query(client, **V1_SNP, datasetIds="ds2", includeDatasetResponses="ALL")
    assert body["exists"] is False
    assert [d["datasetId"] for d in body["datasetAlleleResponses"]] == ["ds2"]
    # POST with the same parameters, numbers as numbers
    response = await client.post(
        "/api/v1/query", json={**V1_SNP, "start": 43045711, "datasetIds": ["ds1"]}
    )
    assert (await response.json())["exists"] is True


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({k: v for k, v in V1_SNP.items() if k != "referenceBases"}, "referenceBases"),
        ({k: v for k, v in V1_SNP.items() if k != "assemblyId"}, "assemblyId"),
        ({k: v for k, v in V1_SNP.items() if k != "alternateBases"}, "alternateBases"),
        ({**V1_SNP, "start": "abc"}, "start"),
        ({**V1_SNP, "includeDatasetResponses": "SOME"}, "includeDatasetResponses"),
        ({**V1_SNP, "startMin": "5"}, "startMax"),
        ({**V1_SNP, "wobble": "1"}, "wobble"),
    ],
)
async def test_v1_errors(client: TestClient, params: dict[str, str], parameter: str) -> None:
    response = await client.get("/api/v1/query", params=params)
    assert response.status == 400
    body = await response.json()
    assert body["exists"] is None
    assert body["apiVersion"] == "v1.1.0"
    assert body["error"]["errorCode"] == 400
    assert body["error"]["parameter"] == parameter
