"""The access seam: visibility and granularity per security level and caller."""

from __future__ import annotations

import pytest

from beacon.access import (
    AnonymousAuthenticator,
    Caller,
    Tier,
    dataset_access,
    permitted_datasets,
)
from beacon.model import Dataset, Granularity, SecurityLevel
from beacon.policy import OPEN_POLICY


def _ds(id_: str, level: SecurityLevel) -> Dataset:
    # An open disclosure policy, so these tests are about visibility alone (the per-tier
    # granularity limits are tested in test_access_policy.py).
    return Dataset(id=id_, name=id_, assembly="GRCh38", security_level=level, policy=OPEN_POLICY)


PUBLIC = _ds("pub", SecurityLevel.PUBLIC)
REGISTERED = _ds("reg", SecurityLevel.REGISTERED)
CONTROLLED = _ds("ctl", SecurityLevel.CONTROLLED)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (Caller.anonymous("127.0.0.1"), {"pub": Granularity.RECORD}),
        (
            Caller("alice", Tier.REGISTERED, frozenset(), None),
            {"pub": Granularity.RECORD, "reg": Granularity.RECORD},
        ),
        (
            Caller("bob", Tier.CONTROLLED, frozenset({"ctl"}), None),
            {"pub": Granularity.RECORD, "reg": Granularity.RECORD, "ctl": Granularity.RECORD},
        ),
        # A controlled tier without a grant for this dataset does not see it.
        (
            Caller("carol", Tier.CONTROLLED, frozenset({"other"}), None),
            {"pub": Granularity.RECORD, "reg": Granularity.RECORD},
        ),
    ],
)
def test_permitted_datasets(caller: Caller, expected: dict[str, Granularity]) -> None:
    assert permitted_datasets(caller, [PUBLIC, REGISTERED, CONTROLLED]) == expected


def test_anonymous_sees_only_public() -> None:
    anon = Caller.anonymous(None)
    assert anon.tier is Tier.ANONYMOUS
    assert anon.subject is None
    assert dataset_access(anon, PUBLIC) is Granularity.RECORD
    assert dataset_access(anon, REGISTERED) is None
    assert dataset_access(anon, CONTROLLED) is None


async def test_anonymous_authenticator_ignores_credentials() -> None:
    caller = await AnonymousAuthenticator().identify("Bearer secret", "10.0.0.1")
    assert caller == Caller.anonymous("10.0.0.1")
