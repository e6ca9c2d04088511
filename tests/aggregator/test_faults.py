"""The aggregator against misbehaving members on loopback: every fault yields an honest answer.

Members we do not own are faked (slow, hung, refusing, 500, garbage, oversized,
``"exists": "yes"``, 401); the aggregator is the real app over real HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.aggregator.conftest import StartAggregator, StartFake, member_config
from tests.aggregator.fakes import Behaviour, refused_url

QUERY = {
    "assemblyId": "GRCh38",
    "referenceName": "1",
    "start": "100",
    "referenceBases": "A",
    "alternateBases": "T",
    "requestedGranularity": "count",
}


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {m["memberId"]: m["status"] for m in doc["info"]["beaconNetwork"]["members"]}


async def ask(client: Any, params: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    resp = await client.get("/g_variants", params=params or QUERY, **kw)
    assert resp.status == 200, await resp.text()
    doc: dict[str, Any] = await resp.json()
    return doc


async def test_healthy_members_merge_exists_and_sum_counts(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a", Behaviour(count=3, datasets=(("a1", "GRCh38"),)))
    b = await fake("org.b", Behaviour(exists=False, count=0, datasets=(("b1", "GRCh38"),)))
    c = await fake("org.c", Behaviour(count=4, datasets=(("c1", "GRCh38"), ("c2", "GRCh38"))))
    client = await aggregator(
        [member_config("a", a.url), member_config("b", b.url), member_config("c", c.url)]
    )
    doc = await ask(client)
    net = doc["info"]["beaconNetwork"]
    assert doc["responseSummary"] == {"exists": True, "numTotalResults": 3 + 4 + 4}
    assert net["exists"] is True
    assert net["partial"] is False
    assert net["membersAnswered"] == 3
    assert net["membersWithHit"] == 2
    assert {(rs["beaconId"], rs["id"]) for rs in doc["response"]["resultSets"]} == {
        ("org.a", "a1"),
        ("org.c", "c1"),
        ("org.c", "c2"),
    }
    assert statuses(doc) == {"a": "answered", "b": "answered", "c": "answered"}


async def test_all_no_is_no(fake: StartFake, aggregator: StartAggregator) -> None:
    a = await fake("org.a", Behaviour(exists=False))
    b = await fake("org.b", Behaviour(exists=False))
    client = await aggregator([member_config("a", a.url), member_config("b", b.url)])
    doc = await ask(client)
    assert doc["responseSummary"]["exists"] is False
    assert doc["info"]["beaconNetwork"]["exists"] is False
    assert doc["info"]["beaconNetwork"]["count"] == 0
    assert doc["info"]["beaconNetwork"]["partial"] is False


@pytest.mark.parametrize(
    ("kind", "status", "message_part"),
    [
        ("hang", "timeout", "no answer within"),
        ("slow", "timeout", "no answer within"),
        ("500", "error", "HTTP 500"),
        ("garbage", "error", "not JSON"),
        ("oversized", "error", "larger than"),
        ("exists_yes", "error", "exists is not a boolean"),
        ("401", "unauthorized", "HTTP 401"),
    ],
)
async def test_a_failing_member_never_becomes_no(
    fake: StartFake, aggregator: StartAggregator, kind: str, status: str, message_part: str
) -> None:
    good = await fake("org.good", Behaviour(exists=False))
    delay = 5.0 if kind == "slow" else 0.0
    bad = await fake("org.bad", Behaviour(kind=kind, exists=False, delay_s=delay))
    client = await aggregator(
        [member_config("good", good.url), member_config("bad", bad.url, timeout_s=0.5)],
        max_response_bytes=1024 * 1024,
    )
    doc = await ask(client)
    net = doc["info"]["beaconNetwork"]
    bad_answer = next(m for m in net["members"] if m["memberId"] == "bad")
    assert bad_answer["status"] == status
    assert message_part in bad_answer["message"]
    assert bad_answer["exists"] is None
    # Unknown, explicitly; the schema-bound summary says false only because it must be boolean.
    assert net["exists"] is None
    assert doc["responseSummary"]["exists"] is False
    assert net["partial"] is True
    assert net["membersFailed"] == 1


async def test_a_yes_survives_failures(fake: StartFake, aggregator: StartAggregator) -> None:
    yes = await fake("org.yes", Behaviour(exists=True, count=2))
    hung = await fake("org.hung", Behaviour(kind="hang"))
    client = await aggregator(
        [
            member_config("yes", yes.url),
            member_config("hung", hung.url, timeout_s=0.3),
            member_config("gone", refused_url()),
        ]
    )
    doc = await ask(client)
    net = doc["info"]["beaconNetwork"]
    assert net["exists"] is True
    assert doc["responseSummary"]["exists"] is True
    assert statuses(doc) == {"yes": "answered", "hung": "timeout", "gone": "error"}
    # The count covers the answering member only, and says so.
    assert net["count"] == 2
    assert net["partial"] is True


async def test_overall_deadline_bounds_the_answer(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    hung = await fake("org.hung", Behaviour(kind="hang"))
    client = await aggregator(
        [member_config("hung", hung.url, timeout_s=60.0)], overall_timeout_s=0.3
    )
    doc = await ask(client)
    member = doc["info"]["beaconNetwork"]["members"][0]
    assert member["status"] == "timeout"
    assert "network deadline" in member["message"]


async def test_a_member_that_keeps_missing_the_network_deadline_is_skipped(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    # The network deadline is shorter than the member's own: missing it still counts
    # against the member's breaker, so a hung member stops costing a connection per query.
    hung = await fake("org.hung", Behaviour(kind="hang"))
    client = await aggregator(
        [member_config("hung", hung.url, timeout_s=60.0)],
        overall_timeout_s=0.2,
        breaker_failures=2,
        breaker_reset_s=3600.0,
    )
    for _ in range(2):
        assert statuses(await ask(client)) == {"hung": "timeout"}
    assert statuses(await ask(client)) == {"hung": "skipped"}
    assert len(hung.queries()) == 2


async def test_invalid_query_is_rejected_before_any_member_is_asked(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a")
    client = await aggregator([member_config("a", a.url)])
    for path in ("/g_variants", "/g_variants/stream"):
        resp = await client.get(path, params={**QUERY, "referenceName": "chrZZ"})
        assert resp.status == 400
        assert resp.content_type == "application/json"
        doc = await resp.json()
        assert doc["error"]["errorCode"] == 400
        assert "reference name" in doc["error"]["errorMessage"]
    resp = await client.post("/g_variants", data=b"{not json")
    assert resp.status == 400
    assert a.queries() == []


async def test_token_goes_only_to_members_configured_for_it(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    trusted = await fake("org.trusted")
    other = await fake("org.other")
    client = await aggregator(
        [
            member_config("trusted", trusted.url, forward_token=True),
            member_config("other", other.url),
        ]
    )
    await ask(client, headers={"Authorization": "Bearer secret-token"})
    assert trusted.queries()[0].headers.get("Authorization") == "Bearer secret-token"
    assert "Authorization" not in other.queries()[0].headers


async def test_post_queries_are_forwarded_as_post(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a")
    client = await aggregator([member_config("a", a.url)])
    body = {
        "meta": {"apiVersion": "v2.0"},
        "query": {
            "requestParameters": {
                "assemblyId": "GRCh38",
                "referenceName": "1",
                "start": [100],
                "referenceBases": "A",
                "alternateBases": "T",
            },
            "requestedGranularity": "boolean",
            "includeResultsetResponses": "NONE",
        },
    }
    resp = await client.post("/g_variants", json=body)
    assert resp.status == 200
    doc = await resp.json()
    assert doc["responseSummary"] == {"exists": True}
    assert doc["meta"]["returnedGranularity"] == "boolean"
    sent = a.queries()[0]
    assert sent.body["query"]["requestParameters"] == body["query"]["requestParameters"]
    # Widened so the network can de-duplicate result sets; the caller still gets none.
    assert sent.body["query"]["includeResultsetResponses"] == "HIT"
    assert "response" not in doc


async def test_breaker_opens_after_repeated_failures_and_skips_the_member(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    good = await fake("org.good", Behaviour(exists=False))
    client = await aggregator(
        [member_config("good", good.url), member_config("gone", refused_url())],
        breaker_failures=2,
        breaker_reset_s=3600.0,
    )
    for _ in range(2):
        assert statuses(await ask(client))["gone"] == "error"
    doc = await ask(client)
    assert statuses(doc)["gone"] == "skipped"
    assert doc["info"]["beaconNetwork"]["exists"] is None  # skipped is not a "no"
    resp = await client.get("/api/members")
    listed = {m["memberId"]: m for m in (await resp.json())["members"]}
    assert listed["gone"]["breaker"] == "open"
    assert listed["good"]["breaker"] == "closed"


async def test_breaker_probes_a_recovered_member_back(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    flaky = await fake("org.flaky", Behaviour(kind="500"))
    client = await aggregator(
        [member_config("flaky", flaky.url)], breaker_failures=1, breaker_reset_s=0.0
    )
    assert statuses(await ask(client))["flaky"] == "error"
    flaky.behaviour.kind = "ok"
    # reset_s = 0: the open breaker lets the next call through as a probe, which succeeds.
    assert statuses(await ask(client))["flaky"] == "answered"
    resp = await client.get("/api/members")
    assert (await resp.json())["members"][0]["breaker"] == "closed"


async def test_wrong_assembly_is_not_applicable_and_not_a_no(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    grch37 = await fake("org.37", Behaviour(datasets=(("old", "GRCh37"),)))
    grch38 = await fake("org.38", Behaviour(exists=False))
    client = await aggregator([member_config("37", grch37.url), member_config("38", grch38.url)])
    doc = await ask(client)
    assert statuses(doc) == {"37": "not_applicable", "38": "answered"}
    assert grch37.queries() == []
    net = doc["info"]["beaconNetwork"]
    assert net["exists"] is False
    assert net["membersApplicable"] == 1
    # Configured assemblies override what a member says.
    client2 = await aggregator([member_config("37", grch37.url, assemblies=("GRCh38",))])
    assert statuses(await ask(client2)) == {"37": "answered"}


async def test_unknown_page_files_are_beacon_404s(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    member = await fake("org.m")
    client = await aggregator([member_config("m", member.url)])
    resp = await client.get("/ui/style.css")
    assert resp.status == 200
    assert resp.content_type == "text/css"
    for path in ("/ui/nope.js", "/ui/..%2F__init__.py", "/ui/"):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert (await resp.json())["error"]["errorCode"] == 404, path
