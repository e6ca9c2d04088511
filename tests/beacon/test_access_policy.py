"""dataset_access with per-dataset disclosure policies: every security level x caller x policy."""

from __future__ import annotations

import itertools

import pytest

from beacon.access import Caller, Tier, dataset_access, dataset_tier, permitted_datasets
from beacon.model import Dataset, DisclosurePolicy, Granularity, SecurityLevel
from beacon.policy import DEFAULT_POLICY

G = list(Granularity)
POLICIES = [
    DisclosurePolicy(anonymous=a, registered=r, controlled=c)
    for a, r, c in itertools.product(G, G, G)
    if a.rank <= r.rank <= c.rank
]
CALLERS = {
    "anonymous": Caller.anonymous("192.0.2.1"),
    "registered": Caller("alice", Tier.REGISTERED, frozenset(), None),
    "granted": Caller("bob", Tier.CONTROLLED, frozenset({"ds"}), None),
    "granted_elsewhere": Caller("carol", Tier.CONTROLLED, frozenset({"other"}), None),
}
EXPECTED_TIER = {
    "anonymous": Tier.ANONYMOUS,
    "registered": Tier.REGISTERED,
    "granted": Tier.CONTROLLED,
    "granted_elsewhere": Tier.REGISTERED,
}


def _visible(level: SecurityLevel, who: str) -> bool:
    if level is SecurityLevel.PUBLIC:
        return True
    if level is SecurityLevel.REGISTERED:
        return who != "anonymous"
    return who == "granted"


@pytest.mark.parametrize(
    "policy", POLICIES, ids=lambda p: f"{p.anonymous}-{p.registered}-{p.controlled}"
)
@pytest.mark.parametrize("level", list(SecurityLevel))
@pytest.mark.parametrize("who", list(CALLERS))
def test_dataset_access_follows_level_then_policy(
    policy: DisclosurePolicy, level: SecurityLevel, who: str
) -> None:
    dataset = Dataset(id="ds", name="ds", assembly="GRCh38", security_level=level, policy=policy)
    caller = CALLERS[who]
    assert dataset_tier(caller, dataset) is EXPECTED_TIER[who]
    got = dataset_access(caller, dataset)
    if not _visible(level, who):
        assert got is None
    else:
        assert got is getattr(policy, EXPECTED_TIER[who].value)


def test_default_public_dataset_answers_each_tier_at_its_default() -> None:
    datasets = [Dataset(id="ds", name="ds", assembly="GRCh38")]
    assert datasets[0].policy == DEFAULT_POLICY
    assert permitted_datasets(CALLERS["anonymous"], datasets) == {"ds": Granularity.BOOLEAN}
    assert permitted_datasets(CALLERS["registered"], datasets) == {"ds": Granularity.COUNT}
    assert permitted_datasets(CALLERS["granted"], datasets) == {"ds": Granularity.RECORD}
    # A grant for another dataset does not lift this one above registered.
    assert permitted_datasets(CALLERS["granted_elsewhere"], datasets) == {"ds": Granularity.COUNT}
