"""Fixtures shared by every test: a real PostgreSQL and fresh migrated databases.

``database_url`` gives each test its own database, cloned from a template that has every
migration applied, and drops it afterwards. ``db`` is an open connection to it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from beacon.storage import migrate
from beacon.storage.db import connect
from tests import pg

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BEACON_SHARED_DIR", REPO.parent / "shared"))
SHARED_VCF = SHARED / "data" / "vcf"
BEACON_SCHEMAS = SHARED / "reference" / "beacon-v2"


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    with pg.server_dsn() as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def template_database(pg_admin_dsn: str) -> AsyncIterator[str]:
    name = await pg.create_database(pg_admin_dsn)
    conn = await asyncpg.connect(pg.with_database(pg_admin_dsn, name))
    try:
        await migrate.upgrade(conn)
    finally:
        await conn.close()
    yield name
    await pg.drop_database(pg_admin_dsn, name)


@pytest.fixture
async def database_url(pg_admin_dsn: str, template_database: str) -> AsyncIterator[str]:
    """DSN of a fresh, fully migrated database used by this test alone."""
    name = await pg.create_database(pg_admin_dsn, template=template_database)
    yield pg.with_database(pg_admin_dsn, name)
    await pg.drop_database(pg_admin_dsn, name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
def shared_vcf_dir() -> Path:
    if not SHARED_VCF.is_dir():
        pytest.skip(f"{SHARED_VCF} is not present")
    return SHARED_VCF


@pytest.fixture(scope="session")
def beacon_schema_dir() -> Path:
    if not BEACON_SCHEMAS.is_dir():
        pytest.skip(f"{BEACON_SCHEMAS} is not present")
    return BEACON_SCHEMAS
