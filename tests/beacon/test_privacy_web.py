"""The pure privacy steps of answering a query: k per dataset and count disclosure."""

from __future__ import annotations

from typing import Any

from beacon.access import Caller, Tier
from beacon.model import Dataset, DisclosurePolicy, Granularity, SecurityLevel
from beacon.policy import OPEN_POLICY, CountMode
from beacon.privacy_web import disclose_counts, min_carriers

FLOOR = Dataset(id="f", name="f", assembly="GRCh38")  # default: floor 5, k 20, spread 20
ROUND = Dataset(
    id="r",
    name="r",
    assembly="GRCh38",
    policy=DisclosurePolicy(
        anonymous=Granularity.COUNT,
        count_mode=CountMode.ROUND,
        count_threshold=10,
        public_min_carriers_spread=0,
    ),
)
OPEN = Dataset(id="o", name="o", assembly="GRCh38", policy=OPEN_POLICY)
CTL = Dataset(id="c", name="c", assembly="GRCh38", security_level=SecurityLevel.CONTROLLED)


def test_min_carriers_applies_to_anonymous_tier_on_each_dataset() -> None:
    anonymous = Caller.anonymous("192.0.2.1")
    assert min_carriers(anonymous, [FLOOR, ROUND, OPEN]) == {"f": (20, 20), "r": (20, 0)}
    registered = Caller("a", Tier.REGISTERED, frozenset(), None)
    assert min_carriers(registered, [FLOOR, ROUND, OPEN]) == {}


def _doc(counts: dict[str, int]) -> dict[str, Any]:
    return {
        "responseSummary": {"exists": True, "numTotalResults": sum(counts.values())},
        "response": {
            "resultSets": [
                {"id": k, "setType": "dataset", "exists": v > 0, "resultsCount": v, "results": []}
                for k, v in counts.items()
            ]
        },
    }


def test_disclose_counts_per_dataset_and_in_the_summary() -> None:
    totals = {"f": 2, "r": 11, "o": 3}
    doc = disclose_counts(
        _doc(totals),
        [(FLOOR, Granularity.COUNT), (ROUND, Granularity.COUNT), (OPEN, Granularity.RECORD)],
        totals,
    )
    sets = {s["id"]: s for s in doc["response"]["resultSets"]}
    assert sets["f"]["resultsCount"] == 5
    assert sets["f"]["countPrecision"] == "imprecise"
    assert sets["f"]["countAdjustedTo"] == [5]
    assert sets["r"]["resultsCount"] == 20
    assert sets["r"]["countPrecision"] == "rounded"
    assert sets["o"] == {
        "id": "o",
        "setType": "dataset",
        "exists": True,
        "resultsCount": 3,
        "results": [],
    }
    assert doc["responseSummary"] == {
        "exists": True,
        "numTotalResults": 28,
        "countPrecision": "imprecise",
        "countAdjustedTo": [10],
    }


def test_datasets_without_result_sets_still_count_in_the_summary() -> None:
    doc = {"responseSummary": {"exists": True, "numTotalResults": 1}}
    disclose_counts(doc, [(FLOOR, Granularity.COUNT), (CTL, Granularity.RECORD)], {"f": 1})
    assert doc["responseSummary"]["numTotalResults"] == 5


def test_boolean_answers_are_unchanged() -> None:
    doc = {"responseSummary": {"exists": True}, "response": {"resultSets": [{"id": "f"}]}}
    before = repr(doc)
    disclose_counts(doc, [(FLOOR, Granularity.BOOLEAN)], {"f": 1})
    assert repr(doc) == before
