"""The connection lender on a real PostgreSQL: sharing, waiting, broken connections, outages."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from beacon.errors import StoreUnavailable
from beacon.storage.lender import Lender


async def test_many_statements_share_at_most_max_size_connections(database_url: str) -> None:
    set_up: list[int] = []

    async def setup(conn: asyncpg.Connection) -> None:
        set_up.append(conn.get_server_pid())
        await conn.execute("SET application_name = 'lender-test'")

    lender = Lender(database_url, max_size=3, setup=setup)
    try:
        rows = await asyncio.gather(
            *(
                lender.fetch(
                    "SELECT $1::int AS n, pg_backend_pid() AS pid, "
                    "current_setting('application_name') AS app, pg_sleep(0.001)",
                    [i],
                    timeout_s=10,
                )
                for i in range(60)
            )
        )
        assert [r[0]["n"] for r in rows] == list(range(60))
        pids = {r[0]["pid"] for r in rows}
        assert len(pids) <= 3
        assert sorted(pids) == sorted(set(set_up))  # each connection set up once
        assert {r[0]["app"] for r in rows} == {"lender-test"}
        assert lender.size == len(pids)
    finally:
        await lender.close()
    with pytest.raises(StoreUnavailable):
        await lender.fetch("SELECT 1", [], timeout_s=1)


async def test_a_broken_connection_is_replaced(database_url: str, pg_admin_dsn: str) -> None:
    lender = Lender(database_url, max_size=1)
    try:
        first = (await lender.fetch("SELECT pg_backend_pid() AS pid", [], timeout_s=5))[0]["pid"]
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        with pytest.raises(StoreUnavailable):
            await lender.fetch("SELECT 1", [], timeout_s=5)
        assert lender.size == 0
        second = (await lender.fetch("SELECT pg_backend_pid() AS pid", [], timeout_s=5))[0]["pid"]
        assert second != first
        # A database error closes the connection too (its state is unknown) and is raised.
        with pytest.raises(asyncpg.UndefinedTableError):
            await lender.fetch("SELECT * FROM no_such_table", [], timeout_s=5)
        assert (await lender.fetch("SELECT 1 AS one", [], timeout_s=5))[0]["one"] == 1
        assert lender.size == 1
    finally:
        await lender.close()


async def test_a_statement_over_its_deadline_gives_store_unavailable(database_url: str) -> None:
    lender = Lender(database_url, max_size=1)
    try:
        with pytest.raises(StoreUnavailable):
            await lender.fetch("SELECT pg_sleep(5)", [], timeout_s=0.2)
        # A caller waiting for the only connection gives up at its own deadline ...
        slow = asyncio.ensure_future(lender.fetch("SELECT pg_sleep(0.5)", [], timeout_s=5))
        await asyncio.sleep(0.05)
        with pytest.raises(StoreUnavailable):
            await lender.fetch("SELECT 1", [], timeout_s=0.05)
        await slow
        # ... and the lender is still whole afterwards.
        assert (await lender.fetch("SELECT 2 AS two", [], timeout_s=5))[0]["two"] == 2
        assert lender.size == 1
    finally:
        await lender.close()


async def test_an_unreachable_server_gives_store_unavailable(unused_tcp_port: int) -> None:
    lender = Lender(f"postgresql://beacon@127.0.0.1:{unused_tcp_port}/beacon", max_size=2)
    with pytest.raises(StoreUnavailable):
        await lender.fetch("SELECT 1", [], timeout_s=2)
    assert lender.size == 0
    await lender.close()
