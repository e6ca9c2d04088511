"""Helpers for tests of the beacon's HTTP API: the real app on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from beacon.access import Authenticator
from beacon.config import Settings
from beacon.web import STORE, create_app


def settings(**overrides: object) -> Settings:
    base = {"data_dir": Path("/nonexistent"), "beacon_id": "org.test.beacon"}
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@asynccontextmanager
async def beacon_client(
    dsn: str, *, authenticator: Authenticator | None = None, **overrides: object
) -> AsyncIterator[TestClient]:
    app = create_app(settings(**overrides), dsn=dsn, authenticator=authenticator)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def forget_datasets(client: TestClient) -> None:
    """Make the app re-read the dataset catalogue (after loading data behind its back)."""
    client.app[STORE].forget_datasets()  # type: ignore[index]
