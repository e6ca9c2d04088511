"""Genomic query semantics end to end: real VCF load, real PostgreSQL, real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from beacon.model import DisclosurePolicy, Granularity, SecurityLevel
from tests.beacon.querydata import SNP, load
from tests.beacon.webutil import beacon_client


async def _get(client: TestClient, **params: str) -> dict[str, Any]:
    response = await client.get("/g_variants", params=params)
    body = await response.json()
    assert response.status == 200, body
    result: dict[str, Any] = body
    return result


async def _exists(client: TestClient, **params: str) -> bool:
    return bool((await _get(client, **params))["responseSummary"]["exists"])


async def _count(client: TestClient, **params: str) -> int:
    body = await _get(client, requestedGranularity="count", **params)
    assert body["meta"]["returnedGranularity"] == "count"
    return int(body["responseSummary"]["numTotalResults"])


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> Any:
    await load(database_url, tmp_path)
    async with beacon_client(database_url) as c:
        yield c


async def test_sequence_query_and_chromosome_spellings(client: TestClient) -> None:
    for name in ("17", "chr17", "NC_000017.11", "CHR17"):
        assert await _exists(client, **{**SNP, "referenceName": name}), name
    assert not await _exists(client, **{**SNP, "alternateBases": "G"})
    # 1-based position (a common client mistake) is a miss
    assert not await _exists(client, **{**SNP, "start": "43045712"})
    # the GRCh37 accession of chromosome 17 names another assembly: no GRCh38 dataset answers
    assert not await _exists(client, **{**SNP, "referenceName": "NC_000017.10"})
    assert await _exists(client, **SNP, assemblyId="hg38")
    assert not await _exists(client, **SNP, assemblyId="GRCh37")
    # without referenceBases, the alternate alone finds the allele
    assert await _exists(client, referenceName="17", start="43045711", alternateBases="C")


async def test_n_matches_exactly_one_base(client: TestClient) -> None:
    assert await _exists(client, **{**SNP, "alternateBases": "N"})
    assert await _exists(client, **{**SNP, "referenceBases": "N"})
    # N is one base, never a substring wildcard: NN does not match the one-base C
    assert not await _exists(client, **{**SNP, "alternateBases": "NN"})
    assert not await _exists(client, **{**SNP, "alternateBases": "TN"})
    # the MNP CA>TG is found with N in either alternate position, not with a third base
    mnp = {"referenceName": "17", "start": "43046100", "referenceBases": "CA"}
    assert await _exists(client, **mnp, alternateBases="TN")
    assert await _exists(client, **mnp, alternateBases="NG")
    assert not await _exists(client, **mnp, alternateBases="TNN")


async def test_padded_and_trimmed_indels_find_the_same_allele(client: TestClient) -> None:
    deletion = [
        {"start": "43045799", "referenceBases": "CAG", "alternateBases": "C"},
        {"start": "43045800", "referenceBases": "AG", "alternateBases": ""},
        {"start": "43045800", "referenceBases": "AG", "alternateBases": "-"},
        {"start": "43045799", "referenceBases": "CAGT", "alternateBases": "CT"},
    ]
    for spelling in deletion:
        assert await _exists(client, referenceName="17", **spelling), spelling
    insertion = [
        {"start": "43045899", "referenceBases": "A", "alternateBases": "ATT"},
        {"start": "43045900", "referenceBases": "", "alternateBases": "TT"},
        {"start": "43045899", "alternateBases": "ATT"},
    ]
    for spelling in insertion:
        assert await _exists(client, referenceName="17", **spelling), spelling
    assert not await _exists(
        client, referenceName="17", start="43045899", referenceBases="A", alternateBases="AT"
    )


async def test_indels_padded_with_an_unknown_base_find_the_allele(client: TestClient) -> None:
    # As v1 clients and networks write an indel whose preceding base they do not know.
    chrom = {"referenceName": "17"}
    assert await _exists(
        client, **chrom, start="43045799", referenceBases="NAG", alternateBases="N"
    )
    assert await _exists(
        client, **chrom, start="43045899", referenceBases="N", alternateBases="NTT"
    )
    assert not await _exists(
        client, **chrom, start="43045899", referenceBases="N", alternateBases="NT"
    )
    v1 = {"assemblyId": "GRCh38", "includeDatasetResponses": "HIT", **chrom}
    for ref, alt, start in (("NAG", "N", "43045799"), ("N", "NTT", "43045899")):
        response = await client.get(
            "/api/v1/query",
            params={**v1, "start": start, "referenceBases": ref, "alternateBases": alt},
        )
        assert (await response.json())["exists"] is True, (ref, alt)


async def test_bad_text_is_refused_before_the_database(client: TestClient) -> None:
    for path, params in (
        ("/g_variants", {"geneId": "A\x00B"}),
        ("/g_variants/1-10-A-G\x00", {}),
        ("/g_variants/1-10-\u00e9-G", {}),
        ("/g_variants", {**SNP, "assemblyId": "GRCh38\x00"}),
    ):
        response = await client.get(path, params=params)
        body = await response.json()
        assert response.status == 400, (path, params, body)
        assert body["error"]["errorCode"] == 400
    response = await client.post(
        "/g_variants", json={"query": {"requestParameters": {"geneId": "a\x00"}}}
    )
    assert response.status == 400
    assert "geneId" in (await response.json())["error"]["errorMessage"]


async def test_hgvs_short_forms(client: TestClient) -> None:
    for allele in (
        "NC_000017.11:g.43045712T>C",
        "NC_000017.11:g.43045801_43045802del",
        "NC_000017.11:g.43045801_43045802delAG",
        "NC_000017.11:g.43045900_43045901insTT",
        "NC_000017.11:g.43046101_43046102delinsTG",
    ):
        assert await _exists(client, allele=allele), allele
        assert await _exists(client, genomicAlleleShortForm=allele), allele
    assert not await _exists(client, allele="NC_000017.11:g.43045712T>G")
    assert not await _exists(client, allele="NC_000017.11:g.43045801_43045803del")


async def test_multiallelic_records_are_split(client: TestClient) -> None:
    base = {"referenceName": "17", "start": "43045999", "referenceBases": "G"}
    assert await _exists(client, **base, alternateBases="A")
    assert await _exists(client, **base, alternateBases="T")
    assert not await _exists(client, **base, alternateBases="C")


async def test_range_queries_find_any_overlap(client: TestClient) -> None:
    # SNP, deletion, insertion, two split alleles and the MNP
    assert await _count(client, referenceName="17", start="43045700", end="43046200") == 6
    # a window inside the long deletion finds it (the long-allele index)
    inside = {"referenceName": "17", "start": "43055000", "end": "43055010"}
    assert await _count(client, **inside) == 1
    for term in ("DEL", "CNV", "EFO:0030067", "EFO:0030069", "EFO:0030063"):
        assert await _count(client, **inside, variantType=term) == 1, term
    for term in ("DUP", "SNP", "INS", "EFO:0030070"):
        assert await _count(client, **inside, variantType=term) == 0, term
    # half-open: the window [end of deletion, +10) does not overlap it
    assert await _count(client, referenceName="17", start="43060000", end="43060010") == 0
    # the deletion's last base does
    assert await _count(client, referenceName="17", start="43059999", end="43060000") == 1
    # the insertion point lies inside [43045900, 43045901) but not inside [43045901, ...)
    assert await _count(client, referenceName="17", start="43045900", end="43045901") == 1
    assert await _count(client, referenceName="17", start="43045901", end="43045950") == 0
    # the duplication overlaps from its start, and copy-number gains find it
    dup = {"referenceName": "17", "start": "43070400", "end": "43070401"}
    assert await _count(client, **dup, variantType="EFO:0030070") == 1
    assert await _count(client, **dup, variantType="DUP") == 1
    # alternateBases narrows a range
    window = {"referenceName": "17", "start": "43045700", "end": "43046200"}
    assert await _count(client, **window, alternateBases="T") == 1
    assert await _count(client, **window, variantType="SNP") == 3
    assert await _count(client, **window, variantType="MNP") == 1


async def test_lengths_bracket_mate_and_gene(client: TestClient) -> None:
    window = {"referenceName": "17", "start": "43000000", "end": "43100000"}
    assert await _count(client, **window, variantMinLength="400") == 2
    assert await _count(client, **window, variantMinLength="400", variantMaxLength="1000") == 1
    # bracket: start in [43049990, 43050010] and end in [43059990, 43060010]
    assert await _exists(
        client, referenceName="17", start="43049990,43050010", end="43059990,43060010"
    )
    assert not await _exists(
        client, referenceName="17", start="43049990,43050010", end="43060001,43060010"
    )
    response = await client.get(
        "/g_variants?referenceName=17&start=43049990&start=43050010&end=43059990&end=43060010"
    )
    assert (await response.json())["responseSummary"]["exists"]
    bnd = {"referenceName": "17", "start": "43079000", "end": "43081000", "variantType": "BND"}
    assert await _count(client, **bnd) == 1
    assert await _count(client, **bnd, mateName="chr13") == 1
    assert await _count(client, **bnd, mateName="12") == 0
    assert await _count(client, geneId="BRCA1") == 1
    assert await _count(client, geneid="brca1") == 1
    assert await _count(client, geneId="TP53") == 0


async def test_gene_table_positions(client: TestClient, db: Any) -> None:
    await db.execute(
        'INSERT INTO gene (assembly, symbol, reference_name, start, "end") '
        "VALUES ('GRCh38', 'NBR9', '17', 43045700, 43046000)"
    )
    # SNP (annotated BRCA1 too), deletion, insertion and both split alleles at 43045999
    assert await _count(client, geneId="NBR9") == 5
    assert await _count(client, geneId="NBR9", variantType="INS") == 1


async def test_record_granularity_and_pagination(client: TestClient) -> None:
    body = await _get(client, **SNP, requestedGranularity="record")
    assert body["meta"]["returnedGranularity"] == "record"
    (result_set,) = body["response"]["resultSets"]
    assert result_set["id"] == "ds1"
    assert result_set["resultsCount"] == 1
    (record,) = result_set["results"]
    assert record["variantInternalId"] == "17-43045712-T-C"
    assert record["variation"]["location"]["sequence_id"] == "refseq:NC_000017.11"
    assert record["variation"]["location"]["interval"]["start"]["value"] == 43045711
    stats = record["alleleStatistics"]
    assert stats == {
        "alleleCount": 3,
        "alleleNumber": 8,
        "alleleFrequency": 0.375,
        "carriers": 2,
        "heterozygous": 1,
        "homozygous": 1,
        "hemizygous": 0,
    }
    assert record["molecularAttributes"]["geneIds"] == ["BRCA1"]
    window = {"referenceName": "17", "start": "43045700", "end": "43046200"}
    ids = []
    for skip in (0, 2, 4, 6):
        page = await _get(
            client, **window, requestedGranularity="record", skip=str(skip), limit="2"
        )
        (rs,) = page["response"]["resultSets"]
        assert rs["resultsCount"] == 6
        ids += [r["variantInternalId"] for r in rs["results"]]
    assert len(ids) == 6
    assert len(set(ids)) == 6
    # the same variant by its id
    response = await client.get("/g_variants/17-43045712-T-C")
    one = await response.json()
    assert one["response"]["resultSets"][0]["results"][0]["variantInternalId"] == "17-43045712-T-C"
    assert (await (await client.get("/g_variants/17-43045712-T-G")).json())["responseSummary"][
        "exists"
    ] is False
    # ids are read whatever the case of their bases
    lower = await (await client.get("/g_variants/17-43045712-t-c")).json()
    assert (
        lower["response"]["resultSets"][0]["results"][0]["variantInternalId"] == "17-43045712-T-C"
    )


async def test_post_spellings_are_equivalent(client: TestClient) -> None:
    bodies = [
        {"meta": {"apiVersion": "2.0"}, "query": {"requestParameters": {
            "referenceName": "17", "start": [43045711], "referenceBases": "T",
            "alternateBases": "C"}, "requestedGranularity": "count"}},
        {"meta": {"apiVersion": "2.0"}, "query": {"requestParameters": {"g_variant": {
            "referenceName": "chr17", "start": 43045711, "referenceBases": "T",
            "alternateBases": "C"}}}, "requestedGranularity": "count"},
        {"query": {"requestParameters": {"allele": "NC_000017.11:g.43045712T>C"},
                   "requestedGranularity": "count", "pagination": {"skip": 0, "limit": 5}}},
    ]  # fmt: skip
    for body in bodies:
        response = await client.post("/g_variants", json=body)
        answer = await response.json()
        assert response.status == 200, answer
        assert answer["responseSummary"] == {"exists": True, "numTotalResults": 1}
    summary = answer["meta"]["receivedRequestSummary"]
    assert summary["requestParameters"] == {
        "g_variant": {"genomicAlleleShortForm": "NC_000017.11:g.43045712T>C"}
    }
    assert summary["pagination"] == {"skip": 0, "limit": 5}
    assert summary["requestedGranularity"] == "count"


async def test_include_resultset_responses(database_url: str, tmp_path: Path) -> None:
    await load(database_url, tmp_path, "ds1")
    await load(database_url, tmp_path, "ds2", records=[
        "chr17\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\t0/0"])  # fmt: skip
    async with beacon_client(database_url) as client:

        async def sets(mode: str) -> list[str]:
            body = await _get(
                client, **SNP, requestedGranularity="count", includeResultsetResponses=mode
            )
            return [rs["id"] for rs in body["response"]["resultSets"]]

        assert await sets("HIT") == ["ds1"]
        assert await sets("MISS") == ["ds2"]
        assert await sets("ALL") == ["ds1", "ds2"]
        assert await sets("NONE") == []
        assert await sets("all") == ["ds1", "ds2"]
        body = await _get(client, **SNP, datasetIds="ds2", requestedGranularity="count")
        assert body["responseSummary"] == {"exists": False, "numTotalResults": 0}
        response = await client.get("/datasets/ds2/g_variants", params=SNP)
        assert (await response.json())["responseSummary"]["exists"] is False
        response = await client.get("/datasets/ds1/g_variants", params=SNP)
        assert (await response.json())["responseSummary"]["exists"] is True


async def test_anonymous_sees_only_public_and_granularity_is_lowered(
    database_url: str, tmp_path: Path
) -> None:
    await load(database_url, tmp_path, "open")
    await load(database_url, tmp_path, "reg", security_level=SecurityLevel.REGISTERED)
    await load(database_url, tmp_path, "ctl", security_level=SecurityLevel.CONTROLLED)
    await load(database_url, tmp_path, "bool", policy=DisclosurePolicy(public_min_carriers=0))
    async with beacon_client(database_url) as client:
        listed = await (await client.get("/datasets")).json()
        assert [c["id"] for c in listed["response"]["collections"]] == ["bool", "open"]
        # naming a protected dataset without a token asks for authentication (docs/access.md)
        assert (await client.get("/datasets/reg")).status == 401
        assert (await client.get("/datasets/ctl/g_variants", params=SNP)).status == 401
        response = await client.get("/g_variants", params={**SNP, "datasetIds": "ctl"})
        assert response.status == 401
        body = await _get(
            client, **SNP, requestedGranularity="record", includeResultsetResponses="ALL"
        )
        # the default policy lets anonymous callers learn existence only
        assert body["meta"]["returnedGranularity"] == Granularity.BOOLEAN
        assert body["responseSummary"] == {"exists": True}
        assert [(rs["id"], rs["exists"]) for rs in body["response"]["resultSets"]] == [
            ("bool", True), ("open", True)]  # fmt: skip
        assert all("resultsCount" not in rs for rs in body["response"]["resultSets"])
        body = await _get(client, **SNP, requestedGranularity="record", datasetIds="open")
        assert body["meta"]["returnedGranularity"] == "record"
