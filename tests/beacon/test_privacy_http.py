"""Privacy through the real web app on loopback: budgets under parallel load, k-anonymity,
count floors, the audit log, and a withdrawn participant's zero influence on every answer."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from beacon import participants
from beacon.access import Caller, Tier
from beacon.client_address import parse_networks
from beacon.config import Settings
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import Granularity
from beacon.policy import OPEN_POLICY, DisclosurePolicy, QueryBudget
from beacon.storage import privacy
from beacon.web import create_app
from tests.beacon.privacy_data import RECORDS, write_vcf


class FixedAuthenticator:
    """Every request with credentials comes from one given caller (the token checks are tested
    in auth/); the clients below send some."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    async def identify(self, authorization: str | None, client_address: str | None) -> Caller:
        del authorization, client_address
        return self.caller


REGISTERED = Caller("alice", Tier.REGISTERED, frozenset(), "192.0.2.10")
CONTROLLED = Caller("bob", Tier.CONTROLLED, frozenset({"w", "x"}), "192.0.2.11")


async def _client(
    dsn: str, caller: Caller | None = None, **settings: Any
) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(
        Settings(**settings),
        dsn=dsn,
        authenticator=None if caller is None else FixedAuthenticator(caller),
    )
    headers = {} if caller is None else {"Authorization": f"Bearer {caller.subject}"}
    async with TestClient(TestServer(app, host="127.0.0.1"), headers=headers) as client:
        yield client


def _allele(chrom: str, pos: int, ref: str, alt: str) -> dict[str, str]:
    return {
        "assemblyId": "GRCh38",
        "referenceName": chrom,
        "start": str(pos - 1),
        "referenceBases": ref,
        "alternateBases": alt,
    }


def _queries() -> list[dict[str, str]]:
    """Every allele of the test file, one range per chromosome and one absent allele."""
    found = [
        _allele(chrom, pos, ref, alt)
        for chrom, pos, ref, alt_field, _ in RECORDS
        for alt in alt_field.split(",")
    ]
    ranges = [
        {"assemblyId": "GRCh38", "referenceName": c, "start": "0", "end": "10000"}
        for c in ("1", "2", "X")
    ]
    return [*found, *ranges, _allele("1", 1000, "A", "T")]


@pytest.fixture
async def cohort(database_url: str, tmp_path: Path, db: asyncpg.Connection) -> str:
    vcf = write_vcf(tmp_path / "cohort.vcf")
    await load_vcf(database_url, vcf, LoadOptions(dataset_id="w", assembly="GRCh38"))
    await load_vcf(
        database_url, vcf, LoadOptions(dataset_id="x", assembly="GRCh38", exclude_samples=("P3",))
    )
    return database_url


def _strip(doc: Any, dataset_id: str) -> Any:
    """An answer with the dataset id (the only legitimate difference) made neutral."""
    if isinstance(doc, dict):
        return {
            k: _strip(v, dataset_id)
            for k, v in doc.items()
            if k not in {"receivedRequestSummary", "beaconId"}
        }
    if isinstance(doc, list):
        return [_strip(v, dataset_id) for v in doc]
    if doc == dataset_id:
        return "<dataset>"
    return doc


@pytest.mark.parametrize(
    "policy",
    [OPEN_POLICY, DisclosurePolicy(), DisclosurePolicy(public_min_carriers=2)],
    ids=["open", "default", "k2"],
)
async def test_a_withdrawn_participant_has_zero_influence_on_every_answer(
    cohort: str, db: asyncpg.Connection, policy: DisclosurePolicy
) -> None:
    for dataset_id in ("w", "x"):
        await privacy.set_policy(db, dataset_id, policy)
    await participants.withdraw(db, "w", ["P3"])
    callers = [None, REGISTERED, CONTROLLED]
    grains = ["boolean", "count", "record"]
    compared = 0
    for caller in callers:
        async for client in _client(cohort, caller):
            for query, grain in itertools.product(_queries(), grains):
                answers = {}
                for dataset_id in ("w", "x"):
                    params = {**query, "requestedGranularity": grain, "datasetIds": dataset_id}
                    async with client.get("/g_variants", params=params) as resp:
                        assert resp.status == 200
                        answers[dataset_id] = _strip(await resp.json(), dataset_id)
                    v1 = {**query, "datasetIds": dataset_id, "includeDatasetResponses": "ALL"}
                    async with client.get("/api/v1/query", params=v1) as resp:
                        # 400 where v1 cannot express the query (ranges); equal either way
                        assert resp.status in (200, 400), await resp.text()
                        answers[dataset_id + "v1"] = (
                            resp.status,
                            _strip(await resp.json(), dataset_id),
                        )
                assert answers["w"] == answers["x"], (caller, query, grain)
                assert answers["wv1"] == answers["xv1"], (caller, query, "v1")
                compared += 1
    assert compared == len(callers) * len(_queries()) * len(grains)


