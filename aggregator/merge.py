"""Member outcomes -> one network answer (pure; no I/O, no clock).

The rules (documented in ``docs/aggregator.md``):

* ``exists`` is **True** when any member answered yes; **False** only when every *applicable*
  member (status other than ``not_applicable``) answered no; otherwise it is **unknown**
  (``None``). A member that timed out, failed, refused the caller, was skipped by its
  breaker or could not be asked because its API cannot express the query (``unsupported``)
  therefore never turns into a "no". With no applicable member at all the network holds no
  data for the query, and the answer is False.
* Duplicate result sets (the same ``(beaconId, datasetId)`` reached through two members, e.g.
  a beacon asked directly and again through a nested aggregator) are kept once, from the
  member listed first.
* ``count`` sums the distinct result sets' ``resultsCount`` of members that gave exact counts
  (a member that lists no result sets contributes its ``numTotalResults``). ``partial`` is True
  when some applicable member gave no exact count (it failed, answered without counts, or is
  an aggregator whose own count is partial); ``count`` is then a lower bound, or ``None`` when
  no member gave a count at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aggregator.outcome import DatasetAnswer, MemberOutcome, MemberStatus


@dataclass(frozen=True, slots=True)
class NetworkAnswer:
    """The merged answer. ``outcomes`` keep the members' order; ``datasets`` are de-duplicated."""

    exists: bool | None
    members_total: int
    members_applicable: int
    members_answered: int
    members_with_hit: int
    members_failed: int
    partial: bool
    count: int | None
    outcomes: tuple[MemberOutcome, ...]
    datasets: tuple[DatasetAnswer, ...]


def merge_exists(outcomes: Iterable[MemberOutcome]) -> bool | None:
    """The network's ``exists`` under the rules above."""
    unknown = False
    for o in outcomes:
        if o.status is MemberStatus.NOT_APPLICABLE:
            continue
        if o.status is MemberStatus.ANSWERED and o.exists is True:
            return True
        if o.status is not MemberStatus.ANSWERED or o.exists is None:
            unknown = True
    return None if unknown else False


def merge(outcomes: Iterable[MemberOutcome]) -> NetworkAnswer:
    """Merge the members' outcomes (in configuration order) into a :class:`NetworkAnswer`."""
    ordered = tuple(outcomes)
    applicable = [o for o in ordered if o.status is not MemberStatus.NOT_APPLICABLE]
    answered = [o for o in applicable if o.status is MemberStatus.ANSWERED]
    seen: set[tuple[str, str]] = set()
    datasets: list[DatasetAnswer] = []
    count = 0
    counted_any = False
    partial = False
    for o in applicable:
        if o.status is not MemberStatus.ANSWERED:
            partial = True
            continue
        fresh = []
        for d in o.datasets:
            key = (d.beacon_id, d.dataset_id)
            if key in seen:
                continue
            seen.add(key)
            fresh.append(d)
        datasets.extend(fresh)
        if not o.count_exact:
            partial = True
            continue
        if o.datasets:
            # Count from the distinct result sets so a dataset reached twice is counted once.
            # Only member answers with exact counts get here; a set without resultsCount
            # makes the total partial rather than guessed.
            for d in fresh:
                if d.count is None:
                    partial = True
                else:
                    count += d.count
                    counted_any = True
            if not fresh:
                counted_any = True
        elif o.count is not None:
            count += o.count
            counted_any = True
    if not applicable:
        counted_any = True
    return NetworkAnswer(
        exists=merge_exists(ordered),
        members_total=len(ordered),
        members_applicable=len(applicable),
        members_answered=len(answered),
        members_with_hit=sum(1 for o in answered if o.exists is True),
        members_failed=sum(1 for o in applicable if o.failed),
        partial=partial,
        count=count if counted_any else None,
        outcomes=ordered,
        datasets=tuple(datasets),
    )
