"""Budget leases and the batched audit log, on a real PostgreSQL and through two real apps
sharing one database (as two worker processes do)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from beacon import budget_leases
from beacon.audit_writer import AuditWriter
from beacon.budget_leases import BudgetLeases
from beacon.config import Settings
from beacon.errors import StoreUnavailable
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import Granularity
from beacon.policy import QueryBudget
from beacon.storage import privacy
from beacon.storage.db import Pool, create_pool
from beacon.web import create_app
from tests.beacon.privacy_data import write_vcf


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, min_size=2, max_size=20)
    yield pool
    await pool.close()


async def test_concurrent_leases_never_grant_more_than_the_limit(pool: Pool) -> None:
    leases = await asyncio.gather(
        *(
            privacy.lease_budget(pool, "addr:203.0.113.5", limit=37, window_s=3600, most=5)
            for _ in range(200)
        )
    )
    granted = [lease.granted for lease in leases]
    assert sum(granted) == 37
    assert max(granted) <= 5
    assert all(0 < lease.remaining_s <= 3600 for lease in leases)
    used = await pool.fetchval("SELECT used FROM query_budget WHERE identity = 'addr:203.0.113.5'")
    assert used == 37


async def test_a_lease_is_at_most_a_quarter_of_what_remains(db: asyncpg.Connection) -> None:
    got = [
        (await privacy.lease_budget(db, "sub:q", limit=20, window_s=60, most=100)).granted
        for _ in range(12)
    ]
    # 20 -> 5, 15 -> 3, 12 -> 3, 9 -> 2, 7 -> 1, then one at a time until none is left.
    assert got == [5, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 0]
    assert sum(got) == 20
    zero = await privacy.lease_budget(db, "sub:none", limit=0, window_s=60, most=10)
    assert zero.granted == 0
    assert await db.fetchval("SELECT count(*) FROM query_budget WHERE identity = 'sub:none'") == 0


async def test_a_lease_after_the_window_ended_starts_a_new_window(db: asyncpg.Connection) -> None:
    first = await privacy.lease_budget(db, "sub:w", limit=4, window_s=60, most=10)
    while (await privacy.lease_budget(db, "sub:w", limit=4, window_s=60, most=10)).granted:
        pass
    assert first.granted == 1
    assert await db.fetchval("SELECT used FROM query_budget WHERE identity = 'sub:w'") == 4
    await db.execute(
        "UPDATE query_budget SET window_start = now() - interval '61 seconds' WHERE identity = $1",
        "sub:w",
    )
    again = await privacy.lease_budget(db, "sub:w", limit=4, window_s=60, most=10)
    assert again.granted == 1
    assert again.used == 1
    assert 59 <= again.remaining_s <= 60


async def test_leases_in_one_process_spend_locally_and_refuse_at_the_limit(
    pool: Pool, db: asyncpg.Connection
) -> None:
    leases = BudgetLeases(pool, timeout_s=5, most=8, refusal_memory_s=0)
    outcomes = await asyncio.gather(
        *(leases.charge("addr:192.0.2.1", limit=30, window_s=3600) for _ in range(100))
    )
    allowed = [o for o in outcomes if o is None]
    assert len(allowed) == 30  # one process spends every query it leased
    spent = [o for o in outcomes if o is not None]
    assert all(s.limit == 30 and 3500 <= s.retry_after_s <= 3600 for s in spent)
    assert await db.fetchval("SELECT used FROM query_budget") == 30
    # The window ends: the next charge leases from a fresh window.
    await db.execute("UPDATE query_budget SET window_start = now() - interval '2 hours'")
    assert await leases.charge("addr:192.0.2.1", limit=30, window_s=3600) is None
    assert (await leases.charge("addr:192.0.2.1", limit=0, window_s=3600)) is not None


async def test_leases_held_in_memory_are_bounded(
    pool: Pool, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget_leases, "MAX_IDENTITIES", 8)
    leases = BudgetLeases(pool, timeout_s=5, most=8)
    for i in range(30):
        assert await leases.charge(f"addr:198.51.100.{i}", limit=20, window_s=3600) is None
        assert leases.identities <= 8
    # A forgotten lease loses its unspent queries; the store still never grants more.
    for _ in range(3):
        for i in range(30):
            await leases.charge(f"addr:198.51.100.{i}", limit=20, window_s=3600)
    assert await db.fetchval("SELECT max(used) FROM query_budget") <= 20


async def test_audit_entries_are_written_in_batches_with_their_answer_time(
    pool: Pool, db: asyncpg.Connection
) -> None:
    writer = AuditWriter(pool, timeout_s=5, interval_s=3600, batch_rows=1000)
    writer.start()
    answered = datetime.now(UTC) - timedelta(minutes=5)
    for i in range(3):
        writer.record(_entry(f"10.0.0.{i}", at=answered))
    assert writer.pending == 3
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0  # nothing on the query path
    await writer.flush()
    assert writer.pending == 0
    rows = await privacy.read_audit(db)
    assert [e.client_address for e in rows] == ["10.0.0.2", "10.0.0.1", "10.0.0.0"]
    assert {e.at for e in rows} == {answered}
    writer.record(_entry("10.0.0.9"))
    await writer.close()  # shutdown writes what is left
    assert (await privacy.read_audit(db))[0].client_address == "10.0.0.9"


async def test_an_answer_recorded_from_its_fields_carries_the_time_it_was_recorded(
    pool: Pool, db: asyncpg.Connection
) -> None:
    writer = AuditWriter(pool, timeout_s=5, interval_s=3600)
    before = datetime.now(UTC)
    writer.record_answer(
        ("bob", "10.3.0.1", "controlled", "/g_variants", ("w", "x"),
         (Granularity.COUNT, Granularity.BOOLEAN), Granularity.COUNT, False, 200)
    )  # fmt: skip
    after = datetime.now(UTC)
    await writer.flush()
    (got,) = await privacy.read_audit(db)
    assert got.at is not None
    assert before - timedelta(microseconds=1) <= got.at <= after
    assert dataclasses.replace(got, id=None, at=None) == privacy.AuditEntry(
        tier="controlled",
        endpoint="/g_variants",
        datasets=("w", "x"),
        granularities=(Granularity.COUNT, Granularity.BOOLEAN),
        returned_granularity=Granularity.COUNT,
        subject="bob",
        client_address="10.3.0.1",
        exists=False,
    )


async def test_a_full_batch_is_written_without_waiting_for_the_interval(
    pool: Pool, db: asyncpg.Connection
) -> None:
    writer = AuditWriter(pool, timeout_s=5, interval_s=3600, batch_rows=10)
    writer.start()
    try:
        for i in range(10):
            writer.record(_entry(f"10.1.0.{i}"))
        for _ in range(500):  # the background task runs as soon as this test yields
            if await db.fetchval("SELECT count(*) FROM audit_log") == 10:
                break
            await asyncio.sleep(0.01)
        assert await db.fetchval("SELECT count(*) FROM audit_log") == 10
    finally:
        await writer.close()


async def test_entries_the_store_refuses_are_kept_and_new_queries_refused_when_too_many(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    writer = AuditWriter(pool, timeout_s=5, interval_s=3600, max_pending=3)
    for i in range(3):
        writer.record(_entry(f"10.2.0.{i}"))
    await pool.close()
    with pytest.raises(StoreUnavailable):
        await writer.flush()
    assert writer.pending == 3  # kept for the next attempt
    with pytest.raises(StoreUnavailable):
        writer.record(_entry("10.2.0.9"))  # no answer without its audit entry


def _entry(address: str, at: datetime | None = None) -> privacy.AuditEntry:
    return privacy.AuditEntry(
        tier="anonymous",
        endpoint="/g_variants",
        datasets=("w",),
        granularities=(Granularity.BOOLEAN,),
        returned_granularity=Granularity.BOOLEAN,
        client_address=address,
        exists=True,
        at=at,
    )


async def test_two_workers_share_one_budget_and_audit_every_answer(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    vcf = write_vcf(tmp_path / "cohort.vcf")
    await load_vcf(database_url, vcf, LoadOptions(dataset_id="w", assembly="GRCh38"))
    settings = Settings(
        query_budget=QueryBudget(anonymous=40, registered=None, window_s=3600), db_pool_max=10
    )
    query = {
        "assemblyId": "GRCh38",
        "referenceName": "1",
        "start": "3999",
        "referenceBases": "T",
        "alternateBases": "C",
    }
    async with AsyncExitStack() as stack:
        clients: list[TestClient[Any, Any]] = [
            await stack.enter_async_context(
                TestClient(TestServer(create_app(settings, dsn=database_url), host="127.0.0.1"))
            )
            for _ in range(2)
        ]

        async def one(i: int) -> int:
            async with clients[i % 2].get("/g_variants", params=query) as resp:
                await resp.read()
                return resp.status

        statuses = await asyncio.gather(*(one(i) for i in range(200)))
        answered = statuses.count(200)
        assert 0 < answered <= 40
        assert statuses.count(429) == 200 - answered
    # Both apps have shut down: every answered query is in the audit log, none other.
    assert await db.fetchval("SELECT used FROM query_budget") <= 40
    assert await db.fetchval("SELECT count(*) FROM audit_log") == answered