async def test_k_anonymity_and_count_floors(cohort: str, db: asyncpg.Connection) -> None:
    # 1:4000 T>C has 5 carriers, 1:1000 A>G one. Default policy but k = 5 exactly (each
    # allele's own threshold above k: test_threshold_spread); floor 5.
    await privacy.set_policy(
        db, "w", DisclosurePolicy(public_min_carriers=5, public_min_carriers_spread=0)
    )
    common, rare = _allele("1", 4000, "T", "C"), _allele("1", 1000, "A", "G")
    params = {"datasetIds": "w", "requestedGranularity": "count"}
    async for client in _client(cohort):
        for query, expected in ((common, True), (rare, False)):
            async with client.get("/g_variants", params={**query, **params}) as resp:
                body = await resp.json()
            assert body["meta"]["returnedGranularity"] == "boolean"
            assert body["responseSummary"]["exists"] is expected
    async for client in _client(cohort, REGISTERED):
        async with client.get("/g_variants", params={**rare, **params}) as resp:
            body = await resp.json()
        assert body["responseSummary"] == {
            "exists": True,
            "numTotalResults": 5,
            "countPrecision": "imprecise",
            "countAdjustedTo": [5],
        }
        result_set = body["response"]["resultSets"][0]
        assert result_set["resultsCount"] == 5
        assert result_set["countPrecision"] == "imprecise"


async def test_budget_holds_under_200_parallel_requests(
    cohort: str, db: asyncpg.Connection
) -> None:
    budget = QueryBudget(anonymous=25, registered=None, window_s=3600)
    query = {**_allele("1", 4000, "T", "C"), "requestedGranularity": "boolean"}
    async for client in _client(cohort, query_budget=budget, db_pool_max=20):

        async def one(client: TestClient[Any, Any]) -> int:
            async with client.get("/g_variants", params=query) as resp:
                body = await resp.json()
                if resp.status == 429:
                    assert body["error"]["errorCode"] == 429
                return resp.status

        statuses = await asyncio.gather(*(one(client) for _ in range(200)))
        assert statuses.count(200) == 25
        assert statuses.count(429) == 175
        # Framework endpoints are not charged.
        async with client.get("/info") as resp:
            assert resp.status == 200
    assert await db.fetchval("SELECT used FROM query_budget") == 25
    # Only answered queries are audited, and nothing in them names the allele.
    entries = await privacy.read_audit(db, limit=1000)
    assert len(entries) == 25
    assert {e.tier for e in entries} == {"anonymous"}
    assert {e.returned_granularity for e in entries} == {Granularity.BOOLEAN}
    assert all(e.endpoint == "/g_variants" for e in entries)
    assert all(e.client_address == "127.0.0.1" for e in entries)
    rows = await db.fetch("SELECT * FROM audit_log")
    text = repr([dict(r) for r in rows])
    assert "3999" not in text
    assert "Bearer" not in text


async def test_registered_budget_is_per_subject(cohort: str, db: asyncpg.Connection) -> None:
    budget = QueryBudget(anonymous=0, registered=2, window_s=3600)
    query = _allele("1", 4000, "T", "C")
    async for client in _client(cohort, REGISTERED, query_budget=budget):
        got = []
        for _ in range(3):
            async with client.get("/g_variants", params=query) as resp:
                got.append(resp.status)
        assert got == [200, 200, 429]
    entries = await privacy.read_audit(db)
    assert [(e.subject, e.tier) for e in entries] == [("alice", "registered")] * 2
    assert entries[0].datasets == ("w", "x")
    assert entries[0].granularities == (Granularity.BOOLEAN, Granularity.BOOLEAN)


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    cohort: str, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """The test client is the proxy (127.0.0.1); X-Forwarded-For names the clients."""
    caplog.set_level(logging.INFO, logger="beacon.access")
    budget = QueryBudget(anonymous=2, registered=None, window_s=3600)
    query = _allele("1", 4000, "T", "C")
    first, second = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    # The first client's own header (a spoofing attempt) is left of what the proxy appended.
    spoofed = {"X-Forwarded-For": "198.51.100.2, 198.51.100.1"}
    trusted = parse_networks(["127.0.0.1"])
    async for client in _client(cohort, query_budget=budget, trusted_proxies=trusted):
        got = []
        for headers in (first, spoofed, first, second):
            async with client.get("/g_variants", params=query, headers=headers) as resp:
                got.append(resp.status)
        assert got == [200, 200, 429, 200]
        # Forwarded (RFC 7239) is not read: this is the proxy itself, with a budget of its own.
        async with client.get(
            "/g_variants", params=query, headers={"Forwarded": "for=198.51.100.3"}
        ) as resp:
            assert resp.status == 200
    rows = await db.fetch("SELECT identity, used FROM query_budget ORDER BY identity")
    assert {r["identity"] for r in rows} == {
        "addr:127.0.0.1",
        "addr:198.51.100.1",
        "addr:198.51.100.2",
    }
    entries = await privacy.read_audit(db)
    assert sorted(e.client_address or "" for e in entries) == [
        "127.0.0.1",
        "198.51.100.1",
        "198.51.100.1",
        "198.51.100.2",
    ]
    logged = [r.getMessage().split()[0] for r in caplog.records if r.name == "beacon.access"]
    assert logged.count("198.51.100.1") == 3  # two answers and the 429
    assert logged.count("198.51.100.2") == 1


