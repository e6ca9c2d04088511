"""Identical statements issued together share one round trip, on a real PostgreSQL: every
caller still gets exactly its own rows, in order, and its own errors."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from beacon.errors import StoreUnavailable
from beacon.storage.coalesce import Coalescer, combined_sql
from beacon.storage.lender import Lender
from beacon.web import STORE
from tests.beacon.querydata import load
from tests.beacon.webutil import beacon_client

SERIES = "SELECT g AS n, $2::text AS label FROM generate_series(1, $1::int) g ORDER BY g DESC"


class CountingLender(Lender):
    """A real lender that remembers the statements it was given."""

    def __init__(self, dsn: str, **kw: Any) -> None:
        super().__init__(dsn, **kw)
        self.sent: list[tuple[str, int]] = []

    async def fetch(self, sql: str, args: Sequence[Any], *, timeout_s: float) -> list[Any]:
        self.sent.append((sql, len(args)))
        return await super().fetch(sql, args, timeout_s=timeout_s)


def test_combined_sql_renumbers_each_copy_and_tags_its_rows() -> None:
    sql = combined_sql("SELECT $1::int + $2::int AS s WHERE $1::int > 0", 2, 3)
    assert sql.count("UNION ALL") == 2
    assert "$1::int + $2::int AS s WHERE $1::int" in sql
    assert "$3::int + $4::int AS s WHERE $3::int" in sql
    assert "$5::int + $6::int AS s WHERE $5::int" in sql
    assert "$7" not in sql
    assert sql.endswith("ORDER BY coalesced_statement, coalesced_row")


async def test_each_caller_gets_its_own_rows_in_order(database_url: str) -> None:
    lender = CountingLender(database_url, max_size=2)
    reader = Coalescer(lender, max_group=8)
    try:
        results = await asyncio.gather(
            *(reader.fetch(SERIES, [i % 7, f"call {i}"], timeout_s=10) for i in range(20))
        )
        for i, rows in enumerate(results):
            assert [r["n"] for r in rows] == list(range(i % 7, 0, -1))
            assert {r["label"] for r in rows} <= {f"call {i}"}
        # 20 identical statements in one turn of the loop: groups of 8, 8 and 4
        assert sorted(n for _, n in lender.sent) == [8, 16, 16]
    finally:
        await reader.close()
        await lender.close()


async def test_different_statements_are_not_combined(database_url: str) -> None:
    lender = CountingLender(database_url, max_size=2)
    reader = Coalescer(lender)
    try:
        a, b = await asyncio.gather(
            reader.fetch("SELECT $1::int AS a", [1], timeout_s=10),
            reader.fetch("SELECT $1::text AS b", ["x"], timeout_s=10),
        )
        assert (a[0]["a"], b[0]["b"]) == (1, "x")
        assert sorted(lender.sent) == [("SELECT $1::int AS a", 1), ("SELECT $1::text AS b", 1)]
    finally:
        await lender.close()


async def test_a_statement_alone_is_sent_as_it_is(database_url: str) -> None:
    lender = CountingLender(database_url, max_size=1)
    reader = Coalescer(lender)
    try:
        rows = await reader.fetch(SERIES, [3, "alone"], timeout_s=10)
        assert [tuple(r) for r in rows] == [(3, "alone"), (2, "alone"), (1, "alone")]
        assert lender.sent == [(SERIES, 2)]
    finally:
        await lender.close()


async def test_one_statements_error_is_only_its_callers(database_url: str) -> None:
    lender = CountingLender(database_url, max_size=2)
    reader = Coalescer(lender)
    try:
        results = await asyncio.gather(
            *(reader.fetch("SELECT 100 / $1::int AS q", [d], timeout_s=10) for d in (5, 0, 4)),
            return_exceptions=True,
        )
        assert [r[0]["q"] for r in (results[0], results[2])] == [20, 25]  # type: ignore[index]
        assert isinstance(results[1], asyncpg.DivisionByZeroError)
        assert lender.sent[0][1] == 3  # tried together first, then one by one
    finally:
        await lender.close()


async def test_a_cancelled_caller_does_not_disturb_the_others(database_url: str) -> None:
    lender = Lender(database_url, max_size=1)
    reader = Coalescer(lender)
    try:
        sql = "SELECT $1::int AS n, pg_sleep(0.05)"
        tasks = [asyncio.create_task(reader.fetch(sql, [i], timeout_s=10)) for i in range(4)]
        await asyncio.sleep(0)
        tasks[1].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[1], asyncio.CancelledError)
        assert [d[0]["n"] for d in (done[0], done[2], done[3])] == [0, 2, 3]  # type: ignore[index]
    finally:
        await lender.close()


async def test_an_unreachable_store_fails_every_caller_clearly(unused_tcp_port: int) -> None:
    lender = Lender(f"postgresql://postgres@127.0.0.1:{unused_tcp_port}/x", max_size=1)
    reader = Coalescer(lender)
    results = await asyncio.gather(
        *(reader.fetch("SELECT $1::int", [i], timeout_s=2) for i in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreUnavailable) for r in results)
    await lender.close()


async def test_a_group_of_one_never_combines(database_url: str) -> None:
    lender = CountingLender(database_url, max_size=2)
    reader = Coalescer(lender, max_group=1)
    try:
        await asyncio.gather(*(reader.fetch(SERIES, [2, "x"], timeout_s=10) for _ in range(5)))
        assert lender.sent == [(SERIES, 2)] * 5
    finally:
        await lender.close()
    with pytest.raises(ValueError):
        Coalescer(lender, max_group=0)


async def test_concurrent_http_queries_answer_as_one_at_a_time(
    database_url: str, tmp_path: Path
) -> None:
    """Many different queries at once (so that they are combined) give exactly the answers
    the same queries give one at a time with combining off."""
    await load(database_url, tmp_path)
    queries: list[dict[str, str]] = []
    for start in ("43045711", "43045712", "43045799", "43045999", "43046100", "43050000"):
        for alt in ("C", "A", "T", "G", "TG", "N"):
            queries.append({"referenceName": "17", "start": start, "alternateBases": alt})
    queries += [
        {"referenceName": "17", "start": "43045000", "end": "43071000"},
        {"referenceName": "17", "start": "43045700,43045800", "end": "43045712,43060000"},
        {"referenceName": "17", "start": "43055000", "end": "43055001", "variantType": "DEL"},
    ]
    queries += [{**q, "requestedGranularity": "record"} for q in queries]
    queries += [{**q, "requestedGranularity": "count"} for q in queries[: len(queries) // 2]]

    async def answer(client: TestClient, q: dict[str, str]) -> tuple[int, Any, Any]:
        response = await client.get("/g_variants", params=q)
        body = await response.json()
        return response.status, body.get("responseSummary"), body.get("response")

    async with beacon_client(database_url, db_coalesce=1) as alone:
        expected = [await answer(alone, q) for q in queries]
    async with beacon_client(database_url) as together:
        got = await asyncio.gather(*(answer(together, q) for q in queries))
        combined = together.app[STORE].reader.calls_combined  # type: ignore[index]
    assert combined > 0  # some of them did go together
    assert sum(1 for _, summary, _ in expected if summary["exists"]) >= 10
    assert got == expected
