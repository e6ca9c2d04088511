"""Test databases on a real PostgreSQL: embedded by default, or BEACON_TEST_DATABASE_URL."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(dsn: str, database: str) -> str:
    """``dsn`` with its database name replaced (works for TCP and Unix-socket DSNs)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@contextmanager
def server_dsn() -> Iterator[str]:
    """A maintenance DSN (database ``postgres``) on the server the tests use."""
    explicit = os.environ.get("BEACON_TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="beacon-test-pg-"))
    srv = pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield str(srv.get_uri("postgres"))
    finally:
        srv.cleanup()


async def create_database(admin_dsn: str, *, template: str | None = None) -> str:
    """Create a uniquely named database (optionally from ``template``); return its name."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        if template:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
