"""What a ``g_variants`` query runs against, for one kind of caller and request.

:func:`plan_query` decides, purely, from the datasets a caller may see
(:func:`beacon.access.dataset_access`) and the request's ``datasetIds``, path dataset,
assembly and requested granularity: the datasets searched, the granularity of the answer,
k-anonymity per dataset (:func:`beacon.privacy_web.min_carriers`) and the granularity each
dataset answers at. None of it depends on the alleles asked about, so the web layer keeps
one plan per :func:`plan_key` for as long as the dataset catalogue is unchanged.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from beacon.access import Caller
from beacon.errors import InvalidRequest, NotFound
from beacon.model import BeaconRequest, Dataset, Granularity
from beacon.privacy_web import answered_at, min_carriers
from beacon.responses import Permitted, returned_granularity


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """``chosen``: the datasets searched, each with the most the caller may learn from it, in
    catalogue order; ``dataset_ids`` their ids. ``returned``: the answer's granularity.
    ``min_carriers``: dataset id -> (k, spread) where the caller is subject to k-anonymity.
    ``permitted``: ``chosen`` as (dataset, maximum granularity) pairs; ``answered``: the
    granularity each of them answers at (:func:`beacon.privacy_web.answered_at`)."""

    chosen: tuple[Permitted, ...]
    dataset_ids: tuple[str, ...]
    returned: Granularity
    min_carriers: Mapping[str, tuple[int, int]]
    permitted: tuple[tuple[Dataset, Granularity], ...]
    answered: tuple[Granularity, ...]


def select_datasets(
    permitted: Sequence[Permitted], request: BeaconRequest, scope: str | None
) -> Sequence[Permitted]:
    """The datasets a query runs against: visible, named (datasetIds / path), same assembly.

    Raises NotFound for an invisible path dataset and InvalidRequest for datasetIds the caller
    cannot see (an invisible dataset is reported exactly like a missing one).
    """
    chosen = permitted
    if scope is None and request.dataset_ids is None:
        by_id: dict[str, Permitted] = {}
    else:
        by_id = {p.dataset.id: p for p in permitted}
    if scope is not None:
        if scope not in by_id:
            raise NotFound(f"no dataset {scope!r}", parameter="id")
        chosen = [by_id[scope]]
    if request.dataset_ids is not None:
        unknown = [d for d in request.dataset_ids if d not in by_id]
        if unknown:
            raise InvalidRequest(f"unknown dataset {unknown[0][:60]!r}", parameter="datasetIds")
        wanted = set(request.dataset_ids)
        chosen = [p for p in chosen if p.dataset.id in wanted]
    assembly = request.query.assembly
    if assembly is not None:
        chosen = [p for p in chosen if p.dataset.assembly == assembly]
    return chosen


def plan_key(caller: Caller, request: BeaconRequest, scope: str | None) -> Hashable:
    """Requests with equal keys, from callers seeing the same datasets, get equal plans."""
    return (
        caller.access_key,
        request.dataset_ids,
        scope,
        request.query.assembly,
        request.requested_granularity,
    )


def plan_query(
    caller: Caller, visible: Sequence[Permitted], request: BeaconRequest, scope: str | None
) -> QueryPlan:
    """The plan of ``request`` (``scope``: the dataset of a ``/datasets/{id}/g_variants`` path)
    for ``caller``, who may see ``visible``. Pure; raises as :func:`select_datasets`."""
    chosen = tuple(select_datasets(visible, request, scope))
    returned = returned_granularity(request.requested_granularity, chosen)
    permitted = tuple((p.dataset, p.granularity) for p in chosen)
    return QueryPlan(
        chosen=chosen,
        dataset_ids=tuple(p.dataset.id for p in chosen),
        returned=returned,
        min_carriers=min_carriers(caller, [p.dataset for p in chosen]),
        permitted=permitted,
        answered=answered_at(permitted, returned),
    )
