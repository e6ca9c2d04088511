"""The privacy steps of answering a query: charge the budget, hide rare alleles, adjust counts,
write the audit entry. The web layer calls these around every variant query (v2 and v1).

Order per query: :func:`charge_query` (429 when spent, before any data is read), the storage
query restricted by :func:`min_carriers`, the response built, :func:`disclose_counts` applied
to it, then :func:`audit_query`. Nothing here logs a token or a queried allele.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from beacon.access import Caller, dataset_tier
from beacon.audit_writer import AuditWriter
from beacon.budget_leases import BudgetLeases
from beacon.config import Settings
from beacon.errors import TooManyRequests
from beacon.model import Dataset, Granularity
from beacon.policy import (
    AdjustedCount,
    adjust_count,
    budget_identity,
    budget_limit,
    combined_precision,
)

log = logging.getLogger(__name__)


async def charge_query(leases: BudgetLeases, settings: Settings, caller: Caller) -> None:
    """Charge one query to the caller's budget (from this process's lease, see
    :mod:`beacon.budget_leases`).

    Raises :class:`TooManyRequests` (429) when the budget of the caller's tier is spent; an
    unlimited tier is never charged. Raises :class:`beacon.errors.StoreUnavailable` when a
    lease is needed and the store cannot grant it.
    """
    limit = budget_limit(settings.query_budget, caller.tier)
    if limit is None:
        return
    spent = await leases.charge(
        budget_identity(caller), limit=limit, window_s=settings.query_budget.window_s
    )
    if spent is not None:
        log.info("query budget spent (%s tier, %d per window)", caller.tier.value, limit)
        raise TooManyRequests(
            f"query budget spent: {limit} queries per {settings.query_budget.window_s} s;"
            f" try again in {spent.retry_after_s} s"
        )


def min_carriers(caller: Caller, datasets: Sequence[Dataset]) -> dict[str, tuple[int, int]]:
    """Dataset id -> (k, spread) for the datasets on which the caller is subject to
    k-anonymity.

    Only datasets where the caller's tier is anonymous and the policy's k exceeds 1 appear;
    the storage query must leave out their alleles carried by fewer participants than each
    allele's own threshold (:func:`beacon.policy.allele_min_carriers`).
    """
    out: dict[str, tuple[int, int]] = {}
    for dataset in datasets:
        policy = dataset.policy
        if policy.public_min_carriers > 1 and dataset_tier(caller, dataset) == "anonymous":
            out[dataset.id] = (policy.public_min_carriers, policy.public_min_carriers_spread)
    return out


def disclose_counts(
    doc: dict[str, Any],
    permitted: Sequence[tuple[Dataset, Granularity]],
    totals: Mapping[str, int],
) -> dict[str, Any]:
    """Apply each dataset's count policy to a g_variants answer (in place; returned).

    ``permitted`` are the queried datasets with the caller's maximum granularity on each,
    ``totals`` the exact matching-allele count per dataset id. Every ``resultsCount`` is
    replaced by its adjusted value, with ``countPrecision`` and ``countAdjustedTo`` when it
    was adjusted (an exact count is left undeclared, which means exact);
    ``responseSummary.numTotalResults``, when present, becomes the sum of the adjusted counts,
    declared the same way. Answers without counts are unchanged.
    """
    adjusted: dict[str, AdjustedCount] = {
        dataset.id: adjust_count(totals.get(dataset.id, 0), dataset.policy, granularity)
        for dataset, granularity in permitted
    }
    for result_set in doc.get("response", {}).get("resultSets", []):
        got = adjusted.get(result_set.get("id", ""))
        if got is not None and "resultsCount" in result_set:
            result_set["resultsCount"] = got.value
            if got.adjusted_to is not None:
                result_set.update(got.as_json())
    summary = doc.get("responseSummary", {})
    if "numTotalResults" in summary:
        combined = combined_precision(list(adjusted.values()))
        if combined is not None:
            summary["numTotalResults"] = combined.value
            if combined.adjusted_to is not None:
                summary.update(combined.as_json())
    return doc


def audit_query(
    writer: AuditWriter,
    settings: Settings,
    caller: Caller,
    *,
    endpoint: str,
    datasets: tuple[str, ...],
    answered: tuple[Granularity, ...],
    returned: Granularity,
    exists: bool | None,
    status: int = 200,
) -> None:
    """Queue the audit entry of one answered query (unless the audit log is switched off);
    :class:`beacon.audit_writer.AuditWriter` writes it within about half a second.

    Records who (subject, address, tier), when, the ``datasets`` queried with the granularity
    each ``answered`` at (:func:`answered_at`), and whether the answer was a hit. Never the
    token, never the query. Raises :class:`beacon.errors.StoreUnavailable` when the writer
    cannot take more entries.
    """
    if not settings.audit_log:
        return
    if len(datasets) != len(answered):
        raise ValueError("datasets and answered must be parallel")
    writer.record_answer(
        (
            caller.subject,
            caller.client_address,
            caller.tier,  # a StrEnum member is the string it names
            endpoint,
            datasets,
            answered,
            returned,
            exists,
            status,
        )
    )


def answered_at(
    permitted: Sequence[tuple[Dataset, Granularity]], returned: Granularity
) -> tuple[Granularity, ...]:
    """The granularity each of the ``permitted`` (dataset, caller's maximum) pairs answered
    at, in an answer of granularity ``returned``: the lower of the two."""
    return tuple(returned.at_most(g) for _, g in permitted)


def v1_granularity(permitted: Sequence[tuple[Dataset, Granularity]]) -> Granularity:
    """The granularity a v1 answer reaches: counts at most (v1 has no records)."""
    reached = Granularity.BOOLEAN
    for _, granularity in permitted:
        capped = granularity.at_most(Granularity.COUNT)
        if capped.rank > reached.rank:
            reached = capped
    return reached


def disclose_v1_counts(
    doc: dict[str, Any], permitted: Sequence[tuple[Dataset, Granularity]]
) -> dict[str, Any]:
    """Apply each dataset's count policy to a v1 ``/query`` answer (in place; returned).

    ``variantCount`` and ``sampleCount`` are adjusted; when either was, the exact
    ``frequency`` is withheld (``null``), ``note`` says why and ``info`` carries
    ``countPrecision``/``countAdjustedTo``.
    """
    by_id = {dataset.id: (dataset, granularity) for dataset, granularity in permitted}
    for item in doc.get("datasetAlleleResponses") or []:
        found = by_id.get(item.get("datasetId", ""))
        if found is None or item.get("variantCount") is None:
            continue
        dataset, granularity = found
        parts = [
            adjust_count(int(item[key] or 0), dataset.policy, granularity)
            for key in ("variantCount", "sampleCount")
        ]
        item["variantCount"], item["sampleCount"] = parts[0].value, parts[1].value
        combined = combined_precision(parts)
        assert combined is not None
        if combined.adjusted_to is not None:
            item["frequency"] = None
            how = "reported as" if combined.precision.value == "imprecise" else "rounded up to"
            item["note"] = (
                f"low counts {how} {combined.adjusted_to} under the dataset's disclosure policy"
            )
            info = item.get("info")
            item["info"] = {**(info if isinstance(info, dict) else {}), **combined.as_json()}
    return doc
