"""Fixtures: fake members and real aggregators on loopback (127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.config import MemberApi, MemberConfig, NetworkConfig
from aggregator.web import create_app
from tests.aggregator.fakes import Behaviour, FakeMember, start_fake

BASE = NetworkConfig(
    id="org.test.network",
    name="Test network",
    overall_timeout_s=3.0,
    refresh_interval_s=0.0,
    breaker_failures=3,
    breaker_reset_s=3600.0,
)

StartFake = Callable[..., Awaitable[FakeMember]]
StartAggregator = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def fake() -> AsyncIterator[StartFake]:
    """``await fake(beacon_id, Behaviour(...), api="v2")`` starts a fake member."""
    started: list[FakeMember] = []

    async def start(
        beacon_id: str, behaviour: Behaviour | None = None, *, api: str = "v2"
    ) -> FakeMember:
        member = await start_fake(beacon_id, behaviour, api=api)
        started.append(member)
        return member

    yield start
    for member in started:
        member.release.set()
    for member in started:
        assert member.server is not None
        await member.server.close()


def member_config(member_id: str, url: str, **kwargs: Any) -> MemberConfig:
    api = kwargs.pop("api", "v2")
    return MemberConfig(id=member_id, url=url, api=MemberApi(api), **kwargs)


@pytest.fixture
async def aggregator() -> AsyncIterator[StartAggregator]:
    """``await aggregator([MemberConfig...], **network_settings)`` -> a client of a running
    aggregator (its app's start-up, including the members' refresh, has run)."""
    clients: list[TestClient[Any, Any]] = []

    async def start(members: list[MemberConfig], **settings: Any) -> TestClient[Any, Any]:
        config = replace(BASE, members=tuple(members), **settings)
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(config), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
