"""The aggregator in front of our own beacons (beacon.web over the real PostgreSQL).

Two GRCh38 beacons (one with genotypes, one sites-only) and one GRCh37 beacon, each with its
own database and a small VCF written here. The aggregator validates their info,
configuration and map against the official schemas, asks them, and its own answers validate
against the official schemas too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.schemas import OfficialSchemas
from beacon.config import Settings
from beacon.ingest import LoadOptions, load_vcf
from beacon.policy import OPEN_POLICY
from beacon.storage.db import connect
from beacon.storage.privacy import set_policy
from beacon.web import create_app as create_beacon_app
from tests import pg
from tests.aggregator.conftest import StartAggregator, member_config

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=1,length=249000000>\n"
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="AC">\n'
    '##INFO=<ID=AN,Number=1,Type=Integer,Description="AN">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
)


def write_vcf(path: Path, rows: list[str], samples: int) -> Path:
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
    if samples:
        cols += "\tFORMAT\t" + "\t".join(f"S{i}" for i in range(samples))
    path.write_text(HEADER + cols + "\n" + "\n".join(rows) + "\n")
    return path


@dataclass
class Site:
    beacon_id: str
    url: str


@pytest.fixture
async def sites(
    tmp_path: Path, pg_admin_dsn: str, template_database: str
) -> AsyncIterator[dict[str, Site]]:
    specs = {
        # beacon id: (assembly, rows, samples)
        "org.site.a": (
            "GRCh38",
            [
                "1\t101\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\t0/0",
                "1\t201\t.\tC\tG\t.\tPASS\t.\tGT\t1/1\t0/1",
            ],
            2,
        ),
        "org.site.b": (
            "GRCh38",
            [
                "1\t101\t.\tA\tT\t.\tPASS\tAC=5;AN=100",
                "1\t301\t.\tT\tTC\t.\tPASS\tAC=3;AN=100",
                "1\t401\t.\tCA\tC\t.\tPASS\tAC=2;AN=100",
            ],
            0,
        ),
        "org.site.c": ("GRCh37", ["1\t101\t.\tA\tT\t.\tPASS\t.\tGT\t0/1"], 1),
    }
    names: list[str] = []
    clients: list[TestClient[Any, Any]] = []
    found: dict[str, Site] = {}
    try:
        for beacon_id, (assembly, rows, samples) in specs.items():
            name = await pg.create_database(pg_admin_dsn, template=template_database)
            names.append(name)
            dsn = pg.with_database(pg_admin_dsn, name)
            vcf = write_vcf(tmp_path / f"{beacon_id}.vcf", rows, samples)
            dataset = beacon_id.rsplit(".", 1)[1] + "_ds"
            await load_vcf(dsn, vcf, LoadOptions(dataset_id=dataset, assembly=assembly))
            # Open policy: these tiny test datasets would otherwise be hidden by k-anonymity.
            conn = await connect(dsn)
            try:
                await set_policy(conn, dataset, OPEN_POLICY)
            finally:
                await conn.close()
            settings = Settings(beacon_id=beacon_id, beacon_name=f"Site {beacon_id}")
            client: TestClient[Any, Any] = TestClient(
                TestServer(create_beacon_app(settings, dsn=dsn), host="127.0.0.1")
            )
            await client.start_server()
            clients.append(client)
            found[beacon_id] = Site(beacon_id, str(client.make_url("")).rstrip("/"))
        yield found
    finally:
        for client in clients:
            await client.close()
        for name in names:
            await pg.drop_database(pg_admin_dsn, name)


QUERY = {
    "assemblyId": "GRCh38",
    "referenceName": "1",
    "start": "100",
    "referenceBases": "A",
    "alternateBases": "T",
    "requestedGranularity": "count",
}


async def test_network_of_real_beacons(
    sites: dict[str, Site], aggregator: StartAggregator, beacon_schema_dir: Path
) -> None:
    client = await aggregator(
        [member_config(b.rsplit(".", 1)[1], s.url) for b, s in sites.items()],
        schema_dir=beacon_schema_dir,
    )
    resp = await client.get("/api/members")
    members = {m["memberId"]: m for m in (await resp.json())["members"]}
    for member_id in ("a", "b", "c"):
        assert members[member_id]["status"] == "up", members[member_id]["message"]
    assert members["c"]["assemblies"] == ["GRCh37"]
    assert members["a"]["beaconId"] == "org.site.a"

    resp = await client.get("/g_variants", params=QUERY)
    assert resp.status == 200
    doc = await resp.json()
    net = doc["info"]["beaconNetwork"]
    statuses = {m["memberId"]: m["status"] for m in net["members"]}
    assert statuses == {"a": "answered", "b": "answered", "c": "not_applicable"}
    assert net["exists"] is True
    assert doc["responseSummary"]["exists"] is True
    assert {rs["beaconId"] for rs in doc["response"]["resultSets"]} == {"org.site.a", "org.site.b"}
    assert net["partial"] is False
    assert doc["responseSummary"]["numTotalResults"] == 2

    schemas = OfficialSchemas.load(beacon_schema_dir)
    kind = {"boolean": "boolean", "count": "count", "record": "resultsets"}
    assert schemas.errors(kind[doc["meta"]["returnedGranularity"]], doc) == []
    for granularity in ("boolean", "record"):
        resp = await client.get(
            "/g_variants", params={**QUERY, "requestedGranularity": granularity}
        )
        body = await resp.json()
        assert schemas.errors(kind[body["meta"]["returnedGranularity"]], body) == []

    # A miss everywhere is a "no"; the GRCh37 beacon answers GRCh37 queries.
    resp = await client.get("/g_variants", params={**QUERY, "alternateBases": "G"})
    miss = await resp.json()
    assert miss["info"]["beaconNetwork"]["exists"] is False
    resp = await client.get("/g_variants", params={**QUERY, "assemblyId": "GRCh37"})
    grch37 = await resp.json()
    statuses = {m["memberId"]: m["status"] for m in grch37["info"]["beaconNetwork"]["members"]}
    assert statuses == {"a": "not_applicable", "b": "not_applicable", "c": "answered"}
    assert grch37["info"]["beaconNetwork"]["exists"] is True

    # The aggregator's own framework documents validate, so it can be nested.
    for path, kind_name in (
        ("/info", "info"),
        ("/service-info", "service-info"),
        ("/filtering_terms", "filtering_terms"),
        ("/configuration", "configuration"),
        ("/map", "map"),
    ):
        resp = await client.get(path, headers={"Accept": "application/json"})
        assert schemas.errors(kind_name, await resp.json()) == []
    resp = await client.get("/g_variants", params={**QUERY, "start": "-5"})
    assert resp.status == 400
    assert schemas.errors("error", await resp.json()) == []
    # Text the members could not store is refused here, before any member is asked: a query
    # that made members fail would otherwise open their breakers for every caller.
    for _ in range(4):
        resp = await client.get("/g_variants", params={"geneId": "A\x00B"})
        assert resp.status == 400
        assert (await resp.json())["error"]["errorCode"] == 400
    resp = await client.get("/g_variants", params=QUERY)
    net = (await resp.json())["info"]["beaconNetwork"]
    assert {m["status"] for m in net["members"]} == {"answered", "not_applicable"}
