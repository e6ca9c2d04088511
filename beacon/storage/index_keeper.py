"""Keeping one process's :class:`~beacon.storage.exact_index.ExactIndex` current.

An :class:`IndexKeeper` holds its own connection, ``LISTEN``\\ s on
:data:`beacon.storage.changes.CHANNEL`, then builds the index in one snapshot and offers it as
:attr:`IndexKeeper.index`. Lookups use the index only while it is there; ``None`` means "ask
PostgreSQL". The rules that keep answers no staler than PostgreSQL's own:

* the listener is in place before the snapshot is taken, so no change can fall between them;
* a change notification drops the index at once (consent withdrawals and removed datasets
  stop being counted as soon as PostgreSQL delivers the notification, which it sends when
  the writing transaction commits); a new index is built after :attr:`settle_s` seconds
  without further changes, and one whose build saw a notification is thrown away;
* a lost or silent listener connection drops the index too: the connection is checked every
  :attr:`check_s` seconds (within :attr:`check_timeout_s`), and re-opened with back-off.

While there is no index every lookup goes to PostgreSQL, so answers never depend on it; only
their cost does. ``max_alleles`` bounds the memory: only the smallest datasets whose alleles
add up to at most that many are indexed (0 switches the index off).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from beacon.defects import log_defect
from beacon.errors import StoreUnavailable
from beacon.storage import changes
from beacon.storage.db import connect
from beacon.storage.exact_index import ExactIndex, read_index

log = logging.getLogger(__name__)

_LOST = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class IndexKeeper:
    """The exact-lookup index of one process (one event loop), kept current in the background.

    ``settle_s``, ``check_s``, ``check_timeout_s`` and the back-off bounds are in seconds.
    """

    def __init__(
        self,
        dsn: str,
        *,
        max_alleles: int,
        settle_s: float = 0.5,
        check_s: float = 10.0,
        check_timeout_s: float = 5.0,
        build_timeout_s: float = 60.0,
        retry_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self._dsn = dsn
        self._max_alleles = max_alleles
        self.settle_s = settle_s
        self.check_s = check_s
        self.check_timeout_s = check_timeout_s
        self._build_timeout_s = build_timeout_s
        self._retry_s = retry_s
        self.index: ExactIndex | None = None
        """The current index, or ``None`` while there is none to trust."""
        self.builds = 0
        """Indexes built and offered so far."""
        self.drops = 0
        """Times the index was dropped (a change, or the listener lost)."""
        self._changed = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start keeping the index (no-op when ``max_alleles`` is 0 or already started)."""
        if self._max_alleles > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop, drop the index and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.index = None

    async def wait_ready(self) -> ExactIndex:
        """The next index offered (for callers that want one; lookups never wait)."""
        while self.index is None:
            self._ready.clear()
            await self._ready.wait()
        return self.index

    def state(self) -> tuple[int | None, int, int]:
        """(alleles in the current index or ``None``, :attr:`builds`, :attr:`drops`)."""
        return (None if self.index is None else len(self.index), self.builds, self.drops)

    def _drop(self, *_: Any) -> None:
        """A change was announced (or the connection ended): stop using the index now."""
        if self.index is not None:
            self.drops += 1
        self.index = None
        self._changed.set()

    async def _run(self) -> None:
        delay = self._retry_s[0]
        while True:
            conn: asyncpg.Connection | None = None
            builds = self.builds
            try:
                conn = await connect(self._dsn)
                conn.add_termination_listener(self._drop)
                await conn.add_listener(changes.CHANNEL, self._drop)
                await self._keep(conn)
            except (StoreUnavailable, *_LOST) as exc:
                log.warning("exact-lookup index unavailable, lookups use PostgreSQL: %s", exc)
            except Exception as exc:  # a defect: lookups still have PostgreSQL; try again
                log_defect(log, exc, "keeping the exact-lookup index")
            finally:
                self._drop()
                if conn is not None:
                    conn.terminate()
            if self.builds > builds:  # it worked for a while: start the back-off again
                delay = self._retry_s[0]
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_s[1])

    async def _keep(self, conn: asyncpg.Connection) -> None:
        """Build, offer, and rebuild after each change, until the connection fails."""
        while True:
            self._changed.clear()
            index = await read_index(
                conn, max_alleles=self._max_alleles, timeout_s=self._build_timeout_s
            )
            # A notification that arrived during the build may already be in the socket:
            # one round trip makes asyncpg read it before the index is offered.
            await conn.fetchval("SELECT 1", timeout=self.check_timeout_s)
            if not self._changed.is_set():
                self.index = index
                self.builds += 1
                self._ready.set()
                log.info(
                    "exact-lookup index: %d alleles of %d dataset(s)", len(index), len(index.covers)
                )
            while not self._changed.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self.check_s)
                    break
                await conn.fetchval("SELECT 1", timeout=self.check_timeout_s)
            await asyncio.sleep(self.settle_s)
