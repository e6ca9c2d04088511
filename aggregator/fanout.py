"""Asking every member at once: who is asked, how, and within which deadlines.

:func:`decide` (pure) settles the members that are not asked: not applicable (assembly,
datasets, a query v1 cannot express, already part of this query), invalid, or skipped by an
open breaker. :class:`FanOut` asks the rest concurrently over the shared client, each within
``min(member timeout, time left before the overall deadline)``, and yields every
:class:`MemberOutcome` as it arrives. When the overall deadline passes, members still running
are cancelled and reported as timed out. Nothing here raises for a member's behaviour.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from aggregator.answers import parse_v2_answer
from aggregator.client import Fetched, FetchKind, MemberClient, query_url
from aggregator.config import MemberApi, NetworkConfig
from aggregator.hedge import Hedger
from aggregator.merge import NetworkAnswer, merge
from aggregator.outcome import MemberOutcome, MemberStatus
from aggregator.registry import Health, MemberState, Registry
from aggregator.v1 import NotExpressible, parse_v1_answer, to_v1_params
from beacon.model import BeaconRequest, IncludeResultsets

_GRACE_S = 0.05

HOPS_HEADER = "X-Beacon-Network-Hops"
"""How many aggregators a query has passed through (integer)."""
VISITED_HEADER = "X-Beacon-Network-Visited"
"""Comma-separated beacon ids of the aggregators a query has passed through."""


@dataclass(frozen=True, slots=True)
class QueryContext:
    """One incoming query as the fan-out needs it.

    ``params``/``body`` are what the caller sent (GET parameters or POST JSON), forwarded to
    v2 members as they are except for ``includeResultsetResponses``, which is widened so that
    the members' result sets can be de-duplicated. ``visited`` includes this aggregator.
    """

    request: BeaconRequest
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    authorization: str | None = None
    visited: tuple[str, ...] = ()
    hops: int = 0


def decide(
    state: MemberState,
    ctx: QueryContext,
    *,
    duplicate_of: str | None = None,
) -> MemberOutcome | None:
    """The outcome of a member that is not to be asked, or ``None`` when it should be."""
    member = state.config
    name = state.name
    beacon_id = state.capabilities.beacon_id

    def settled(status: MemberStatus, message: str) -> MemberOutcome:
        return MemberOutcome(member.id, name, status, beacon_id=beacon_id, message=message)

    if state.health is Health.INVALID:
        return settled(MemberStatus.ERROR, f"not asked: {state.message}")
    if beacon_id is not None and beacon_id in ctx.visited:
        return settled(MemberStatus.NOT_APPLICABLE, "already part of this query (loop)")
    if duplicate_of is not None:
        return settled(MemberStatus.NOT_APPLICABLE, f"same beacon as member {duplicate_of}")
    q = ctx.request.query
    assemblies = state.assemblies
    if q.assembly is not None and assemblies and q.assembly not in assemblies:
        return settled(
            MemberStatus.NOT_APPLICABLE, f"holds {', '.join(assemblies)} data, not {q.assembly}"
        )
    datasets = {d.id for d in state.capabilities.datasets}
    wanted = ctx.request.dataset_ids
    if wanted and datasets and not datasets.intersection(wanted):
        return settled(MemberStatus.NOT_APPLICABLE, "holds none of the requested datasets")
    if member.api is MemberApi.V1:
        converted = to_v1_params(ctx.request, assemblies)
        if isinstance(converted, NotExpressible):
            return settled(MemberStatus.UNSUPPORTED, converted.reason)
    return None


def _widen(include: str | None) -> str:
    """``includeResultsetResponses`` to ask members for: at least the hits."""
    if include is None:
        return IncludeResultsets.HIT.value
    upper = include.upper()
    if upper == IncludeResultsets.NONE:
        return IncludeResultsets.HIT.value
    if upper == IncludeResultsets.MISS:
        return IncludeResultsets.ALL.value
    return upper


def _forward_params(params: Mapping[str, str]) -> dict[str, str]:
    out = {k: v for k, v in params.items() if k.lower() != "includeresultsetresponses"}
    given = next((v for k, v in params.items() if k.lower() == "includeresultsetresponses"), None)
    out["includeResultsetResponses"] = _widen(given)
    return out


def _forward_body(body: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(body)
    query = out.get("query")
    if isinstance(query, Mapping):
        query = dict(query)
        given = query.get("includeResultsetResponses")
        query["includeResultsetResponses"] = _widen(given if isinstance(given, str) else None)
        out["query"] = query
    return out


def _observe(hedger: Hedger, fetched: Fetched) -> None:
    """Give the hedger the answer time of a request that got an answer (not of a failure)."""
    if fetched.kind is FetchKind.OK:
        hedger.observe(fetched.latency_ms)


def _healthy(fetched: Fetched, outcome: MemberOutcome) -> bool:
    """Does this call speak for the member's health (its breaker closes) or against it?"""
    if fetched.kind is FetchKind.OK:
        return outcome.status is MemberStatus.ANSWERED
    return not fetched.member_down


