"""Beacon v1.1 members asked through the real fan-out: our own beacons' /api/v1 views.

The aggregator converts the v2 query to v1 form (coordinates and parameters), reads the v1
answers back, and merges them with the same rules as v2 answers.
"""

from __future__ import annotations

from typing import Any

from tests.aggregator.conftest import StartAggregator, member_config
from tests.aggregator.test_real_beacons import QUERY, Site, sites

__all__ = ["sites"]  # the fixture, shared with the v2 tests

BRACKET = {"assemblyId": "GRCh38", "referenceName": "1"}


def _v1_members(sites: dict[str, Site]) -> list[Any]:
    return [
        member_config(f"{b.rsplit('.', 1)[1]}-v1", f"{s.url}/api/v1", api="v1")
        for b, s in sites.items()
    ]


async def test_v1_members_answer_through_the_fan_out(
    sites: dict[str, Site], aggregator: StartAggregator
) -> None:
    client = await aggregator(_v1_members(sites))
    resp = await client.get("/api/members")
    members = {m["memberId"]: m for m in (await resp.json())["members"]}
    assert {m["api"] for m in members.values()} == {"v1"}
    assert all(m["status"] == "up" for m in members.values()), members
    assert members["c-v1"]["assemblies"] == ["GRCh37"]

    resp = await client.get("/g_variants", params=QUERY)
    assert resp.status == 200
    net = (await resp.json())["info"]["beaconNetwork"]
    statuses = {m["memberId"]: (m["status"], m["exists"]) for m in net["members"]}
    # 1:101 A>T (0-based start 100) is held by the two GRCh38 sites; the GRCh37 one is not asked.
    assert statuses == {
        "a-v1": ("answered", True),
        "b-v1": ("answered", True),
        "c-v1": ("not_applicable", None),
    }
    assert net["exists"] is True

    resp = await client.get("/g_variants", params={**QUERY, "alternateBases": "G"})
    net = (await resp.json())["info"]["beaconNetwork"]
    assert net["exists"] is False
    assert {m["memberId"]: m["exists"] for m in net["members"] if m["status"] == "answered"} == {
        "a-v1": False,
        "b-v1": False,
    }


async def test_v1_and_v2_views_of_the_same_beacons_agree(
    sites: dict[str, Site], aggregator: StartAggregator
) -> None:
    # One beacon reached twice in one network is counted once (de-duplication by beaconId),
    # so the two views are compared through two aggregators.
    via_v2 = await aggregator([member_config(b.rsplit(".", 1)[1], s.url) for b, s in sites.items()])
    via_v1 = await aggregator(_v1_members(sites))
    seen = set()
    for params in (
        QUERY,
        {**QUERY, "alternateBases": "G"},
        {**QUERY, "start": "200", "referenceBases": "C", "alternateBases": "G"},
        {**QUERY, "assemblyId": "GRCh37"},
        # indels reach v1 members padded with an N base; both spellings, present and absent
        {**QUERY, "start": "300", "referenceBases": "T", "alternateBases": "TC"},
        {**QUERY, "start": "301", "referenceBases": "-", "alternateBases": "C"},
        {**QUERY, "start": "300", "referenceBases": "T", "alternateBases": "TG"},
        {**QUERY, "start": "400", "referenceBases": "CA", "alternateBases": "C"},
        {**QUERY, "start": "401", "referenceBases": "A", "alternateBases": "-"},
        {**QUERY, "start": "400", "referenceBases": "CAA", "alternateBases": "C"},
        # brackets around the deletion of A at [401, 402), by type; the SNP 1:101 A>T
        {**BRACKET, "start": "401,401", "end": "402,402", "variantType": "DEL"},
        {**BRACKET, "start": "400,405", "end": "400,405", "variantType": "DEL"},
        {**BRACKET, "start": "401,401", "end": "402,402", "variantType": "SNP"},
        {**BRACKET, "start": "402,410", "end": "402,410", "variantType": "DEL"},
        {**BRACKET, "start": "90,110", "end": "90,110", "alternateBases": "T"},
        {**BRACKET, "start": "90,110", "end": "90,110", "alternateBases": "G"},
    ):
        answers = []
        for client in (via_v2, via_v1):
            resp = await client.get("/g_variants", params=params)
            net = (await resp.json())["info"]["beaconNetwork"]
            answers.append(
                (
                    net["exists"],
                    sorted((m["memberId"][0], m["status"], m["exists"]) for m in net["members"]),
                )
            )
        assert answers[0] == answers[1], params
        seen.add(answers[0][0])
    assert seen == {True, False}  # both answers occur: the agreement is not vacuous


async def test_an_overlap_range_is_not_put_to_v1_members(
    sites: dict[str, Site], aggregator: StartAggregator
) -> None:
    # v1's start + end name one allele's exact bounds: asked, a v1 member would say "no" to
    # a window that holds alleles. The member is not asked, and the answer is unknown.
    via_v2 = await aggregator([member_config(b.rsplit(".", 1)[1], s.url) for b, s in sites.items()])
    via_v1 = await aggregator(_v1_members(sites))
    window = {"assemblyId": "GRCh38", "referenceName": "1", "start": "290", "end": "410"}
    v2 = (await (await via_v2.get("/g_variants", params=window)).json())["info"]["beaconNetwork"]
    assert v2["exists"] is True
    v1 = (await (await via_v1.get("/g_variants", params=window)).json())["info"]["beaconNetwork"]
    assert v1["exists"] is None  # unknown: never a "no" for a question nobody was asked
    assert {m["memberId"]: m["status"] for m in v1["members"]} == {
        "a-v1": "unsupported",
        "b-v1": "unsupported",
        "c-v1": "not_applicable",  # its data are GRCh37
    }


async def test_a_bracket_for_any_allele_is_not_put_to_v1_members(
    sites: dict[str, Site], aggregator: StartAggregator
) -> None:
    # v1 names what it looks for by alternate bases (its N is one base) or a type: asked
    # with N, a v1 member would say "no" to a bracket that holds a deletion.
    via_v1 = await aggregator(_v1_members(sites))
    for params in (
        {**BRACKET, "start": "401,401", "end": "402,402"},
        {**BRACKET, "start": "400,401", "end": "401,403", "alternateBases": "-"},
    ):
        body = await (await via_v1.get("/g_variants", params=params)).json()
        net = body["info"]["beaconNetwork"]
        assert net["exists"] is None, params
        assert {m["memberId"]: m["status"] for m in net["members"]} == {
            "a-v1": "unsupported",
            "b-v1": "unsupported",
            "c-v1": "not_applicable",
        }
