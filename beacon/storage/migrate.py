"""Numbered, forward-only migrations from ``migrations/NNNN_name.sql``.

:func:`upgrade` applies every migration newer than the database's, each in its own
transaction, under an advisory lock so that concurrent starters do not race.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

_LOCK_KEY = 0x6265_6163  # "beac"

CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version FROM schema_migration"
INSERT_APPLIED = "INSERT INTO schema_migration (version, name) VALUES ($1, $2)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found = []
    for entry in resources.files("beacon.storage").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    return found


async def upgrade(conn: asyncpg.Connection) -> list[int]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(CREATE_VERSION_TABLE)
        done = {r["version"] for r in await conn.fetch(SELECT_APPLIED)}
        for migration in available():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(INSERT_APPLIED, migration.version, migration.name)
            log.info("applied migration %04d %s", migration.version, migration.name)
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def current_version(conn: asyncpg.Connection) -> int:
    """Highest applied migration version, 0 for an empty database."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migration")
    return int(version)
