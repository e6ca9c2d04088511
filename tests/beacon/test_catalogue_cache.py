"""The dataset catalogue cache: fresh answers without waiting, a background re-read once it
is older than DATASET_CACHE_S, a blocking re-read once it is older than DATASET_STALE_S."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp.test_utils import TestClient

from beacon.web import DATASET_CACHE_S, DATASET_STALE_S, STORE
from tests.beacon.querydata import load
from tests.beacon.webutil import beacon_client


async def _ids(client: TestClient) -> list[str]:
    response = await client.get("/datasets")
    assert response.status == 200
    body = await response.json()
    return sorted(c["id"] for c in body["response"]["collections"])


def _age(client: TestClient, seconds: float) -> None:
    store = client.app[STORE]  # type: ignore[index]
    store._datasets_at = time.monotonic() - seconds


async def test_an_expired_catalogue_answers_at_once_and_is_re_read_behind(
    database_url: str, tmp_path: Path
) -> None:
    await load(database_url, tmp_path, "ds1")
    async with beacon_client(database_url) as client:
        assert await _ids(client) == ["ds1"]
        await load(database_url, tmp_path, "ds2")  # behind the app's back
        assert await _ids(client) == ["ds1"]  # still fresh
        _age(client, (DATASET_CACHE_S + DATASET_STALE_S) / 2)
        assert await _ids(client) == ["ds1"]  # answered from the old one, re-read started
        store = client.app[STORE]  # type: ignore[index]
        assert store._refresh is not None
        await asyncio.wait_for(asyncio.shield(store._refresh), 10)
        assert await _ids(client) == ["ds1", "ds2"]


async def test_a_catalogue_past_the_stale_limit_is_re_read_before_answering(
    database_url: str, tmp_path: Path
) -> None:
    await load(database_url, tmp_path, "ds1")
    async with beacon_client(database_url) as client:
        assert await _ids(client) == ["ds1"]
        await load(database_url, tmp_path, "ds2")
        _age(client, DATASET_STALE_S + 1)
        assert await _ids(client) == ["ds1", "ds2"]


async def test_a_re_read_catalogue_gives_queries_new_plans(
    database_url: str, tmp_path: Path
) -> None:
    """Query plans are kept per catalogue: a dataset loaded behind the app's back is searched
    once the catalogue is re-read, and not before."""
    await load(database_url, tmp_path, "ds1")
    query = (
        "/g_variants?referenceName=17&start=43045711&referenceBases=T&alternateBases=C"
        "&includeResultsetResponses=ALL"
    )

    async def searched(client: TestClient) -> list[str]:
        response = await client.get(query)
        assert response.status == 200
        body = await response.json()
        return sorted(s["id"] for s in body["response"]["resultSets"])

    async with beacon_client(database_url) as client:
        assert await searched(client) == ["ds1"]
        await load(database_url, tmp_path, "ds2")
        assert await searched(client) == ["ds1"]  # the same catalogue, the same plan
        _age(client, DATASET_STALE_S + 1)
        assert await searched(client) == ["ds1", "ds2"]