async def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    cohort: str, db: asyncpg.Connection
) -> None:
    budget = QueryBudget(anonymous=2, registered=None, window_s=3600)
    query = _allele("1", 4000, "T", "C")
    async for client in _client(cohort, query_budget=budget):
        got = []
        for forwarded in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
            headers = {"X-Forwarded-For": forwarded}
            async with client.get("/g_variants", params=query, headers=headers) as resp:
                got.append(resp.status)
        assert got == [200, 200, 429]
    assert [r["identity"] for r in await db.fetch("SELECT identity FROM query_budget")] == [
        "addr:127.0.0.1"
    ]
    entries = await privacy.read_audit(db)
    assert [e.client_address for e in entries] == ["127.0.0.1", "127.0.0.1"]


async def test_a_request_without_credentials_is_anonymous_without_asking(cohort: str) -> None:
    """The authenticator is asked only about credentials; none at all is anonymous, as every
    authenticator answers (beacon.access.Authenticator)."""
    asked: list[str | None] = []

    class Recording(FixedAuthenticator):
        async def identify(self, authorization: str | None, client_address: str | None) -> Caller:
            asked.append(authorization)
            return await super().identify(authorization, client_address)

    app = create_app(Settings(), dsn=cohort, authenticator=Recording(CONTROLLED))
    query = {**_queries()[0], "requestedGranularity": "count"}
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        async with client.get("/g_variants", params=query) as resp:
            anonymous = await resp.json()
            assert resp.status == 200, anonymous
        assert asked == []
        headers = {"Authorization": "Bearer bob"}
        async with client.get("/g_variants", params=query, headers=headers) as resp:
            controlled = await resp.json()
            assert resp.status == 200, controlled
        assert asked == ["Bearer bob"]
    # anonymous: boolean at most, and k-anonymity hides the rare allele; bob: counts
    assert anonymous["meta"]["returnedGranularity"] == "boolean"
    assert anonymous["responseSummary"] == {"exists": False}
    assert controlled["meta"]["returnedGranularity"] == "count"
    assert controlled["responseSummary"] == {"exists": True, "numTotalResults": 1}


async def test_each_query_route_audits_its_own_template(
    cohort: str, db: asyncpg.Connection
) -> None:
    """The audit entry of a query names the route it came through, as the metrics do; never
    the concrete path, which holds the allele or the dataset asked about."""
    allele = _allele("1", 4000, "T", "C")
    paths = {
        "/g_variants": ("/g_variants", allele),
        "/g_variants/{id}": ("/g_variants/1-4001-T-C", {}),
        "/datasets/{id}/g_variants": ("/datasets/w/g_variants", allele),
        "/api/v1/query": ("/api/v1/query", {"referenceName": "1", "start": "4000",
                          "referenceBases": "T", "alternateBases": "C", "assemblyId": "GRCh38"}),
    }  # fmt: skip
    async for client in _client(cohort):
        for path, params in paths.values():
            async with client.get(path, params=params) as resp:
                assert resp.status == 200, await resp.text()
        async with client.get("/metrics") as resp:
            metrics = await resp.text()
    entries = await privacy.read_audit(db, limit=10)
    assert sorted(e.endpoint for e in entries) == sorted(paths)
    for template in paths:
        assert f'endpoint="{template}",method="GET",status="200"}} 1' in metrics
    assert "4000" not in repr(entries)
    assert "4001" not in repr(entries)
