"""Frozen values describing what one member said (or failed to say) about one query.

Every member call ends as a :class:`MemberOutcome`, whatever happened: the fan-out never
raises. ``exists`` is ``None`` whenever the member did not give a trustworthy answer.
Counts are ``None`` when unknown; they are never guessed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class MemberStatus(enum.StrEnum):
    """How a member's part of a query ended."""

    ANSWERED = "answered"
    TIMEOUT = "timeout"
    ERROR = "error"
    UNAUTHORIZED = "unauthorized"
    NOT_APPLICABLE = "not_applicable"
    UNSUPPORTED = "unsupported"  # its API cannot express the query: it was not asked
    SKIPPED = "skipped"  # the member's circuit breaker is open

    @property
    def failed(self) -> bool:
        """True for outcomes that leave the network answer unknown (never a "no")."""
        return self in _FAILED


_FAILED = frozenset(
    {
        MemberStatus.TIMEOUT,
        MemberStatus.ERROR,
        MemberStatus.UNAUTHORIZED,
        MemberStatus.SKIPPED,
        MemberStatus.UNSUPPORTED,
    }
)


@dataclass(frozen=True, slots=True)
class Handover:
    url: str
    note: str | None = None
    handover_type: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DatasetAnswer:
    """One result set (dataset) of a member's answer.

    ``beacon_id`` is the beacon that holds the dataset: the member itself, or for a nested
    aggregator the beacon behind it. ``count`` is the number of matching variant records.
    ``results`` are the records themselves, passed through only at record granularity.
    """

    dataset_id: str
    beacon_id: str
    name: str | None = None
    exists: bool | None = None
    count: int | None = None
    allele_count: int | None = None
    allele_number: int | None = None
    frequency: float | None = None
    handovers: tuple[Handover, ...] = ()
    results: tuple[dict[str, Any], ...] = ()
    set_type: str = "dataset"


@dataclass(frozen=True, slots=True)
class MemberOutcome:
    """A member's answer, or why there is none.

    ``count`` is the member's ``numTotalResults`` when it reported one; ``count_exact`` is
    False when the member gave no count or said itself that its count is partial (a nested
    aggregator). ``latency_ms`` is the wall time of the call in milliseconds, ``None`` when no
    call was made (not applicable, skipped).
    """

    member_id: str
    name: str
    status: MemberStatus
    beacon_id: str | None = None
    exists: bool | None = None
    count: int | None = None
    count_exact: bool = False
    latency_ms: float | None = None
    message: str | None = None
    datasets: tuple[DatasetAnswer, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status.failed
