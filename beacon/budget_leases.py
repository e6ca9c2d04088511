"""Query budgets spent locally from leases, so that most queries cost no database write.

A worker process takes a slice of an identity's budget from the store in one atomic statement
(:func:`beacon.storage.privacy.lease_budget`) and spends it in memory; when the slice is gone
it leases again. The store hands out at most the identity's limit per window over all leases
of all processes, so the budget is never exceeded. What a process leased and did not spend is
simply lost when the window ends (the guarantee is "never more than the limit", not "always
the limit"). A refusal is remembered for at most :data:`REFUSAL_MEMORY_S` seconds, so that a
caller hammering a spent budget costs no round trip per request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Final

from beacon.storage import privacy
from beacon.storage.db import Pool

LEASE_MOST: Final = 64
"""Most queries one lease takes (fewer when less remains: at most a quarter of the rest)."""

REFUSAL_MEMORY_S: Final = 1.0
"""How long a spent budget is refused without asking the store again (seconds)."""

MAX_IDENTITIES: Final = 50_000
"""Identities held in memory before leases are forgotten (ended ones first, then the oldest)."""


@dataclass(slots=True)
class _Lease:
    tokens: int = 0
    valid_until: float = 0.0  # time.monotonic(); the tokens are void afterwards
    refused_until: float = 0.0  # time.monotonic()
    window_ends: float = 0.0  # time.monotonic() when the store's window ends, at a refusal


@dataclass(frozen=True, slots=True)
class Spent:
    """A refused query: the budget of ``limit`` is spent; it renews in ``retry_after_s``."""

    limit: int
    retry_after_s: int


class BudgetLeases:
    """One process's leases on the query budgets in the store (one instance per app)."""

    def __init__(
        self,
        pool: Pool,
        *,
        timeout_s: float,
        most: int = LEASE_MOST,
        refusal_memory_s: float = REFUSAL_MEMORY_S,
    ) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._most = most
        self._refusal_memory_s = refusal_memory_s
        self._leases: dict[str, _Lease] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def charge(self, identity: str, *, limit: int, window_s: int) -> Spent | None:
        """Spend one query of ``identity``'s budget (``limit`` per ``window_s`` seconds).

        Returns ``None`` when allowed, :class:`Spent` when the budget is spent. Raises
        :class:`beacon.errors.StoreUnavailable` when a lease is needed and the store cannot
        grant it within the timeout.
        """
        if limit <= 0:
            return Spent(limit, window_s)
        lease = self._leases.get(identity)
        if lease is not None and _take(lease, time.monotonic()):
            return None
        lock = self._locks.get(identity)
        if lock is None:
            lock = self._locks[identity] = asyncio.Lock()
        async with lock:
            now = time.monotonic()
            lease = self._leases.get(identity)
            if lease is None:
                self._forget_ended(now)
                lease = self._leases[identity] = _Lease()
            elif _take(lease, now):
                return None
            if lease.refused_until > now:
                return Spent(limit, _whole_seconds(lease.window_ends - now))
            asked = time.monotonic()
            granted = await asyncio.wait_for(
                privacy.lease_budget(
                    self._pool, identity, limit=limit, window_s=window_s, most=self._most
                ),
                self._timeout_s,
            )
            # The window's end is measured from before the request was sent, so the local
            # deadline never falls after the store's.
            if granted.granted > 0:
                lease.tokens = granted.granted - 1
                lease.valid_until = asked + granted.remaining_s
                lease.refused_until = 0.0
                return None
            lease.tokens = 0
            lease.refused_until = asked + min(self._refusal_memory_s, max(granted.remaining_s, 0.0))
            lease.window_ends = asked + granted.remaining_s
            return Spent(limit, _whole_seconds(granted.remaining_s))

    @property
    def identities(self) -> int:
        """Identities whose lease or refusal this process holds in memory."""
        return len(self._leases)

    def _forget_ended(self, now: float) -> None:
        """Bound the memory held per identity: at :data:`MAX_IDENTITIES`, forget every lease
        that has ended, then the oldest until half are left. Forgetting a lease only loses its
        unspent queries (the store never hands them out twice)."""
        if len(self._leases) < MAX_IDENTITIES:
            return
        for identity, lease in list(self._leases.items()):
            if lease.valid_until <= now and lease.refused_until <= now:
                self._forget(identity)
        for identity in list(self._leases)[: max(0, len(self._leases) - MAX_IDENTITIES // 2)]:
            self._forget(identity)

    def _forget(self, identity: str) -> None:
        del self._leases[identity]
        lock = self._locks.get(identity)
        if lock is not None and not lock.locked():
            del self._locks[identity]


def _take(lease: _Lease, now: float) -> bool:
    """Spend one leased query when one is left and the lease is still valid."""
    if lease.tokens > 0 and now < lease.valid_until:
        lease.tokens -= 1
        return True
    return False


def _whole_seconds(seconds: float) -> int:
    """Whole seconds, rounded up, at least 1 (a ``Retry-After`` value)."""
    return max(1, int(seconds + 0.999))
