"""Query plans: what a g_variants query runs against, per caller and request.

The web layer keeps one plan per plan_key and catalogue, so two things are checked over every
combination below: the plan is what the access rules say (against a reference written out
here from dataset_access), and callers whose plan keys are equal get equal plans.
"""

from __future__ import annotations

import itertools

import pytest

from beacon.access import Caller, Tier, dataset_access, dataset_tier
from beacon.errors import InvalidRequest, NotFound
from beacon.model import (
    BeaconRequest,
    Dataset,
    DisclosurePolicy,
    Granularity,
    QueryKind,
    SecurityLevel,
    VariantQuery,
)
from beacon.policy import OPEN_POLICY
from beacon.query_plan import plan_key, plan_query
from beacon.responses import Permitted

GUARDED = DisclosurePolicy(public_min_carriers=5, public_min_carriers_spread=3)
CATALOGUE = [
    Dataset(id=f"{level.value.lower()}-{assembly}-{name}", name=name, assembly=assembly,
            security_level=level, policy=policy)
    for level in SecurityLevel
    for assembly in ("GRCh37", "GRCh38")
    for name, policy in (("open", OPEN_POLICY), ("guarded", GUARDED), ("plain", DisclosurePolicy()))
]  # fmt: skip
GRANTED = "controlled-GRCh38-open"
CALLERS = [
    Caller.anonymous("192.0.2.1"),
    Caller.anonymous("192.0.2.2"),
    Caller.anonymous(None),
    Caller("alice", Tier.REGISTERED, frozenset(), "192.0.2.3"),
    Caller("bob", Tier.REGISTERED, frozenset(), None),
    Caller("carol", Tier.CONTROLLED, frozenset({GRANTED}), None),
    Caller("dave", Tier.REGISTERED, frozenset({GRANTED}), "192.0.2.4"),
    Caller("erin", Tier.CONTROLLED, frozenset({"unknown"}), None),
]
DATASET_IDS = [None, (GRANTED,), ("public-GRCh37-open", "public-GRCh38-guarded"), ("nowhere",)]
SCOPES = [None, "public-GRCh38-plain", GRANTED, "nowhere"]


def _request(dataset_ids: tuple[str, ...] | None, assembly: str | None, g: Granularity) -> (
    BeaconRequest
):  # fmt: skip
    query = VariantQuery(
        QueryKind.SEQUENCE, "1", assembly, 10, 11, reference_bases="A", alternate_bases="C"
    )
    return BeaconRequest(query=query, requested_granularity=g, dataset_ids=dataset_ids)


def _visible(caller: Caller) -> list[Permitted]:
    return [Permitted(d, g) for d in CATALOGUE if (g := dataset_access(caller, d)) is not None]


def _expected(
    caller: Caller, request: BeaconRequest, scope: str | None
) -> tuple[list[str], Granularity, dict[str, tuple[int, int]]] | type[Exception]:
    """The rules, written out: visible datasets, narrowed by path, datasetIds and assembly."""
    visible = {p.dataset.id: p for p in _visible(caller)}
    if scope is not None and scope not in visible:
        return NotFound
    if request.dataset_ids is not None and any(d not in visible for d in request.dataset_ids):
        return InvalidRequest
    chosen = [
        p
        for p in visible.values()
        if (scope is None or p.dataset.id == scope)
        and (request.dataset_ids is None or p.dataset.id in request.dataset_ids)
        and request.query.assembly in (None, p.dataset.assembly)
    ]
    ranks = [Granularity.BOOLEAN, Granularity.COUNT, Granularity.RECORD]
    wanted = [request.requested_granularity, *(p.granularity for p in chosen)]
    returned = min(wanted, key=ranks.index)
    k_anonymity = {}
    for p in chosen:
        policy = p.dataset.policy
        anonymous = dataset_tier(caller, p.dataset) is Tier.ANONYMOUS
        if anonymous and policy.public_min_carriers > 1:
            k_anonymity[p.dataset.id] = (
                policy.public_min_carriers,
                policy.public_min_carriers_spread,
            )
    return [p.dataset.id for p in chosen], returned, k_anonymity


COMBINATIONS = list(
    itertools.product(DATASET_IDS, (None, "GRCh37", "GRCh38"), list(Granularity), SCOPES)
)


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.subject or f"anon-{c.client_address}")
def test_plans_follow_the_access_rules(caller: Caller) -> None:
    outcomes = set()
    for dataset_ids, assembly, granularity, scope in COMBINATIONS:
        request = _request(dataset_ids, assembly, granularity)
        expected = _expected(caller, request, scope)
        if isinstance(expected, type):
            with pytest.raises(expected):
                plan_query(caller, _visible(caller), request, scope)
            outcomes.add(expected.__name__)
            continue
        plan = plan_query(caller, _visible(caller), request, scope)
        ids, returned, k_anonymity = expected
        assert list(plan.dataset_ids) == ids
        assert [p.dataset.id for p in plan.chosen] == ids
        assert [(d.id, g) for d, g in plan.permitted] == [
            (p.dataset.id, p.granularity) for p in plan.chosen
        ]
        assert plan.returned is returned
        assert dict(plan.min_carriers) == k_anonymity
        outcomes.add("empty" if not ids else "k-anonymity" if k_anonymity else "plain")
    # every kind of outcome occurred, so the comparison above was not vacuous
    assert {"NotFound", "InvalidRequest", "empty"} <= outcomes
    assert outcomes & {"k-anonymity", "plain"}


def test_equal_plan_keys_give_equal_plans() -> None:
    shared = 0
    for dataset_ids, assembly, granularity, scope in COMBINATIONS:
        request = _request(dataset_ids, assembly, granularity)
        plans: dict[object, object] = {}
        for caller in CALLERS:
            try:
                plan: object = plan_query(caller, _visible(caller), request, scope)
            except (NotFound, InvalidRequest) as exc:
                plan = type(exc)
            key = plan_key(caller, request, scope)
            if key in plans:
                shared += 1
                assert plans[key] == plan
            plans[key] = plan
    assert shared > 0
