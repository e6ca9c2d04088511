"""The disclosure policy, exhaustively: granularity per tier, count adjustment, k-anonymity,
JSON round trips and budgets."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beacon.access import Caller, Tier
from beacon.errors import InvalidRequest
from beacon.model import Granularity
from beacon.policy import (
    DEFAULT_POLICY,
    OPEN_POLICY,
    AdjustedCount,
    CountMode,
    CountPrecision,
    DisclosurePolicy,
    QueryBudget,
    adjust_count,
    allele_draw,
    allele_min_carriers,
    budget_identity,
    budget_limit,
    combined_precision,
    eligible_carriers,
    hides_allele,
    load_budget,
    max_granularity,
    policy_from_json,
    policy_to_json,
)

G = list(Granularity)
MONOTONE = [(a, r, c) for a, r, c in itertools.product(G, G, G) if a.rank <= r.rank <= c.rank]


def test_default_policy_is_protective() -> None:
    assert max_granularity(DEFAULT_POLICY, Tier.ANONYMOUS) is Granularity.BOOLEAN
    assert max_granularity(DEFAULT_POLICY, Tier.REGISTERED) is Granularity.COUNT
    assert max_granularity(DEFAULT_POLICY, Tier.CONTROLLED) is Granularity.RECORD
    assert DEFAULT_POLICY.count_mode is CountMode.FLOOR
    assert DEFAULT_POLICY.public_min_carriers >= 2


@pytest.mark.parametrize(("anonymous", "registered", "controlled"), MONOTONE)
def test_every_monotone_combination_is_accepted_and_applied(
    anonymous: Granularity, registered: Granularity, controlled: Granularity
) -> None:
    policy = DisclosurePolicy(anonymous=anonymous, registered=registered, controlled=controlled)
    assert max_granularity(policy, Tier.ANONYMOUS) is anonymous
    assert max_granularity(policy, Tier.REGISTERED) is registered
    assert max_granularity(policy, Tier.CONTROLLED) is controlled
    assert policy_from_json(policy_to_json(policy)) == policy


@pytest.mark.parametrize(
    ("anonymous", "registered", "controlled"),
    [combo for combo in itertools.product(G, G, G) if combo not in MONOTONE],
)
def test_a_higher_tier_may_never_see_less(
    anonymous: Granularity, registered: Granularity, controlled: Granularity
) -> None:
    with pytest.raises(InvalidRequest) as info:
        DisclosurePolicy(anonymous=anonymous, registered=registered, controlled=controlled)
    assert info.value.parameter in {"registered", "controlled"}


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"count_threshold": 0}, "countThreshold"),
        ({"count_threshold": -3}, "countThreshold"),
        ({"public_min_carriers": -1}, "publicMinCarriers"),
    ],
)
def test_invalid_numbers_are_refused(kwargs: dict[str, int], parameter: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        DisclosurePolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.parameter == parameter


# --- counts ---------------------------------------------------------------------------------


def _policy(mode: CountMode, t: int) -> DisclosurePolicy:
    return DisclosurePolicy(count_mode=mode, count_threshold=t)


@pytest.mark.parametrize("mode", list(CountMode))
@pytest.mark.parametrize("granularity", G)
def test_zero_is_always_zero_and_exact(mode: CountMode, granularity: Granularity) -> None:
    assert adjust_count(0, _policy(mode, 5), granularity) == AdjustedCount(0, CountPrecision.EXACT)


@pytest.mark.parametrize("mode", list(CountMode))
def test_record_callers_get_exact_counts(mode: CountMode) -> None:
    for n in range(0, 30):
        assert adjust_count(n, _policy(mode, 10), Granularity.RECORD) == AdjustedCount(
            n, CountPrecision.EXACT
        )


@pytest.mark.parametrize("granularity", [Granularity.BOOLEAN, Granularity.COUNT])
def test_floor_table(granularity: Granularity) -> None:
    policy = _policy(CountMode.FLOOR, 5)
    got = [adjust_count(n, policy, granularity) for n in range(8)]
    assert got == [
        AdjustedCount(0, CountPrecision.EXACT),
        *[AdjustedCount(5, CountPrecision.IMPRECISE, 5)] * 4,
        AdjustedCount(5, CountPrecision.EXACT),
        AdjustedCount(6, CountPrecision.EXACT),
        AdjustedCount(7, CountPrecision.EXACT),
    ]


def test_round_table() -> None:
    policy = _policy(CountMode.ROUND, 10)
    got = [adjust_count(n, policy, Granularity.COUNT).value for n in (1, 9, 10, 11, 20, 21)]
    assert got == [10, 10, 10, 20, 20, 30]
    assert adjust_count(10, policy, Granularity.COUNT).precision is CountPrecision.ROUNDED
    assert adjust_count(10, policy, Granularity.COUNT).as_json() == {
        "countPrecision": "rounded",
        "countAdjustedTo": [10],
    }


@given(
    n=st.integers(min_value=0, max_value=10**7),
    t=st.integers(min_value=1, max_value=1000),
    mode=st.sampled_from(list(CountMode)),
    granularity=st.sampled_from([Granularity.BOOLEAN, Granularity.COUNT]),
)
def test_adjusted_counts_agree_with_existence_and_never_understate(
    n: int, t: int, mode: CountMode, granularity: Granularity
) -> None:
    got = adjust_count(n, _policy(mode, t), granularity)
    assert (got.value > 0) == (n > 0)
    assert got.value >= n
    if mode is CountMode.EXACT:
        assert got == AdjustedCount(n, CountPrecision.EXACT)
    elif mode is CountMode.FLOOR:
        assert got.value == (max(n, t) if n else 0)
        assert (got.precision is CountPrecision.IMPRECISE) == (0 < n < t)
    else:
        assert got.value % t == 0
        assert got.value - n < t
        assert got.precision is (CountPrecision.ROUNDED if n else CountPrecision.EXACT)
    if got.precision is CountPrecision.EXACT:
        assert got.as_json() == {"countPrecision": "exact"}
        assert got.value == n
    else:
        assert got.as_json()["countAdjustedTo"] == [t]


def test_negative_counts_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        adjust_count(-1, DEFAULT_POLICY, Granularity.COUNT)


def test_combined_precision() -> None:
    exact = AdjustedCount(7, CountPrecision.EXACT)
    rounded = AdjustedCount(10, CountPrecision.ROUNDED, 10)
    floored = AdjustedCount(5, CountPrecision.IMPRECISE, 5)
    assert combined_precision([]) is None
    assert combined_precision([exact, exact]) == AdjustedCount(14, CountPrecision.EXACT)
    assert combined_precision([exact, rounded]) == AdjustedCount(17, CountPrecision.ROUNDED, 10)
    assert combined_precision([rounded, floored]) == AdjustedCount(15, CountPrecision.IMPRECISE, 10)


# --- k-anonymity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carriers", "allele_count", "ploidy", "expected"),
    [
        (3, 6, 2, 3),
        (0, None, 2, 0),
        (None, 5, 2, 3),
        (None, 4, 2, 2),
        (None, 1, 1, 1),
        (None, None, 2, None),
    ],
)
def test_eligible_carriers(
    carriers: int | None, allele_count: int | None, ploidy: int, expected: int | None
) -> None:
    assert eligible_carriers(carriers, allele_count, ploidy) == expected


@pytest.mark.parametrize("k", range(0, 8))
@pytest.mark.parametrize("carriers", [None, *range(0, 10)])
@pytest.mark.parametrize("tier", list(Tier))
def test_k_anonymity_hides_rare_alleles_from_anonymous_callers_only(
    k: int, carriers: int | None, tier: Tier
) -> None:
    policy = DisclosurePolicy(public_min_carriers=k)
    hidden = hides_allele(policy, tier, carriers, None)
    if tier is not Tier.ANONYMOUS or k <= 1:
        assert hidden is False
    elif carriers is None:
        assert hidden is True  # unknown carriers: fail closed
    else:
        assert hidden is (carriers < k)


def test_k_anonymity_uses_allele_counts_when_genotypes_are_absent() -> None:
    policy = DisclosurePolicy(public_min_carriers=3)
    # AC 4 on diploids: at least 2 carriers (two homozygotes) -> hidden; AC 5 -> at least 3.
    assert hides_allele(policy, Tier.ANONYMOUS, None, 4) is True
    assert hides_allele(policy, Tier.ANONYMOUS, None, 5) is False
    assert hides_allele(policy, Tier.ANONYMOUS, None, 2, ploidy=1) is True
    assert hides_allele(policy, Tier.ANONYMOUS, None, 3, ploidy=1) is False


@pytest.mark.parametrize("k", range(0, 6))
@pytest.mark.parametrize("spread", range(0, 6))
@pytest.mark.parametrize("draw", [*range(0, 13), 2**32 - 1])
def test_each_alleles_threshold_lies_between_k_and_k_plus_spread(
    k: int, spread: int, draw: int
) -> None:
    policy = DisclosurePolicy(public_min_carriers=k, public_min_carriers_spread=spread)
    needed = allele_min_carriers(policy, draw)
    if k <= 1:
        assert needed == 0  # k-anonymity off: the spread changes nothing
    elif spread <= 1:
        assert needed == k
    else:
        assert needed == k + draw % spread
        assert k <= needed <= k + spread - 1
    for carriers in range(0, 12):
        hidden = hides_allele(policy, Tier.ANONYMOUS, carriers, None, draw=draw)
        assert hidden is (needed > 0 and carriers < needed)
        assert hides_allele(policy, Tier.REGISTERED, carriers, None, draw=draw) is False


def test_allele_draws_are_keyed_stable_and_spread_evenly() -> None:
    # SHA-256("k:1:1000:A:G")[:4] as an unsigned big-endian integer.
    expected = int.from_bytes(hashlib.sha256(b"k:1:1000:A:G").digest()[:4], "big")
    assert allele_draw("k", "1", 1000, "A", "G") == expected
    assert allele_draw("k", "1", 1000, "A", "G") == expected  # the same allele, the same draw
    assert allele_draw("other key", "1", 1000, "A", "G") != expected
    assert allele_draw("k", "1", 1000, "A", "T") != expected
    assert allele_draw("k", "1", 1000, "", "G") != allele_draw("k", "1", 100, "0", "G")
    # Over 20,000 alleles every offset in [0, 20) turns up about equally often (1,000 each;
    # a fair hash stays well inside 800-1,200).
    offsets = Counter(allele_draw("key", "1", start, "A", "G") % 20 for start in range(20_000))
    assert sorted(offsets) == list(range(20))
    assert all(800 <= n <= 1200 for n in offsets.values()), offsets


# --- JSON -----------------------------------------------------------------------------------


def test_json_shape_and_partial_updates() -> None:
    assert policy_to_json(DEFAULT_POLICY) == {
        "anonymous": "boolean",
        "registered": "count",
        "controlled": "record",
        "countMode": "floor",
        "countThreshold": 5,
        "publicMinCarriers": 20,
        "publicMinCarriersSpread": 20,
    }
    assert policy_from_json(None) == DEFAULT_POLICY
    assert policy_from_json({}) == DEFAULT_POLICY
    changed = policy_from_json({"anonymous": "COUNT", "publicMinCarriers": 0})
    assert changed.anonymous is Granularity.COUNT
    assert changed.public_min_carriers == 0
    assert changed.registered is DEFAULT_POLICY.registered
    assert policy_from_json({"countMode": "round"}, base=OPEN_POLICY).count_mode is CountMode.ROUND


@pytest.mark.parametrize(
    ("data", "parameter"),
    [
        ({"anonymous": "everything"}, "anonymous"),
        ({"registered": 3}, "registered"),
        ({"countMode": "fuzzy"}, "countMode"),
        ({"countThreshold": "5"}, "countThreshold"),
        ({"countThreshold": True}, "countThreshold"),
        ({"countThreshold": 0}, "countThreshold"),
        ({"publicMinCarriers": 2.5}, "publicMinCarriers"),
        ({"publicMinCarriersSpread": -1}, "publicMinCarriersSpread"),
        ({"publicMinCarriersSpread": 1001}, "publicMinCarriersSpread"),
        ({"publicMinCarriersSpread": "5"}, "publicMinCarriersSpread"),
        ({"minCarriers": 5}, "minCarriers"),
        ({"anonymous": "record", "registered": "count"}, "registered"),
    ],
)
def test_bad_policy_json_names_the_key(data: dict[str, object], parameter: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        policy_from_json(data)
    assert info.value.parameter == parameter


# --- budgets --------------------------------------------------------------------------------


def test_budget_limits_per_tier() -> None:
    budget = QueryBudget(anonymous=10, registered=100, controlled=None, window_s=60)
    assert budget_limit(budget, Tier.ANONYMOUS) == 10
    assert budget_limit(budget, Tier.REGISTERED) == 100
    assert budget_limit(budget, Tier.CONTROLLED) is None


def test_budget_identity_prefers_the_subject() -> None:
    assert budget_identity(Caller("alice", Tier.REGISTERED, frozenset(), "10.0.0.1")) == (
        "sub:alice"
    )
    assert budget_identity(Caller.anonymous("10.0.0.1")) == "addr:10.0.0.1"
    assert budget_identity(Caller.anonymous(None)) == "addr:unknown"


def test_load_budget_from_the_environment() -> None:
    assert load_budget({}) == QueryBudget()
    got = load_budget(
        {
            "BEACON_BUDGET_ANONYMOUS": "50",
            "BEACON_BUDGET_REGISTERED": "unlimited",
            "BEACON_BUDGET_CONTROLLED": " 7 ",
            "BEACON_BUDGET_WINDOW_S": "3600",
        }
    )
    assert got == QueryBudget(anonymous=50, registered=None, controlled=7, window_s=3600)


@pytest.mark.parametrize(
    ("env", "parameter"),
    [
        ({"BEACON_BUDGET_ANONYMOUS": "lots"}, "BEACON_BUDGET_ANONYMOUS"),
        ({"BEACON_BUDGET_WINDOW_S": "1h"}, "BEACON_BUDGET_WINDOW_S"),
        ({"BEACON_BUDGET_WINDOW_S": "0"}, "BEACON_BUDGET"),
        ({"BEACON_BUDGET_REGISTERED": "-1"}, "BEACON_BUDGET"),
    ],
)
def test_load_budget_names_the_bad_variable(env: dict[str, str], parameter: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        load_budget(env)
    assert info.value.parameter == parameter


def test_ceil_rounding_matches_math() -> None:
    policy = _policy(CountMode.ROUND, 7)
    for n in range(1, 100):
        assert adjust_count(n, policy, Granularity.COUNT).value == math.ceil(n / 7) * 7
