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


async def test_v1_bounds_as_the_vcf_wrote_them(client: TestClient) -> None:
    # v1 beacons store an allele from its VCF position: the padding base before an indel or
    # a symbolic allele. Bounds read that way find it, and so do the trimmed bounds.
    base = {"referenceName": "17", "assemblyId": "GRCh38"}

    async def exists(**params: str) -> bool:
        return bool((await _query(client, **base, **params))["exists"])

    # chr17:43045800 CAG>C: VCF [43045799, 43045802), stored (trimmed) AG at [43045800, ..802)
    assert await exists(start="43045799", end="43045802", referenceBases="CAG", alternateBases="C")
    assert await exists(start="43045799", end="43045802", referenceBases="N", variantType="DEL")
    assert await exists(start="43045799", end="43045802", referenceBases="CAG", variantType="DEL")
    assert await exists(start="43045800", end="43045802", referenceBases="AG", variantType="DEL")
    assert not await exists(start="43045799", end="43045801", referenceBases="N", variantType="DEL")
    assert not await exists(
        start="43045799", end="43045802", referenceBases="CAT", variantType="DEL"
    )
    assert not await exists(
        start="43045799", end="43045802", referenceBases="CAG", variantType="INS"
    )
    bracket = {"startMin": "43045799", "startMax": "43045799", "endMin": "43045802"}
    assert await exists(**bracket, endMax="43045802", referenceBases="N", variantType="DEL")
    assert not await exists(**bracket, endMax="43045802", referenceBases="N", variantType="SNP")
    # the <DEL> at POS 43050000 (END 43060000), asked from its padding base
    assert await exists(start="43049999", end="43060000", referenceBases="N", variantType="DEL")
    assert await exists(start="43049999", referenceBases="N", variantType="DEL")
    assert not await exists(start="43049998", referenceBases="N", variantType="DEL")
    assert not await exists(start="43049999", end="43059999", referenceBases="N", variantType="DEL")
    # v2 keeps the stored (trimmed) reading of a bracket
    v2 = await client.get("/g_variants", params={**base, "start": "43045799,43045799",
                                                 "end": "43045802,43045802"})  # fmt: skip
    assert (await v2.json())["responseSummary"]["exists"] is False


async def test_v1_mate_name(client: TestClient) -> None:
    # chr17:43080000 G]chr13:123456]: the breakend base at 0-based 43079999, its mate on 13 at
    # 0-based 123455. v1.1 asks by mateName, with the mate's position in end.
    bnd = {"referenceName": "17", "assemblyId": "GRCh38", "start": "43079999",
           "referenceBases": "G", "variantType": "BND"}  # fmt: skip
    body = await _query(client, **bnd, mateName="13")
    assert body["exists"] is True
    assert body["alleleRequest"]["mateName"] == "13"
    assert (await _query(client, **bnd, mateName="chr13", end="123455"))["exists"] is True
    assert (await _query(client, **bnd, mateName="13", end="123456"))["exists"] is False
    assert (await _query(client, **bnd, mateName="14"))["exists"] is False
    # a breakend ALT is not a base sequence: with a mate named, the alternate is not compared
    assert (await _query(client, **bnd, mateName="13", alternateBases="G"))["exists"] is True


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
        ({**V1_SNP, "end": "43045713"}, "end"),  # not start + len(REF)
        ({**V1_SNP, "mateName": "13", "end": "x"}, "end"),
        ({**V1_SNP, "mateName": "13", "end": "-1"}, "end"),
        ({**V1_SNP, "mateName": "\x00"}, "mateName"),
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
