"""Budgets, the audit log and stored policies on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from beacon.errors import NotFound
from beacon.model import Granularity
from beacon.policy import DEFAULT_POLICY, CountMode, DisclosurePolicy
from beacon.storage import privacy
from beacon.storage.db import create_pool


async def test_budget_charges_until_the_limit_then_refuses(db: asyncpg.Connection) -> None:
    got = [await privacy.charge_budget(db, "addr:1", limit=3, window_s=3600) for _ in range(5)]
    assert [c.allowed for c in got] == [True, True, True, False, False]
    assert [c.used for c in got] == [1, 2, 3, 3, 3]
    now = datetime.now(UTC)
    assert got[-1].resets_at is not None
    assert 3500 <= got[-1].retry_after_s(now) <= 3600
    # Another identity has its own budget.
    assert (await privacy.charge_budget(db, "addr:2", limit=3, window_s=3600)).allowed


async def test_budget_of_zero_refuses_everything(db: asyncpg.Connection) -> None:
    charge = await privacy.charge_budget(db, "sub:x", limit=0, window_s=60)
    assert not charge.allowed
    assert await db.fetchval("SELECT count(*) FROM query_budget") == 0


async def test_budget_window_restarts_after_it_ends(db: asyncpg.Connection) -> None:
    for _ in range(2):
        await privacy.charge_budget(db, "sub:w", limit=2, window_s=60)
    assert not (await privacy.charge_budget(db, "sub:w", limit=2, window_s=60)).allowed
    # Move the window into the past, as time would.
    await db.execute(
        "UPDATE query_budget SET window_start = now() - interval '61 seconds'"
        " WHERE identity = 'sub:w'"
    )
    again = await privacy.charge_budget(db, "sub:w", limit=2, window_s=60)
    assert again.allowed
    assert again.used == 1


async def test_budget_reset(db: asyncpg.Connection) -> None:
    await privacy.charge_budget(db, "sub:a", limit=1, window_s=60)
    await privacy.charge_budget(db, "sub:b", limit=1, window_s=60)
    assert await privacy.reset_budget(db, "sub:a") == 1
    assert (await privacy.charge_budget(db, "sub:a", limit=1, window_s=60)).allowed
    assert await privacy.reset_budget(db) == 2


async def test_budget_never_overshoots_under_200_parallel_charges(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=10, max_size=20)
    try:
        charges = await asyncio.gather(
            *(
                privacy.charge_budget(pool, "addr:203.0.113.9", limit=37, window_s=3600)
                for _ in range(200)
            )
        )
        allowed = [c for c in charges if c.allowed]
        assert len(allowed) == 37
        assert sorted(c.used for c in allowed) == list(range(1, 38))
        assert (
            await pool.fetchval("SELECT used FROM query_budget WHERE identity = 'addr:203.0.113.9'")
            == 37
        )
    finally:
        await pool.close()


async def test_audit_log_round_trip(db: asyncpg.Connection) -> None:
    entry = privacy.AuditEntry(
        tier="registered",
        endpoint="/api/g_variants",
        datasets=("a", "b"),
        granularities=(Granularity.COUNT, Granularity.BOOLEAN),
        returned_granularity=Granularity.COUNT,
        subject="alice",
        client_address="10.1.2.3",
        exists=True,
    )
    await privacy.record_query(db, entry)
    await privacy.record_query(
        db,
        privacy.AuditEntry(
            tier="anonymous",
            endpoint="/api/g_variants",
            datasets=(),
            granularities=(),
            returned_granularity=Granularity.BOOLEAN,
            client_address="10.9.9.9",
            exists=False,
        ),
    )
    newest_first = await privacy.read_audit(db)
    assert [e.client_address for e in newest_first] == ["10.9.9.9", "10.1.2.3"]
    alice = await privacy.read_audit(db, who="alice")
    assert len(alice) == 1
    got = alice[0]
    assert got.at is not None
    assert got.id is not None
    assert (got.subject, got.tier, got.datasets, got.granularities, got.exists) == (
        "alice",
        "registered",
        ("a", "b"),
        (Granularity.COUNT, Granularity.BOOLEAN),
        True,
    )
    columns = {
        r["column_name"]
        for r in await db.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_log'"
        )
    }
    # Nothing that could hold a token or the queried allele.
    assert not columns & {"token", "authorization", "query", "alternate_bases", "start"}


def test_audit_entry_lists_must_be_parallel() -> None:
    with pytest.raises(ValueError, match="parallel"):
        privacy.AuditEntry(
            tier="anonymous",
            endpoint="/",
            datasets=("a",),
            granularities=(),
            returned_granularity=Granularity.BOOLEAN,
        )


async def test_policies_are_stored_per_dataset(db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO dataset (id, name, assembly) VALUES ('d1', 'd1', 'GRCh38'),"
        " ('d2', 'd2', 'GRCh38')"
    )
    assert await privacy.dataset_policies(db) == {"d1": DEFAULT_POLICY, "d2": DEFAULT_POLICY}
    custom = DisclosurePolicy(
        anonymous=Granularity.COUNT, count_mode=CountMode.ROUND, count_threshold=10
    )
    await privacy.set_policy(db, "d2", custom)
    assert await privacy.get_policy(db, "d2") == custom
    assert (await privacy.dataset_policies(db))["d1"] == DEFAULT_POLICY
    with pytest.raises(NotFound):
        await privacy.set_policy(db, "nope", custom)
    with pytest.raises(NotFound):
        await privacy.get_policy(db, "nope")
