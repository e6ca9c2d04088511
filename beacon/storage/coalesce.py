"""Identical statements issued together share one round trip to PostgreSQL.

Under load many requests run the same variant lookup (the same SQL text, different ``$n``
values) at the same moment. Each round trip costs more than the lookup itself here: a write
that wakes a PostgreSQL backend, a read that wakes us, and the server's per-statement work.
A :class:`Coalescer` collects the :meth:`~Coalescer.fetch` calls made during one turn of the
event loop and sends each group of identical statements as ONE statement
(:func:`combined_sql`): the group's statements side by side under ``UNION ALL``, each tagged
with its place in the group, so every caller gets exactly the rows its own statement would
have returned, in the same order. A lone statement is sent as it is. Latency added: one turn
of the event loop (a call made while the process is idle is sent at once in the next turn).

Errors: a :class:`StoreUnavailable` (server down, deadline passed) fails the whole group, as it
would have failed each statement; any other database error makes each statement of the group
run on its own, so that one statement's error is only its caller's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, Final

import asyncpg

from beacon.errors import StoreUnavailable
from beacon.storage.lender import Lender

MAX_GROUP: Final = 8
"""Most statements sent as one (a combined statement is prepared once per group size)."""

TAG: Final = "coalesced_statement"
ORDINAL: Final = "coalesced_row"
_PARAM = re.compile(r"\$(\d+)")


def combined_sql(sql: str, n_args: int, group: int) -> str:
    """``group`` copies of ``sql`` (whose parameters are ``$1``..``$n_args``) as one
    statement: copy ``j`` (0-based) reads parameters ``$(j*n_args+1)``.. and its rows carry
    ``coalesced_statement = j`` and ``coalesced_row`` (1-based, in the copy's own order);
    rows come ordered by both. ``sql`` must not contain ``$`` other than in parameters
    (true of every statement built by :mod:`beacon.storage.queries`)."""
    parts = []
    for j in range(group):
        copy = _shift_params(sql, j * n_args)
        parts.append(f"SELECT {j} AS {TAG}, row_number() OVER () AS {ORDINAL}, s.* FROM ({copy}) s")
    return "SELECT * FROM (" + " UNION ALL ".join(parts) + f") c ORDER BY {TAG}, {ORDINAL}"


def _shift_params(sql: str, shift: int) -> str:
    """``sql`` with every ``$k`` renumbered ``$(k + shift)``."""
    if not shift:
        return sql

    def renumber(m: re.Match[str]) -> str:
        return f"${int(m.group(1)) + shift}"

    return _PARAM.sub(renumber, sql)


class _Call:
    __slots__ = ("args", "future", "timeout_s")

    def __init__(self, args: Sequence[Any], future: asyncio.Future[list[Any]], timeout_s: float):
        self.args = args
        self.future = future
        self.timeout_s = timeout_s


class Coalescer:
    """Sends statements through ``lender``, identical ones issued in the same event-loop
    turn as one (at most :data:`MAX_GROUP`). Not thread-safe: one event loop."""

    def __init__(self, lender: Lender, *, max_group: int = MAX_GROUP) -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._lender = lender
        self._max_group = max_group
        self._waiting: dict[str, list[_Call]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._combined: dict[tuple[str, int, int], str] = {}
        self.calls_combined = 0
        """Calls answered by a combined statement so far (for tests and diagnostics)."""

    async def fetch(self, sql: str, args: Sequence[Any], *, timeout_s: float) -> list[Any]:
        """The rows of ``sql`` with ``args`` (as :meth:`Lender.fetch`: same deadline, same
        errors). Rows of a combined statement carry two more columns (``coalesced_*``)."""
        if self._max_group == 1:
            return await self._lender.fetch(sql, args, timeout_s=timeout_s)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)
        self._waiting.setdefault(sql, []).append(_Call(args, future, timeout_s))
        return await future

    async def close(self) -> None:
        """Wait for the statements already sent."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for sql, calls in waiting.items():
            for at in range(0, len(calls), self._max_group):
                task = asyncio.get_running_loop().create_task(
                    self._run(sql, calls[at : at + self._max_group])
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _run(self, sql: str, calls: list[_Call]) -> None:
        try:
            await self._run_group(sql, [c for c in calls if not c.future.done()])
        except BaseException as exc:  # never leave a caller waiting
            for c in calls:
                _fail(c, exc)
            if not isinstance(exc, Exception):
                raise

    async def _run_group(self, sql: str, calls: list[_Call]) -> None:
        n_args = len(calls[0].args) if calls else 0
        if len(calls) > 1 and all(len(c.args) == n_args for c in calls):
            timeout_s = min(c.timeout_s for c in calls)
            args = [a for c in calls for a in c.args]
            try:
                rows = await self._lender.fetch(
                    self._combined_sql(sql, n_args, len(calls)), args, timeout_s=timeout_s
                )
            except StoreUnavailable as exc:
                for c in calls:
                    _fail(c, exc)
                return
            except (asyncpg.PostgresError, asyncpg.InterfaceError):
                pass  # run each on its own below: the error is one statement's
            else:
                self.calls_combined += len(calls)
                split: list[list[Any]] = [[] for _ in calls]
                for row in rows:
                    split[row[TAG]].append(row)
                for c, own in zip(calls, split, strict=True):
                    if not c.future.done():
                        c.future.set_result(own)
                return
        await asyncio.gather(*(self._run_one(sql, c) for c in calls))

    async def _run_one(self, sql: str, call: _Call) -> None:
        try:
            rows = await self._lender.fetch(sql, call.args, timeout_s=call.timeout_s)
        except Exception as exc:  # handed to the caller, whose await raises it
            _fail(call, exc)
        else:
            if not call.future.done():
                call.future.set_result(rows)

    def _combined_sql(self, sql: str, n_args: int, group: int) -> str:
        key = (sql, n_args, group)
        found = self._combined.get(key)
        if found is None:
            if len(self._combined) >= 256:
                self._combined.clear()
            found = self._combined[key] = combined_sql(sql, n_args, group)
        return found


def _fail(call: _Call, exc: BaseException) -> None:
    if not call.future.done():
        call.future.set_exception(exc)
