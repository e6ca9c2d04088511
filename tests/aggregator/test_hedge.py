"""Hedged member calls: the pure rules of :class:`Hedger`, and the fan-out sending a second
request to a member whose call hangs (fake members on loopback)."""

from __future__ import annotations

from typing import Any

from aggregator.hedge import HedgePolicy, Hedger
from aggregator.web import CLIENT
from tests.aggregator.conftest import StartAggregator, StartFake, member_config
from tests.aggregator.fakes import Behaviour

QUERY = {
    "assemblyId": "GRCh38",
    "referenceName": "1",
    "start": "100",
    "referenceBases": "A",
    "alternateBases": "T",
}


def test_no_delay_before_enough_answers_then_the_quantile() -> None:
    h = Hedger(HedgePolicy(quantile=0.9, min_samples=10, min_delay_ms=0.0))
    for ms in range(1, 10):
        h.observe(float(ms))
        assert h.delay_ms() is None
    h.observe(10.0)
    assert h.delay_ms() == 9.0  # 90th percentile of 1..10 (nearest rank)
    for _ in range(8):
        h.observe(1000.0)
    assert h.delay_ms() == 1000.0  # recomputed after a few more answers


def test_delay_has_a_floor_and_the_window_forgets() -> None:
    h = Hedger(HedgePolicy(min_samples=3, window=4, min_delay_ms=5.0))
    for ms in (1.0, 1.0, 1.0):
        h.observe(ms)
    assert h.delay_ms() == 5.0
    for ms in (50.0,) * 8:
        h.observe(ms)
    assert list(h._times) == [50.0] * 4
    assert h.delay_ms() == 50.0


def test_budget_allows_the_share_with_a_bounded_burst() -> None:
    h = Hedger(HedgePolicy(max_share=0.25, burst=2.0))
    for _ in range(3):
        h.call()
    assert not h.take()  # 0.75 of a request earned
    h.call()
    assert h.take()
    assert not h.take()
    for _ in range(100):  # a long quiet spell earns at most ``burst``
        h.call()
    assert [h.take() for _ in range(3)] == [True, True, False]


def test_disabled_policy_never_hedges() -> None:
    h = Hedger(HedgePolicy(enabled=False, min_samples=1))
    for _ in range(50):
        h.observe(1.0)
        h.call()
    assert h.delay_ms() is None
    assert not h.take()


def _status(doc: dict[str, Any]) -> str:
    (member,) = doc["info"]["beaconNetwork"]["members"]
    status: str = member["status"]
    return status


async def _warm_then_ask(client: Any, warm: int, **kw: Any) -> dict[str, Any]:
    for _ in range(warm):
        resp = await client.get("/g_variants", params=QUERY, **kw)
        assert resp.status == 200
        assert _status(await resp.json()) == "answered"
    resp = await client.get("/g_variants", params=QUERY, **kw)
    assert resp.status == 200
    doc: dict[str, Any] = await resp.json()
    return doc


async def test_a_hung_call_is_answered_by_its_hedge(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a", Behaviour(hang_calls=frozenset({25})))
    client = await aggregator([member_config("a", a.url, timeout_s=3.0)])
    doc = await _warm_then_ask(client, 24)
    assert _status(doc) == "answered"
    assert doc["responseSummary"]["exists"] is True
    assert len(a.queries()) == 26  # the hung 25th call and its hedge
    assert doc["info"]["beaconNetwork"]["partial"] is False
    # The winning hedge's own answer time joins the 24 warm-up answers; the hung call's is
    # not there (it has not answered).
    times = list(client.app[CLIENT].hedger("a")._times)
    assert len(times) == 25
    assert max(times) < 1000.0


async def test_without_hedging_the_hung_call_times_out(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a", Behaviour(hang_calls=frozenset({25})))
    client = await aggregator([member_config("a", a.url, timeout_s=1.0)], hedge=False)
    doc = await _warm_then_ask(client, 24)
    assert _status(doc) == "timeout"
    assert len(a.queries()) == 25


async def test_calls_carrying_a_token_are_never_hedged(
    fake: StartFake, aggregator: StartAggregator
) -> None:
    a = await fake("org.a", Behaviour(hang_calls=frozenset({25})))
    client = await aggregator([member_config("a", a.url, timeout_s=1.0, forward_token=True)])
    doc = await _warm_then_ask(client, 24, headers={"Authorization": "Bearer t0ken"})
    assert _status(doc) == "timeout"
    assert len(a.queries()) == 25
    assert all(c.headers.get("Authorization") == "Bearer t0ken" for c in a.queries())
