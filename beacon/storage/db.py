"""Connections: choosing the store, the pool, and the per-session settings.

The store is ``Settings.database_url`` when set, otherwise an embedded PostgreSQL under
``Settings.data_dir`` (see :mod:`beacon.storage.embedded`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from beacon.config import Settings
from beacon.errors import StoreUnavailable

log = logging.getLogger(__name__)

# JIT compilation made short queries stall for hundreds of milliseconds; the beacon's queries
# are all short, index-driven lookups, so it is always off for our sessions.
SERVER_SETTINGS = {"jit": "off", "application_name": "beacon"}

Pool = asyncpg.Pool
Connection = asyncpg.Connection

CONNECT_TIMEOUT_S = 10.0

_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InternalClientError,
)


def resolve_dsn(settings: Settings, *, database: str = "beacon") -> str:
    """The DSN to use: ``settings.database_url``, else the embedded server's (started if needed).

    ``database`` names the database inside the embedded server; it is created when missing.
    """
    if settings.database_url:
        return settings.database_url
    from beacon.storage import embedded

    return embedded.ensure_database(settings.data_dir, database)


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection with the beacon's session settings.

    Raises :class:`StoreUnavailable` when the server cannot be reached within
    ``CONNECT_TIMEOUT_S`` seconds.
    """
    try:
        return await asyncpg.connect(
            dsn, timeout=CONNECT_TIMEOUT_S, server_settings=SERVER_SETTINGS
        )
    except _UNAVAILABLE as exc:
        raise StoreUnavailable("the variant store is unavailable") from exc


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> Pool:
    """A connection pool with the beacon's session settings.

    Raises :class:`StoreUnavailable` when the server cannot be reached.
    """
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=CONNECT_TIMEOUT_S,
            server_settings=SERVER_SETTINGS,
            **kwargs,
        )
    except _UNAVAILABLE as exc:
        raise StoreUnavailable("the variant store is unavailable") from exc
    assert pool is not None
    return pool


@asynccontextmanager
async def unavailable_as_error() -> AsyncIterator[None]:
    """Turn connection-level failures inside the block into :class:`StoreUnavailable`."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise StoreUnavailable("the variant store is unavailable") from exc
    except asyncpg.QueryCanceledError as exc:
        raise StoreUnavailable("the variant store did not answer in time") from exc
