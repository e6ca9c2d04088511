"""Circuit breaker: stop asking a member that keeps failing, then probe it back.

States: *closed* (every call goes through), *open* (calls are skipped until ``reset_s`` seconds
have passed since it opened), *half_open* (exactly one probe call is let through; its success
closes the breaker, its failure opens it again). ``failures`` consecutive failures open a
closed breaker. Times are seconds from a monotonic clock passed in by the caller, so the
decisions are pure and testable without waiting.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class Breaker:
    """Mutable breaker of one member. Not thread-safe; used from one event loop."""

    failures: int = 3
    reset_s: float = 30.0
    _consecutive: int = 0
    _opened_at: float | None = None
    _probing: bool = False

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or now - self._opened_at >= self.reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self, now: float) -> bool:
        """May a call start now? In half-open state only the first caller gets ``True``
        (it becomes the probe) until that probe reports back."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._probing:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self, now: float) -> None:
        self._consecutive += 1
        if self._probing or self._opened_at is not None:
            self._opened_at = now
            self._probing = False
        elif self._consecutive >= self.failures:
            self._opened_at = now

    def release(self) -> None:
        """Forget an in-flight probe whose result says nothing about health (cancelled, or
        an answer such as 401 that is neither success nor failure of the member)."""
        self._probing = False
