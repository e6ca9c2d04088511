"""The in-memory exact-lookup index: its rules, its agreement with SQL, and how it is kept.

The agreement test loads real rows into PostgreSQL and holds :meth:`ExactIndex.counts` to
:func:`beacon.storage.queries.find_variants` without the index, allele by allele, under
several k-anonymity settings. The keeper tests use a real listener connection: a withdrawal
of consent, a removed dataset, a new load and a lost connection each drop the index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from beacon.config import Settings
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import (
    CountMode,
    DisclosurePolicy,
    Granularity,
    QueryKind,
    VariantQuery,
    VariantTypeMatch,
)
from beacon.policy import allele_draw
from beacon.storage import datasets, privacy, queries
from beacon.storage.exact_index import ExactIndex, allele_key, exact_lookup, read_index
from beacon.storage.index_keeper import IndexKeeper
from beacon.synthetic import write_vcf
from beacon.web import METRICS, STORE, create_app

KEY = "k" * 64


def _q(
    chrom: str = "1", start: int = 99, ref: str = "A", alt: str = "G", **kw: Any
) -> VariantQuery:
    return VariantQuery(
        QueryKind.SEQUENCE, chrom, None, start, start + len(ref), reference_bases=ref,
        alternate_bases=alt, **kw,
    )  # fmt: skip


# --- the rules, on hand-made rows ----------------------------------------------------------


def test_which_queries_are_exact_lookups() -> None:
    assert exact_lookup(_q(), Granularity.BOOLEAN)
    assert exact_lookup(_q(), Granularity.COUNT)
    assert exact_lookup(_q(ref="", alt="TT"), Granularity.COUNT)  # a trimmed insertion
    assert not exact_lookup(_q(), Granularity.RECORD)  # records come from PostgreSQL
    assert not exact_lookup(_q(alt="N"), Granularity.BOOLEAN)  # N matches any base
    assert not exact_lookup(_q(ref="AN"), Granularity.BOOLEAN)
    assert not exact_lookup(_q(variant_type=VariantTypeMatch("SNP", ("SNP",))), Granularity.COUNT)
    assert not exact_lookup(_q(variant_min_length=1), Granularity.COUNT)
    assert not exact_lookup(_q(variant_max_length=1), Granularity.COUNT)
    assert not exact_lookup(_q(mate_name="2"), Granularity.COUNT)
    no_ref = VariantQuery(QueryKind.SEQUENCE, "1", None, 99, 100, alternate_bases="G")
    assert not exact_lookup(no_ref, Granularity.COUNT)
    ranged = VariantQuery(QueryKind.RANGE, "1", None, 99, 200)
    assert not exact_lookup(ranged, Granularity.COUNT)


def test_rows_are_counted_per_dataset_and_only_for_the_datasets_asked() -> None:
    snv = allele_key("1", 99, "A", "G")
    index = ExactIndex(KEY, ["a", "b", "c"], [(0, snv, 5), (1, snv, None), (1, snv, 2)])
    assert len(index) == 1
    assert index.counts(_q(), ["a", "b", "c"]) == {"a": 1, "b": 2}
    assert index.counts(_q(), ["b"]) == {"b": 2}
    assert index.counts(_q(), ["c"]) == {}
    assert index.counts(_q(alt="T"), ["a", "b"]) == {}
    assert index.counts(_q(chrom="2"), ["a"]) == {}
    assert index.counts(_q(start=100), ["a"]) == {}
    # A dataset the index does not cover: it cannot answer, PostgreSQL must.
    assert index.counts(_q(), ["a", "new"]) is None


def test_k_anonymity_keeps_a_row_only_at_its_own_threshold() -> None:
    snv = allele_key("1", 99, "A", "G")
    rows = [(0, snv, 4), (1, snv, None), (2, snv, 0)]
    index = ExactIndex(KEY, ["a", "b", "c"], rows)
    every = ["a", "b", "c"]
    assert index.counts(_q(), every, {"a": (4, 1)}) == {"a": 1, "b": 1, "c": 1}
    assert index.counts(_q(), every, {"a": (5, 1)}) == {"b": 1, "c": 1}
    # Unknown carriers are hidden whenever k applies (fail closed); zero carriers too.
    assert index.counts(_q(), every, {"b": (2, 1), "c": (2, 1)}) == {"a": 1}
    # With a spread, the threshold is k + draw mod s, the draw under the store's key.
    draw = allele_draw(KEY, "1", 99, "A", "G")
    for spread in range(2, 12):
        shown = 2 + draw % spread <= 4
        got = index.counts(_q(), ["a"], {"a": (2, spread)})
        assert got == ({"a": 1} if shown else {}), spread


# --- agreement with SQL over real rows ------------------------------------------------------


@pytest.fixture
async def three_datasets(database_url: str, tmp_path: Path) -> str:
    """'g': genotypes of 12 samples; 'g2': the same file again; 's': sites only (AC/AN)."""
    called = write_vcf(tmp_path / "g.vcf", sites=300, samples=12, seed=3)
    sites = write_vcf(tmp_path / "s.vcf", sites=300, samples=0, seed=3)
    for dataset_id, vcf in (("g", called), ("g2", called), ("s", sites)):
        await load_vcf(database_url, vcf, LoadOptions(dataset_id=dataset_id, assembly="GRCh38"))
    return database_url


async def _sql_counts(
    pool: asyncpg.Pool, query: VariantQuery, ids: list[str], rule: dict[str, Any]
) -> dict[str, int]:
    found = await queries.find_variants(
        pool, query, ids, granularity=Granularity.COUNT, timeout_s=10, min_carriers=rule
    )
    return {k: v.total for k, v in found.items()}


async def test_the_index_answers_every_exact_lookup_as_sql_does(
    three_datasets: str, db: asyncpg.Connection
) -> None:
    index = await read_index(db, max_alleles=10_000)
    assert index.covers == {"g", "g2", "s"}
    alleles = await db.fetch(
        "SELECT DISTINCT reference_name, start, reference_bases, alternate_bases FROM variant"
    )
    assert len(index) == len(alleles) > 300
    queried = [_q(r[0], r[1], r[2], r[3]) for r in alleles]
    queried += [_q(r[0], r[1], r[2], r[3] + "ACGTTGCA") for r in alleles[:50]]  # misses
    rules: list[dict[str, Any]] = [
        {},
        {"g": (3, 1)},
        {"g": (2, 7), "s": (3, 5)},
        {"g": (1_000, 1), "g2": (2, 1), "s": (1, 1)},
    ]
    ids = ["g", "g2", "s"]
    seen: set[tuple[str, bool]] = set()
    async with asyncpg.create_pool(three_datasets, min_size=1, max_size=2) as pool:
        for rule in rules:
            for query in queried:
                for chosen in (ids, ["s"]):
                    want = await _sql_counts(pool, query, chosen, rule)
                    got = index.counts(query, chosen, rule)
                    assert got == want, (query, chosen, rule)
                    for d in ids:
                        seen.add((d, d in want))
    # Not vacuous: every dataset both answered and was silent (misses, hidden alleles).
    assert seen == {(d, b) for d in ids for b in (True, False)}


async def test_only_the_smallest_datasets_that_fit_are_indexed(
    three_datasets: str, db: asyncpg.Connection
) -> None:
    sizes = dict(await db.fetch("SELECT id, variant_count FROM dataset"))
    index = await read_index(db, max_alleles=sizes["g"] + sizes["g2"] - 1)
    smallest = min(sizes, key=lambda d: (sizes[d], d))
    assert index.covers == {smallest}
    row = await db.fetchrow(
        "SELECT reference_name, start, reference_bases, alternate_bases FROM variant "
        "WHERE dataset_id = $1 LIMIT 1",
        smallest,
    )
    assert row is not None
    query = _q(*row)
    assert index.counts(query, [smallest]) == {smallest: 1}
    assert index.counts(query, ["g", "g2", "s"]) is None  # the others: PostgreSQL
    assert len(await read_index(db, max_alleles=0)) == 0


# --- keeping it current ---------------------------------------------------------------------


@pytest.fixture
async def keeper(three_datasets: str) -> AsyncIterator[IndexKeeper]:
    kept = IndexKeeper(three_datasets, max_alleles=10_000, settle_s=0.05, retry_s=(0.05, 0.2))
    kept.start()
    await asyncio.wait_for(kept.wait_ready(), 30)
    yield kept
    await kept.close()


async def _next_index(keeper: IndexKeeper, builds: int) -> ExactIndex:
    """The first index built after ``builds`` (bounded wait: a failure, not a timing check)."""

    async def built() -> ExactIndex:
        while True:
            index = await keeper.wait_ready()
            if keeper.builds > builds:
                return index
            await asyncio.sleep(0.01)  # an index older than wanted: let the keeper drop it

    return await asyncio.wait_for(built(), 30)


async def _carried(db: asyncpg.Connection, dataset_id: str) -> VariantQuery:
    row = await db.fetchrow(
        "SELECT reference_name, start, reference_bases, alternate_bases FROM variant "
        "WHERE dataset_id = $1 AND carriers >= 2 ORDER BY start LIMIT 1",
        dataset_id,
    )
    assert row is not None
    return _q(*row)


async def _withdraw_carriers(db: asyncpg.Connection, query: VariantQuery) -> None:
    """Remove from dataset 'g' every sample that carries the allele of ``query``."""
    carriers = await db.fetchval(
        "SELECT carrier_samples FROM variant WHERE dataset_id = 'g' AND start = $1 "
        "AND reference_bases = $2 AND alternate_bases = $3",
        query.start, query.reference_bases, query.alternate_bases,
    )  # fmt: skip
    samples = await db.fetch(
        "SELECT sample_id FROM sample WHERE dataset_id = 'g' AND sample_index = ANY($1)",
        list(carriers),
    )
    await datasets.remove_samples(db, "g", [r["sample_id"] for r in samples])


async def test_a_withdrawal_of_consent_drops_the_index_and_the_next_one_counts_without_them(
    keeper: IndexKeeper, db: asyncpg.Connection
) -> None:
    query = await _carried(db, "g")
    first = keeper.index
    assert first is not None
    before = first.counts(query, ["g"], {"g": (2, 1)})
    assert before == {"g": 1}
    builds = keeper.builds
    await _withdraw_carriers(db, query)
    fresh = await _next_index(keeper, builds)
    assert keeper.drops >= 1
    assert fresh is not first
    # Every carrier withdrew: the allele is gone from 'g', still in 'g2'.
    assert fresh.counts(query, ["g", "g2"]) == {"g2": 1}


async def test_a_removed_dataset_and_a_new_load_each_rebuild_the_index(
    keeper: IndexKeeper, db: asyncpg.Connection, three_datasets: str, tmp_path: Path
) -> None:
    builds = keeper.builds
    assert await datasets.remove_dataset(db, "g2")
    index = await _next_index(keeper, builds)
    assert index.covers == {"g", "s"}
    builds = keeper.builds
    vcf = write_vcf(tmp_path / "n.vcf", sites=20, samples=2, seed=9)
    await load_vcf(three_datasets, vcf, LoadOptions(dataset_id="n", assembly="GRCh38"))
    assert "n" in (await _next_index(keeper, builds)).covers


async def test_a_lost_listener_drops_the_index_until_a_new_one_is_built(
    keeper: IndexKeeper, db: asyncpg.Connection
) -> None:
    builds, drops = keeper.builds, keeper.drops
    # The keeper's listener is the only other session on this test's database.
    killed = await db.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert killed == 1
    await _next_index(keeper, builds)
    assert keeper.drops > drops


async def test_a_keeper_without_a_database_offers_no_index_and_stops_cleanly() -> None:
    kept = IndexKeeper("postgresql://nobody@127.0.0.1:1/none", max_alleles=10, retry_s=(0.01, 0.02))
    kept.start()
    await asyncio.sleep(0.2)
    assert kept.index is None
    assert kept.builds == 0
    await kept.close()
    off = IndexKeeper("postgresql://nobody@127.0.0.1:1/none", max_alleles=0)
    off.start()  # switched off: nothing runs
    assert off.index is None
    await off.close()


async def test_the_web_app_answers_from_its_index_and_stops_counting_withdrawn_carriers(
    three_datasets: str, db: asyncpg.Connection
) -> None:
    query = await _carried(db, "g")
    counted = DisclosurePolicy(
        anonymous=Granularity.COUNT, count_mode=CountMode.EXACT, public_min_carriers=1
    )
    for dataset_id in ("g", "g2", "s"):
        await privacy.set_policy(db, dataset_id, counted)
    params = {
        "assemblyId": "GRCh38", "referenceName": query.reference_name or "",
        "start": str(query.start), "referenceBases": query.reference_bases or "-",
        "alternateBases": query.alternate_bases or "-", "requestedGranularity": "count",
        "includeResultsetResponses": "ALL",
    }  # fmt: skip

    async def counts(client: TestClient[Any, Any]) -> dict[str, int]:
        async with client.get("/g_variants", params=params) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        return {r["id"]: r["resultsCount"] for r in body["response"]["resultSets"]}

    app = create_app(Settings(), dsn=three_datasets)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        keeper = app[STORE].keeper
        await asyncio.wait_for(keeper.wait_ready(), 30)
        before = await counts(client)
        assert (before["g"], before["g2"]) == (1, 1)
        metrics = await (await client.get("/metrics")).text()
        assert f'beacon_exact_index_alleles{{worker="{app[METRICS].worker}"}} -1' not in metrics
        builds = keeper.builds
        await _withdraw_carriers(db, query)
        await _next_index(keeper, builds)
        assert await counts(client) == {**before, "g": 0}
