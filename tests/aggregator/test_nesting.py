"""Aggregators as members of aggregators: nesting, de-duplication by beaconId, loops."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aggregator.web import REGISTRY
from tests.aggregator.conftest import StartAggregator, StartFake, member_config
from tests.aggregator.fakes import Behaviour
from tests.aggregator.test_faults import QUERY, ask, statuses


def url_of(client: Any) -> str:
    return str(client.make_url("")).rstrip("/")


async def test_nested_aggregator_answers_as_a_beacon_and_duplicates_count_once(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a", Behaviour(count=3, datasets=(("a1", "GRCh38"),)))
    b = await fake("org.b", Behaviour(count=5, datasets=(("b1", "GRCh38"),)))
    inner = await aggregator([member_config("a", a.url), member_config("b", b.url)], id="org.inner")
    # The outer network asks beacon a directly and again through the inner network.
    outer = await aggregator(
        [member_config("a", a.url), member_config("inner", url_of(inner))], id="org.outer"
    )
    doc = await ask(outer)
    net = doc["info"]["beaconNetwork"]
    assert statuses(doc) == {"a": "answered", "inner": "answered"}
    inner_answer = next(m for m in net["members"] if m["memberId"] == "inner")
    assert inner_answer["beaconId"] == "org.inner"
    # Result sets keep the beaconId of the beacon holding them; a1 is counted once.
    sets = sorted((rs["beaconId"], rs["id"]) for rs in doc["response"]["resultSets"])
    assert sets == [("org.a", "a1"), ("org.b", "b1")]
    assert net["count"] == 3 + 5
    assert net["exists"] is True
    assert net["partial"] is False
    # The inner aggregator was told who is already asking.
    sent = a.queries()[-1].headers
    assert sent["X-Beacon-Network-Visited"] in ("org.outer", "org.outer,org.inner")


async def test_unknown_inside_a_nested_network_stays_unknown(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    no = await fake("org.no", Behaviour(exists=False))
    hung = await fake("org.hung", Behaviour(kind="hang"))
    inner = await aggregator(
        [member_config("no", no.url), member_config("hung", hung.url, timeout_s=0.2)],
        id="org.inner",
    )
    outer = await aggregator([member_config("inner", url_of(inner))], id="org.outer")
    doc = await ask(outer)
    inner_answer = doc["info"]["beaconNetwork"]["members"][0]
    assert inner_answer["status"] == "answered"
    # The inner network's summary says false only because the schema needs a boolean;
    # its explicit unknown carries through, so the outer network does not say "no".
    assert inner_answer["exists"] is None
    assert doc["info"]["beaconNetwork"]["exists"] is None
    assert doc["info"]["beaconNetwork"]["partial"] is True


async def test_a_loop_is_cut(fake: StartFake, aggregator: StartAggregator) -> None:
    a = await fake("org.a", Behaviour(exists=False))
    # x lists a and y; y lists a and x: a loop x -> y -> x. y starts first and is pointed
    # at x once x runs, by reloading its member list (no restart).
    y = await aggregator([member_config("a", a.url)], id="org.y")
    x = await aggregator([member_config("a", a.url), member_config("y", url_of(y))], id="org.x")
    registry = y.server.app[REGISTRY]
    changed = registry.reload(
        replace(registry.config, members=(member_config("a", a.url), member_config("x", url_of(x))))
    )
    await registry.refresh_all(changed)
    doc = await ask(x)
    net = doc["info"]["beaconNetwork"]
    assert statuses(doc) == {"a": "answered", "y": "answered"}
    assert net["exists"] is False
    # y skipped x (already part of the query) instead of asking it again.
    resp = await y.get("/g_variants", params=QUERY, headers={"X-Beacon-Network-Visited": "org.x"})
    inner = await resp.json()
    assert statuses(inner)["x"] == "not_applicable"
    # Asked directly with its own id in the visited list, an aggregator refuses (508).
    resp = await x.get("/g_variants", params=QUERY, headers={"X-Beacon-Network-Visited": "org.x"})
    assert resp.status == 508
    resp = await x.get("/g_variants", params=QUERY, headers={"X-Beacon-Network-Hops": "9"})
    assert resp.status == 508
    resp = await x.get("/g_variants", params=QUERY, headers={"X-Beacon-Network-Hops": "many"})
    assert resp.status == 400
