"""The audit log written in batches, off the request path.

Answering a query appends its audit row (:meth:`AuditWriter.record_answer`, or
:meth:`AuditWriter.record` for a :class:`beacon.storage.privacy.AuditEntry`) to an in-memory
buffer (no I/O); a background task writes the buffer by binary COPY (at most
:data:`FLUSH_ROWS` entries each) every :data:`FLUSH_INTERVAL_S` seconds, or as soon as
:data:`FLUSH_ROWS` entries wait, and once more when the app shuts down. Entries carry the
time the query was answered, not the time of the write.

The crash window: entries answered in the last ~``FLUSH_INTERVAL_S`` seconds before a worker
is killed without a clean shutdown (SIGKILL, power loss) are not written. When the store does
not take a batch, the entries stay buffered and are retried at the next flush; once
:data:`MAX_PENDING` entries wait, new queries are refused with 503 rather than answered
unaudited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from beacon.errors import StoreUnavailable
from beacon.storage import audit_copy, privacy
from beacon.storage.db import Pool

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S: Final = 0.5
"""Longest time an entry waits in memory before a write is attempted (seconds)."""

FLUSH_ROWS: Final = 1024
"""Entries that trigger a write before the interval is up, and the most written by one COPY:
encoding a batch holds the event loop (about 1 µs per entry, :mod:`beacon.storage.audit_copy`),
so batches stay small enough not to delay the queries being answered meanwhile (~1 ms)."""

MAX_PENDING: Final = 100_000
"""Entries buffered while the store refuses them; beyond this, queries are refused (503)."""


class AuditWriter:
    """Buffers audit entries and writes them in batches (one instance per app).

    :meth:`start` launches the background task, :meth:`close` stops it after a final write.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        timeout_s: float,
        interval_s: float = FLUSH_INTERVAL_S,
        batch_rows: int = FLUSH_ROWS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._interval_s = interval_s
        self._batch_rows = batch_rows
        self._max_pending = max_pending
        self._pending: list[audit_copy.Row] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def record(self, entry: privacy.AuditEntry) -> None:
        """Queue ``entry`` for the next write (no I/O); one without ``at`` records now.

        Raises :class:`StoreUnavailable` when :data:`MAX_PENDING` entries already wait (the
        store has refused them) or the writer has stopped, so that no query is answered
        without its audit entry.
        """
        self._append(audit_copy.row_of(entry, time.time_ns() // 1000))

    def record_answer(self, fields: audit_copy.Fields) -> None:
        """:meth:`record` of the entry of a query answered now, with these fields (in
        :data:`beacon.storage.audit_copy.Fields` order; ``datasets`` and ``granularities``
        parallel), without making an :class:`~beacon.storage.privacy.AuditEntry`: the query
        path's way. Raises as :meth:`record`."""
        self._append((time.time_ns() // 1000, fields))

    def _append(self, row: audit_copy.Row) -> None:
        if len(self._pending) >= self._max_pending:
            raise StoreUnavailable("the audit log cannot be written")
        if self._task is not None and self._task.done():
            raise StoreUnavailable("the audit log writer has stopped")
        self._pending.append(row)
        if len(self._pending) >= self._batch_rows:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Entries not yet written."""
        return len(self._pending)

    def start(self) -> None:
        """Launch the background writer (on the running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="beacon-audit-writer"
            )

    async def flush(self) -> None:
        """Write every buffered entry now. Raises :class:`StoreUnavailable` when the store
        does not take them (they stay buffered)."""
        while self._pending:
            taken, self._pending = self._pending, []
            for at in range(0, len(taken), self._batch_rows):
                batch = taken[at : at + self._batch_rows]
                try:
                    await privacy.write_audit_rows(self._pool, batch, timeout_s=self._timeout_s)
                except BaseException:
                    self._pending[:0] = taken[at:]  # keep their order ahead of newer entries
                    raise

    async def close(self) -> None:
        """Stop the background task and write what is left. Raises :class:`StoreUnavailable`
        when the last entries cannot be written (the count is logged as an error)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        try:
            await self.flush()
        except StoreUnavailable:
            log.error("%d audit entries could not be written at shutdown", len(self._pending))
            raise

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # the interval is up: write anyway
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            if self._closing:
                return
            try:
                await self.flush()
            except StoreUnavailable as exc:
                # Kept for the next attempt; record() refuses queries once too many wait.
                log.warning(
                    "audit log write failed (%s); %d entries kept for retry",
                    exc.message,
                    len(self._pending),
                )
