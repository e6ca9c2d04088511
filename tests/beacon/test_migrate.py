from __future__ import annotations

import asyncpg

from beacon.storage import migrate
from tests import pg


async def test_upgrade_is_idempotent_and_records_versions(pg_admin_dsn: str) -> None:
    name = await pg.create_database(pg_admin_dsn)
    try:
        conn = await asyncpg.connect(pg.with_database(pg_admin_dsn, name))
        try:
            assert await migrate.current_version(conn) == 0
            first = await migrate.upgrade(conn)
            assert first == [m.version for m in migrate.available()]
            assert await migrate.upgrade(conn) == []
            assert await migrate.current_version(conn) == first[-1]
            tables = {
                r["tablename"]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public'"
                )
            }
            assert {"dataset", "sample", "variant", "gene", "schema_migration"} <= tables
        finally:
            await conn.close()
    finally:
        await pg.drop_database(pg_admin_dsn, name)


async def test_sessions_run_without_jit(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SHOW jit") == "off"
