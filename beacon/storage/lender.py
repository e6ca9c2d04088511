"""Connections lent for one statement at a time: the variant queries' hot path.

:class:`asyncpg.Pool` costs ~40 µs of CPU per acquire/release (a task to shield the release)
and ~40 µs more with an acquire timeout, about as much as the query's own round trip. A
:class:`Lender` keeps its idle connections in a list: lending one and taking it back are a
``pop`` and an ``append``; only a caller that finds none idle and the lender full waits (with
the caller's deadline). A connection that saw any error is closed and replaced on demand, so a
lent connection is always idle, outside a transaction and with the session set-up applied.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from beacon.errors import StoreUnavailable
from beacon.storage.db import connect, unavailable_as_error

Setup = Callable[[asyncpg.Connection], Awaitable[None]]


class Lender:
    """Up to ``max_size`` connections to ``dsn``, each prepared by ``setup`` once when opened.

    Connections are opened on demand (none at construction), so the lender works while the
    server is down and recovers when it is back. Not thread-safe: one event loop.
    """

    def __init__(self, dsn: str, *, max_size: int, setup: Setup | None = None) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._dsn = dsn
        self._max_size = max_size
        self._setup = setup
        self._idle: list[asyncpg.Connection] = []
        self._size = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._closed = False

    async def fetch(self, sql: str, args: Sequence[Any], *, timeout_s: float) -> list[Any]:
        """The rows of ``sql`` with ``args``, within ``timeout_s`` seconds for the wait for a
        connection and again for the statement.

        Raises :class:`StoreUnavailable` when the server cannot be reached or does not answer
        in time, and any other database error as asyncpg raises it.
        """
        async with unavailable_as_error():
            conn = await self._lend(timeout_s)
            try:
                rows: list[Any] = await conn.fetch(sql, *args, timeout=timeout_s)
            except BaseException:
                self._discard(conn)
                raise
            self._take_back(conn)
            return rows

    async def close(self) -> None:
        """Close the idle connections now and every lent one when it comes back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._size -= 1
            await conn.close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(StoreUnavailable("the variant store is closed"))

    @property
    def size(self) -> int:
        """Connections open (idle or lent) or being opened."""
        return self._size

    async def _lend(self, timeout_s: float) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise StoreUnavailable("the variant store is closed")
            if self._idle:
                return self._idle.pop()
            if self._size < self._max_size:
                return await self._open(timeout_s)
            waiter: asyncio.Future[asyncpg.Connection | None] = (
                asyncio.get_running_loop().create_future()
            )
            self._waiters.append(waiter)
            try:
                got = await asyncio.wait_for(waiter, timeout_s)
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    handed = waiter.result()  # handed over just as the wait ended
                    if handed is not None:
                        self._take_back(handed)
                    else:
                        self._pass_slot()
                raise
            if got is not None:
                return got
            # A connection was closed: its slot is free, open one (next turn of the loop).

    async def _open(self, timeout_s: float) -> asyncpg.Connection:
        self._size += 1
        try:
            conn = await asyncio.wait_for(connect(self._dsn), timeout_s)
            try:
                if self._setup is not None:
                    await asyncio.wait_for(self._setup(conn), timeout_s)
            except BaseException:
                conn.terminate()
                raise
        except BaseException:
            self._size -= 1
            self._pass_slot()
            raise
        return conn

    def _take_back(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed():
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: asyncpg.Connection) -> None:
        """Close a connection whose state is unknown (an error, a cancelled statement)."""
        if not conn.is_closed():
            conn.terminate()
        self._size -= 1
        self._pass_slot()

    def _pass_slot(self) -> None:
        """Tell the first waiter that a slot is free so that it opens a connection itself."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
