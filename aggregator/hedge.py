"""Hedged member calls: when a member is slower than it usually is, ask it a second time.

A member's answer time varies from call to call (a busy moment, a lost packet, a slow
disk); waiting for every member of a large network means waiting for the slowest draw of
all of them. A :class:`Hedger` remembers one member's recent answer times and, once it has
seen enough of them, names a delay (their ``quantile``, 95 % by default): a call still
running after that delay gets a second, identical request, and whichever answers first is
used ("The Tail at Scale", Dean and Barroso, 2013). A budget keeps the extra requests to at
most ``max_share`` of the member's calls, so a member that becomes slow for everyone gets no
more than that much extra load.

Pure and clock-free: the caller feeds it latencies in milliseconds and asks it for decisions,
so the rules can be tested exhaustively without waiting.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class HedgePolicy:
    """When to send a second request. ``enabled`` False never hedges.

    ``quantile`` (0 < q < 1) of the last ``window`` answer times is the delay; no delay is
    named before ``min_samples`` answers have been seen. ``max_share`` (0-1) bounds the
    second requests as a share of calls (with a burst of at most ``burst`` in a row).
    ``min_delay_ms`` keeps the delay above scheduling noise.
    """

    enabled: bool = True
    quantile: float = 0.95
    max_share: float = 0.1
    window: int = 256
    min_samples: int = 20
    min_delay_ms: float = 2.0
    burst: float = 5.0


@dataclass(slots=True)
class Hedger:
    """One member's answer times and hedge budget. Not thread-safe (one event loop)."""

    policy: HedgePolicy = field(default_factory=HedgePolicy)
    _times: deque[float] = field(default_factory=deque)
    _delay_ms: float | None = None
    _stale: int = 0
    _tokens: float = 0.0

    def observe(self, latency_ms: float) -> None:
        """Record the answer time (ms) of one request that got an answer."""
        times = self._times
        times.append(latency_ms)
        if len(times) > self.policy.window:
            times.popleft()
        self._stale += 1

    def delay_ms(self) -> float | None:
        """How long (ms) to wait before a second request, or ``None``: not enabled, or not
        enough answers seen yet. Recomputed every few observations, not every call."""
        policy = self.policy
        if not policy.enabled or len(self._times) < policy.min_samples:
            return None
        if self._delay_ms is None or self._stale >= 8:
            ordered = sorted(self._times)
            at = min(len(ordered) - 1, max(0, math.ceil(policy.quantile * len(ordered)) - 1))
            self._delay_ms = max(policy.min_delay_ms, ordered[at])
            self._stale = 0
        return self._delay_ms

    def call(self) -> None:
        """Count one call towards the budget (each call earns ``max_share`` of a request)."""
        policy = self.policy
        self._tokens = min(policy.burst, self._tokens + policy.max_share)

    def take(self) -> bool:
        """May a second request be sent now? Spends one request of the budget if so."""
        if not self.policy.enabled or self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