class FanOut:
    """Concurrent member calls for one aggregator (shared client and registry)."""

    def __init__(self, config: NetworkConfig, registry: Registry, client: MemberClient) -> None:
        self._config = config
        self._registry = registry
        self._client = client
        self._stragglers: set[asyncio.Task[Fetched]] = set()

    def plan(self, ctx: QueryContext) -> tuple[list[MemberOutcome], list[MemberState]]:
        """Members settled without a call, and members to ask (both in configuration order)."""
        settled: list[MemberOutcome] = []
        ask: list[MemberState] = []
        by_beacon: dict[str, str] = {}
        now = time.monotonic()
        for state in self._registry.members():
            beacon_id = state.capabilities.beacon_id
            duplicate = by_beacon.get(beacon_id) if beacon_id else None
            outcome = decide(state, ctx, duplicate_of=duplicate)
            if beacon_id and duplicate is None:
                by_beacon[beacon_id] = state.config.id
            if outcome is None and not self._client.breaker(state.config.id).allow(now):
                outcome = MemberOutcome(
                    state.config.id,
                    state.name,
                    MemberStatus.SKIPPED,
                    beacon_id=beacon_id,
                    message="not asked: the member failed repeatedly (circuit breaker open)",
                )
            if outcome is None:
                ask.append(state)
            else:
                settled.append(outcome)
        return settled, ask

    async def stream(self, ctx: QueryContext) -> AsyncGenerator[MemberOutcome, None]:
        """Yield every member's outcome as it becomes known: settled ones first, then each
        asked member's as it arrives, then timeouts for those still running at the deadline.

        Member deadlines count from the start of the query, not from when a member's call
        gets going, so a busy moment in this process never lengthens the answer."""
        settled, ask = self.plan(ctx)
        for outcome in settled:
            yield outcome
        if not ask:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        overall = self._config.overall_timeout_s
        deadline = started + overall
        prepared = _Prepared.of(ctx)
        # Finished tasks are queued by their done-callbacks; ``None`` marks the deadline.
        finished: asyncio.Queue[asyncio.Task[MemberOutcome] | None] = asyncio.Queue()
        tasks: dict[asyncio.Task[MemberOutcome], MemberState] = {}
        for state in ask:
            # A call bound by the network deadline gets a little longer on its own clock,
            # so that the network deadline below, not the call, settles it (one message).
            member_deadline = min(deadline + _GRACE_S, started + state.config.timeout_s)
            task = asyncio.create_task(self._ask(state, prepared, member_deadline))
            task.add_done_callback(finished.put_nowait)
            tasks[task] = state
        alarm = loop.call_at(deadline, finished.put_nowait, None)
        try:
            while tasks:
                item = await finished.get()
                if item is None:
                    break
                if tasks.pop(item, None) is not None:
                    yield item.result()
            missed = Fetched(
                FetchKind.TIMEOUT,
                overall * 1000.0,
                message=f"no answer within the network deadline ({overall}s)",
            )
            for task, state in list(tasks.items()):
                del tasks[task]
                if task.done() and not task.cancelled():
                    yield task.result()  # finished just as the deadline passed
                    continue
                task.cancel()
                # Missing the network deadline counts against the member like missing its
                # own: a member that keeps missing it is skipped until its breaker's probe.
                self._client.record(state.config.id, missed)
                yield MemberOutcome(
                    state.config.id,
                    state.name,
                    MemberStatus.TIMEOUT,
                    beacon_id=state.capabilities.beacon_id,
                    latency_ms=missed.latency_ms,
                    message=missed.message,
                )
        finally:
            alarm.cancel()
            for task in tasks:
                task.cancel()

    async def run(self, ctx: QueryContext) -> NetworkAnswer:
        """All outcomes, merged (members in configuration order)."""
        order = {s.config.id: i for i, s in enumerate(self._registry.members())}
        outcomes = [o async for o in self.stream(ctx)]
        outcomes.sort(key=lambda o: order.get(o.member_id, len(order)))
        return merge(outcomes)

    async def _ask(self, state: MemberState, prepared: _Prepared, deadline: float) -> MemberOutcome:
        """Ask one member (hedged, see :meth:`_fetch_hedged`); ``deadline`` is on the event
        loop's clock."""
        member = state.config
        breaker = self._client.breaker(member.id)
        name = state.name
        beacon_id = state.capabilities.beacon_id
        loop = asyncio.get_running_loop()
        headers = prepared.headers
        if member.forward_token and prepared.authorization:
            headers = {**headers, "Authorization": prepared.authorization}

        async def fetch() -> Fetched:
            timeout = max(0.001, deadline - loop.time())
            if member.api is MemberApi.V1:
                params = to_v1_params(prepared.ctx.request, state.assemblies)
                assert not isinstance(params, NotExpressible)  # decide() settled those
                return await self._client.get_json(
                    member.url + "/query", timeout_s=timeout, params=params, headers=headers
                )
            url = member.url + "/g_variants"
            if prepared.body is not None:
                return await self._client.post_json(
                    url, prepared.body, timeout_s=timeout, headers=headers
                )
            return await self._client.get_json(
                query_url(url, prepared.query_string), timeout_s=timeout, headers=headers
            )

        try:
            # A second request would count twice against the person's query budget at the
            # member: calls that carry their token are never hedged.
            hedge = "Authorization" not in headers
            fetched = await (self._fetch_hedged(member.id, fetch) if hedge else fetch())
        except asyncio.CancelledError:
            breaker.release()
            raise
        if member.api is MemberApi.V1:
            outcome = parse_v1_answer(member.id, name, fetched, expected_beacon_id=beacon_id)
        else:
            outcome = parse_v2_answer(member.id, name, fetched, expected_beacon_id=beacon_id)
        healthy = _healthy(fetched, outcome)
        self._client.record(member.id, fetched, healthy=healthy)
        self._registry.record_answer(member.id, fetched.latency_ms, ok=healthy)
        return outcome

    async def _fetch_hedged(
        self, member_id: str, fetch: Callable[[], Coroutine[Any, Any, Fetched]]
    ) -> Fetched:
        """``fetch()``, and a second ``fetch()`` when the first is still running after the
        member's hedge delay and its hedge budget allows; the first OK answer wins, else the
        first request's failure. The returned ``latency_ms`` counts from the first request's
        start. Each request's own answer time is recorded (the hedge's from its own start).
        The request that lost the race is left to finish on its own (within the member's
        deadline, so its connection goes back to the pool instead of being closed) and its
        time is recorded when it ends; if this call is cancelled, both requests are."""
        hedger = self._client.hedger(member_id)
        hedger.call()
        delay_ms = hedger.delay_ms()
        if delay_ms is None:
            fetched = await fetch()
            _observe(hedger, fetched)
            return fetched
        loop = asyncio.get_running_loop()
        started = loop.time()
        first: asyncio.Task[Fetched] = loop.create_task(fetch())
        tasks = [first]
        try:
            wake: asyncio.Future[None] = loop.create_future()

            def ready(_: object = None) -> None:
                if not wake.done():
                    wake.set_result(None)

            first.add_done_callback(ready)
            timer = loop.call_later(delay_ms / 1000.0, ready)
            try:
                await wake
            finally:
                timer.cancel()
            if first.done() or not hedger.take():
                result = await first
                _observe(hedger, result)
                return result
            tasks.append(loop.create_task(fetch()))
            pending: set[asyncio.Task[Fetched]] = set(tasks)
            winner = first
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                found = next((t for t in done if t.result().kind is FetchKind.OK), None)
                if found is not None:
                    winner = found
                    break
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        for task in tasks:
            if task.done():
                _observe(hedger, task.result())  # the winner's own time, whichever it was
            else:
                self._let_finish(task, hedger)
        result = winner.result()
        if winner is not first:
            result = dataclasses.replace(result, latency_ms=(loop.time() - started) * 1000.0)
        return result

    def _let_finish(self, task: asyncio.Task[Fetched], hedger: Hedger) -> None:
        """Keep ``task`` (a request that lost its race) until it ends; record its answer time."""
        self._stragglers.add(task)

        def finished(t: asyncio.Task[Fetched]) -> None:
            self._stragglers.discard(t)
            if not t.cancelled():
                _observe(hedger, t.result())

        task.add_done_callback(finished)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What every member's call of one query shares, computed once per query: the headers
    (without Authorization), the v2 query string (percent-encoded) or the v2 POST body
    (JSON bytes), both with ``includeResultsetResponses`` widened."""

    ctx: QueryContext
    headers: dict[str, str]
    authorization: str | None
    query_string: str
    body: bytes | None

    @classmethod
    def of(cls, ctx: QueryContext) -> _Prepared:
        headers = {HOPS_HEADER: str(ctx.hops + 1), VISITED_HEADER: ",".join(ctx.visited)}
        if ctx.body is not None:
            return cls(ctx, headers, ctx.authorization, "", orjson.dumps(_forward_body(ctx.body)))
        query_string = urlencode(_forward_params(ctx.params or {}))
        return cls(ctx, headers, ctx.authorization, query_string, None)
