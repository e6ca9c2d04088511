"""merge(): the network answer from member outcomes, exhaustively (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aggregator.merge import merge, merge_exists
from aggregator.outcome import DatasetAnswer, MemberOutcome, MemberStatus

statuses = st.sampled_from(list(MemberStatus))


@st.composite
def outcomes(draw: st.DrawFn, index: int = 0) -> MemberOutcome:
    status = draw(statuses)
    answered = status is MemberStatus.ANSWERED
    exists = draw(st.sampled_from([True, False, None])) if answered else None
    count = draw(st.none() | st.integers(0, 1000)) if answered else None
    datasets = ()
    if answered and draw(st.booleans()):
        datasets = tuple(
            DatasetAnswer(
                dataset_id=f"d{j}",
                beacon_id=draw(st.sampled_from(["b1", "b2", "b3"])),
                exists=exists,
                count=draw(st.none() | st.integers(0, 100)),
            )
            for j in range(draw(st.integers(0, 3)))
        )
    return MemberOutcome(
        member_id=f"m{index}",
        name=f"m{index}",
        status=status,
        exists=exists,
        count=count,
        count_exact=answered and count is not None and draw(st.booleans()),
        datasets=datasets,
    )


member_lists = st.integers(0, 8).flatmap(
    lambda n: st.tuples(*(outcomes(i) for i in range(n))).map(list)
)


@given(member_lists)
def test_exists_rules(members: list[MemberOutcome]) -> None:
    answer = merge(members)
    applicable = [m for m in members if m.status is not MemberStatus.NOT_APPLICABLE]
    any_yes = any(m.status is MemberStatus.ANSWERED and m.exists is True for m in applicable)
    all_no = all(m.status is MemberStatus.ANSWERED and m.exists is False for m in applicable)
    if any_yes:
        assert answer.exists is True
    elif all_no:
        assert answer.exists is False
    else:
        assert answer.exists is None
    assert answer.exists == merge_exists(members)


@given(member_lists)
def test_a_failed_member_never_turns_into_no(members: list[MemberOutcome]) -> None:
    answer = merge(members)
    if any(m.failed for m in members):
        assert answer.exists is not False
        assert answer.partial is True


@given(member_lists)
def test_tallies_and_count(members: list[MemberOutcome]) -> None:
    answer = merge(members)
    assert answer.members_total == len(members)
    applicable = [m for m in members if m.status is not MemberStatus.NOT_APPLICABLE]
    assert answer.members_applicable == len(applicable)
    assert answer.members_failed == sum(1 for m in applicable if m.failed)
    assert answer.members_answered + answer.members_failed == answer.members_applicable
    assert answer.members_with_hit <= answer.members_answered
    if answer.count is not None:
        assert answer.count >= 0
    # Not applicable members change nothing.
    others = [m for m in members if m.status is not MemberStatus.NOT_APPLICABLE]
    assert merge(others).exists == answer.exists
    assert merge(others).count == answer.count
    # Result sets are unique by (beaconId, datasetId).
    keys = [(d.beacon_id, d.dataset_id) for d in answer.datasets]
    assert len(keys) == len(set(keys))


@given(member_lists)
def test_exact_counts_everywhere_give_an_exact_total(members: list[MemberOutcome]) -> None:
    exact = [
        MemberOutcome(
            m.member_id,
            m.name,
            MemberStatus.ANSWERED,
            exists=bool(m.count),
            count=m.count or 0,
            count_exact=True,
        )
        for m in members
    ]
    answer = merge(exact)
    assert answer.partial is False
    assert answer.count == sum(m.count or 0 for m in exact)


def test_examples() -> None:
    yes = MemberOutcome("a", "a", MemberStatus.ANSWERED, exists=True, count=2, count_exact=True)
    no = MemberOutcome("b", "b", MemberStatus.ANSWERED, exists=False, count=0, count_exact=True)
    timeout = MemberOutcome("c", "c", MemberStatus.TIMEOUT)
    na = MemberOutcome("d", "d", MemberStatus.NOT_APPLICABLE)
    assert merge([no, na]).exists is False
    # a member whose API cannot express the query was not asked: unknown, not "no"
    unsupported = MemberOutcome("e", "e", MemberStatus.UNSUPPORTED, message="v1: no ranges")
    assert merge([no, unsupported]).exists is None
    assert merge([unsupported]).exists is None
    assert merge([yes, unsupported]).exists is True
    assert merge([no, timeout]).exists is None
    assert merge([yes, timeout]).exists is True
    assert merge([yes, timeout]).count == 2
    assert merge([yes, timeout]).partial is True
    assert merge([]).exists is False
    assert merge([na]).count == 0
    # The same dataset through two members counts once.
    ds = DatasetAnswer("d1", "org.x", exists=True, count=4)
    one = MemberOutcome(
        "a", "a", MemberStatus.ANSWERED, exists=True, count=4, count_exact=True, datasets=(ds,)
    )
    two = MemberOutcome(
        "b", "b", MemberStatus.ANSWERED, exists=True, count=4, count_exact=True, datasets=(ds,)
    )
    assert merge([one, two]).count == 4
    assert len(merge([one, two]).datasets) == 1
