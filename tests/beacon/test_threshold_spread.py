"""Each allele's own k-anonymity threshold, through the real web app and PostgreSQL.

With k and a spread s, an anonymous caller hears about an allele only when at least
k + (draw mod s) eligible participants carry it, the draw being the allele's keyed hash
(:func:`beacon.policy.allele_draw`) under the store's secret. The SQL computes the draw; these
tests hold it to the Python definition allele by allele, through v2 and v1, for single
alleles and for ranges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from beacon.config import Settings
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import CountMode, DisclosurePolicy, Granularity
from beacon.policy import allele_draw, allele_min_carriers
from beacon.storage import privacy
from beacon.web import create_app

SAMPLES = 14
ALLELES = 260
POLICY = DisclosurePolicy(
    anonymous=Granularity.COUNT,
    count_mode=CountMode.EXACT,
    public_min_carriers=3,
    public_min_carriers_spread=9,
)


def _carriers(i: int) -> int:
    return 1 + i % SAMPLES  # 1..14 carriers, every count many times over


def _position(i: int) -> int:
    return 10_000 + 10 * i  # 1-based


SPAN = {
    "assemblyId": "GRCh38",
    "referenceName": "5",
    "start": "0",
    "end": str(_position(ALLELES) + 1),
    "requestedGranularity": "count",
}
"""A range over every allele, counted."""


def _write_vcf(path: Path) -> Path:
    samples = [f"S{j}" for j in range(SAMPLES)]
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=5,length=181538259>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    for i in range(ALLELES):
        calls = ["0/1" if j < _carriers(i) else "0/0" for j in range(SAMPLES)]
        alt = "GCT"[i % 3]
        lines.append(f"5\t{_position(i)}\t.\tA\t{alt}\t50\tPASS\t.\tGT\t" + "\t".join(calls))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
async def spread_beacon(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> tuple[str, str]:
    """The loaded dataset under POLICY, and the store's threshold key."""
    vcf = _write_vcf(tmp_path / "spread.vcf")
    await load_vcf(database_url, vcf, LoadOptions(dataset_id="s", assembly="GRCh38"))
    await privacy.set_policy(db, "s", POLICY)
    key = await db.fetchval("SELECT key FROM threshold_key")
    assert isinstance(key, str)
    assert len(key) == 64
    return database_url, key


def _expected_visible(key: str, i: int) -> bool:
    draw = allele_draw(key, "5", _position(i) - 1, "A", "GCT"[i % 3])
    return _carriers(i) >= allele_min_carriers(POLICY, draw)


async def _get(client: TestClient[Any, Any], path: str, params: dict[str, str]) -> Any:
    async with client.get(path, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_each_allele_is_shown_to_anonymous_callers_at_its_own_threshold(
    spread_beacon: tuple[str, str],
) -> None:
    dsn, key = spread_beacon
    expected = [_expected_visible(key, i) for i in range(ALLELES)]
    # Not vacuous: among the ~130 alleles carried by k+1 .. k+s-2 participants some are shown
    # and some are not (whatever the random key, the chance of one outcome only is below
    # 1e-15), and below k none is.
    k, s = POLICY.public_min_carriers, POLICY.public_min_carriers_spread
    middle = {expected[i] for i in range(ALLELES) if k < _carriers(i) < k + s - 1}
    assert middle == {True, False}
    assert not any(expected[i] for i in range(ALLELES) if _carriers(i) < k)

    app = create_app(Settings(), dsn=dsn)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for i in range(ALLELES):
            query = {
                "assemblyId": "GRCh38",
                "referenceName": "5",
                "start": str(_position(i) - 1),
                "referenceBases": "A",
                "alternateBases": "GCT"[i % 3],
            }
            body = await _get(client, "/g_variants", query)
            assert body["responseSummary"]["exists"] is expected[i], (i, _carriers(i))
            if i % 5 == 0:  # v1 takes the same decision
                v1 = await _get(
                    client, "/api/v1/query", {**query, "includeDatasetResponses": "ALL"}
                )
                assert v1["exists"] is expected[i], (i, "v1")
        # A range over every allele counts exactly the alleles shown one by one.
        body = await _get(client, "/g_variants", SPAN)
        assert body["responseSummary"]["numTotalResults"] == sum(expected)


async def test_a_spread_of_zero_is_exactly_k_and_never_below_k(
    spread_beacon: tuple[str, str], db: asyncpg.Connection
) -> None:
    dsn, _ = spread_beacon
    exact = DisclosurePolicy(
        anonymous=Granularity.COUNT,
        count_mode=CountMode.EXACT,
        public_min_carriers=3,
        public_min_carriers_spread=0,
    )
    await privacy.set_policy(db, "s", exact)
    app = create_app(Settings(), dsn=dsn)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        body = await _get(client, "/g_variants", SPAN)
    at_least_k = sum(1 for i in range(ALLELES) if _carriers(i) >= 3)
    assert body["responseSummary"]["numTotalResults"] == at_least_k
