"""The streaming API (``/g_variants/stream``) and ``/api/members`` of contract E."""

from __future__ import annotations

from typing import Any

import orjson

from tests.aggregator.conftest import StartAggregator, StartFake, member_config
from tests.aggregator.fakes import Behaviour, refused_url
from tests.aggregator.test_faults import QUERY

MEMBER_KEYS = {
    "memberId",
    "beaconId",
    "name",
    "status",
    "exists",
    "latencyMs",
    "message",
    "datasets",
}
DATASET_KEYS = {
    "datasetId",
    "beaconId",
    "name",
    "exists",
    "count",
    "alleleCount",
    "alleleNumber",
    "frequency",
    "handovers",
}
SUMMARY_KEYS = {
    "exists",
    "membersTotal",
    "membersApplicable",
    "membersAnswered",
    "membersWithHit",
    "membersFailed",
    "partial",
    "count",
}


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], orjson.loads(fields["data"])))
    return events


async def test_stream_emits_start_members_as_they_arrive_and_summary_last(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    fast = await fake("org.fast", Behaviour(count=2))
    slow = await fake("org.slow", Behaviour(kind="slow", delay_s=0.3, exists=False))
    client = await aggregator(
        [
            member_config("slow", slow.url, name="Slow site"),
            member_config("fast", fast.url),
            member_config("37", fast.url + "/", assemblies=("GRCh37",)),
        ]
    )
    resp = await client.get("/g_variants/stream", params=QUERY)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = parse_sse(await resp.text())
    names = [name for name, _ in events]
    assert names == ["start", "member", "member", "member", "summary"]
    start = events[0][1]
    assert [m["memberId"] for m in start["members"]] == ["slow", "fast", "37"]
    assert start["members"][0]["name"] == "Slow site"
    assert start["members"][1]["name"] == "Fake org.fast"  # learned from its /info
    assert start["query"]["referenceName"] == "1"
    assert start["query"]["start"] == 100
    answers = [data for name, data in events if name == "member"]
    for answer in answers:
        assert set(answer) == MEMBER_KEYS
        for ds in answer["datasets"]:
            assert set(ds) == DATASET_KEYS
    # Settled members first, then in order of arrival: the fast one before the slow one.
    assert [a["memberId"] for a in answers] == ["37", "fast", "slow"]
    assert answers[0]["status"] == "not_applicable"
    assert answers[0]["latencyMs"] is None
    fast_answer = answers[1]
    assert fast_answer["exists"] is True
    assert fast_answer["beaconId"] == "org.fast"
    assert fast_answer["datasets"][0]["count"] == 2
    assert fast_answer["datasets"][0]["alleleCount"] == 2
    summary = events[-1][1]
    assert set(summary) == SUMMARY_KEYS
    assert summary == {
        "exists": True,
        "membersTotal": 3,
        "membersApplicable": 2,
        "membersAnswered": 2,
        "membersWithHit": 1,
        "membersFailed": 0,
        "partial": False,
        "count": 2,
    }


async def test_members_endpoint_reports_health_and_capabilities(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    up = await fake("org.up", Behaviour(datasets=(("d1", "GRCh38"), ("d2", "GRCh37"))))
    v1 = await fake("org.v1", Behaviour(datasets=(("v", "GRCh37"),)), api="v1")
    client = await aggregator(
        [
            member_config("up", up.url),
            member_config("down", refused_url()),
            member_config("v1", v1.url, api="v1"),
        ]
    )
    resp = await client.get("/api/members")
    assert resp.status == 200
    members = {m["memberId"]: m for m in (await resp.json())["members"]}
    assert set(members) == {"up", "down", "v1"}
    assert members["up"]["status"] == "up"
    assert members["up"]["api"] == "v2"
    assert members["up"]["breaker"] == "closed"
    assert members["up"]["assemblies"] == ["GRCh38", "GRCh37"]
    assert members["up"]["datasets"] == [
        {"id": "d1", "name": "Dataset d1", "assembly": "GRCh38", "securityLevel": None},
        {"id": "d2", "name": "Dataset d2", "assembly": "GRCh37", "securityLevel": None},
    ]
    assert members["down"]["status"] == "down"
    assert members["down"]["message"]
    assert members["down"]["lastAnswerAt"] is None
    assert members["v1"]["status"] == "up"
    assert members["v1"]["assemblies"] == ["GRCh37"]
    await client.get("/g_variants", params=QUERY)
    resp = await client.get("/api/members")
    after = {m["memberId"]: m for m in (await resp.json())["members"]}
    assert after["up"]["lastAnswerAt"] is not None
    assert after["up"]["latencyMs"] is not None


async def test_root_serves_the_page_to_browsers_and_info_to_clients(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a")
    client = await aggregator([member_config("a", a.url)])
    resp = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status == 200
    assert resp.content_type == "text/html"
    resp = await client.get("/", headers={"Accept": "application/json"})
    assert resp.status == 200
    info = await resp.json()
    assert info["response"]["id"] == "org.test.network"
