"""End to end through the beacon's HTTP API: a real identity provider, a real PostgreSQL.

Four datasets hold the same allele: ``open`` (PUBLIC), ``reg`` (REGISTERED), ``ds1`` and
``ds2`` (CONTROLLED). Anonymous callers get public answers; naming a protected dataset
without a token is 401; with a valid token that lacks the grant, 403; every forged token is
401 and every forged visa opens nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from beacon.auth import OidcAuthenticator
from beacon.auth.config import AuthConfig
from beacon.config import Settings
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import SecurityLevel
from beacon.policy import OPEN_POLICY
from beacon.storage import privacy
from beacon.storage.db import connect as privacy_store_connect
from beacon.web import create_app
from tests.beacon.auth.idp import IdentityProvider
from tests.beacon.auth.test_forged import TOKEN_FORGERIES, VISA_FORGERIES, World

DATASETS = {
    "open": SecurityLevel.PUBLIC,
    "reg": SecurityLevel.REGISTERED,
    "ds1": SecurityLevel.CONTROLLED,
    "ds2": SecurityLevel.CONTROLLED,
}
QUERY = {
    "assemblyId": "GRCh38",
    "referenceName": "1",
    "start": "999",
    "referenceBases": "A",
    "alternateBases": "G",
}


def _vcf(path: Path) -> Path:
    path.write_text(
        "##fileformat=VCFv4.2\n"
        "##contig=<ID=1,length=248956422>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\n"
        "1\t1000\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t1/1\t0/0\n"
        "1\t2000\t.\tC\tT\t50\tPASS\t.\tGT\t0/1\t0/0\t0/0\n"
    )
    return path


@pytest.fixture
async def client(
    database_url: str, tmp_path: Path, auth_config: AuthConfig
) -> AsyncIterator[TestClient[Any, Any]]:
    vcf = _vcf(tmp_path / "small.vcf")
    for dataset_id, level in DATASETS.items():
        await load_vcf(
            database_url,
            vcf,
            LoadOptions(dataset_id=dataset_id, assembly="GRCh38", security_level=level),
        )
    # These tests are about who may see which dataset, not about disclosure limits: an open
    # policy (no k-anonymity, no count floors) keeps the two-carrier allele visible.
    store = await privacy_store_connect(database_url)
    try:
        for dataset_id in DATASETS:
            await privacy.set_policy(store, dataset_id, OPEN_POLICY)
    finally:
        await store.close()
    authenticator = OidcAuthenticator(auth_config)
    app = create_app(Settings(), dsn=database_url, authenticator=authenticator)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client
    await authenticator.aclose()


async def _get(
    client: TestClient[Any, Any], path: str, token: str | None = None, **params: str
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with client.get(path, params=params, headers=headers) as resp:
        return resp.status, await resp.json()


async def _visible(client: TestClient[Any, Any], token: str | None = None) -> set[str]:
    status, body = await _get(client, "/datasets", token)
    assert status == 200, body
    return {c["id"] for c in body["response"]["collections"]}


async def test_anonymous_callers_get_public_answers(client: TestClient[Any, Any]) -> None:
    assert await _visible(client) == {"open"}
    status, body = await _get(client, "/g_variants", **QUERY)
    assert status == 200, body
    assert body["responseSummary"]["exists"] is True


@pytest.mark.parametrize("dataset_id", ["reg", "ds1"])
async def test_protected_dataset_without_a_token_is_401(
    client: TestClient[Any, Any], dataset_id: str
) -> None:
    status, body = await _get(client, "/g_variants", datasetIds=dataset_id, **QUERY)
    assert status == 401, body
    assert body["error"]["errorCode"] == 401
    status, body = await _get(client, f"/datasets/{dataset_id}/g_variants", **QUERY)
    assert status == 401, body
    async with client.get(f"/datasets/{dataset_id}") as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="beacon"'


async def test_invalid_token_is_401_with_a_bearer_challenge(
    client: TestClient[Any, Any], login: IdentityProvider
) -> None:
    expired = login.token(issued_ago_s=3600, lifetime_s=60, passport=[])
    async with client.get("/info", headers={"Authorization": f"Bearer {expired}"}) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == ('Bearer realm="beacon", error="invalid_token"')
        body = await resp.json()
    assert body["error"]["errorCode"] == 401
    assert expired not in str(body)


async def test_authenticated_but_not_permitted_is_403(
    client: TestClient[Any, Any], login: IdentityProvider
) -> None:
    token = login.token("bob", passport=[])
    status, body = await _get(client, "/g_variants", token, datasetIds="reg", **QUERY)
    assert status == 403, body
    assert body["error"]["errorCode"] == 403
    bona_fide = login.token("bob", passport=login.bona_fide("bob"))
    status, _ = await _get(client, "/g_variants", bona_fide, datasetIds="reg", **QUERY)
    assert status == 200
    status, body = await _get(client, "/g_variants", bona_fide, datasetIds="ds1", **QUERY)
    assert status == 403, body
    status, body = await _get(client, "/datasets/ds1", bona_fide)
    assert status == 403, body


async def test_grants_open_exactly_their_datasets(
    client: TestClient[Any, Any], login: IdentityProvider, dac: IdentityProvider
) -> None:
    grant_only = login.token(passport=[dac.grant("ds1")])
    assert await _visible(client, grant_only) == {"open", "ds1"}
    full = login.token(passport=[dac.grant("ds1"), *login.bona_fide()])
    assert await _visible(client, full) == {"open", "reg", "ds1"}
    status, body = await _get(client, "/g_variants", full, datasetIds="ds1", **QUERY)
    assert status == 200, body
    assert body["responseSummary"]["exists"] is True
    status, _ = await _get(client, "/g_variants", full, datasetIds="ds2", **QUERY)
    assert status == 403


async def test_forged_tokens_are_401_everywhere(
    client: TestClient[Any, Any],
    login: IdentityProvider,
    dac: IdentityProvider,
    rogue: IdentityProvider,
    attacker_key: Any,
) -> None:
    world = World(login, dac, rogue, attacker_key)
    for case, forge in sorted(TOKEN_FORGERIES.items()):
        token = forge(world)
        for path, params in (("/g_variants", QUERY), ("/datasets", {})):
            status, body = await _get(client, path, token, **params)
            assert status == 401, (case, path, body)
    assert sum(rogue.hits.values()) == 0


async def test_forged_visas_open_nothing(
    client: TestClient[Any, Any],
    login: IdentityProvider,
    dac: IdentityProvider,
    rogue: IdentityProvider,
    attacker_key: Any,
) -> None:
    world = World(login, dac, rogue, attacker_key)
    for case, forge in sorted(VISA_FORGERIES.items()):
        token = login.token("mallory", passport=[forge(world)])
        assert await _visible(client, token) == {"open"}, case
        status, body = await _get(client, "/g_variants", token, datasetIds="ds1", **QUERY)
        assert status == 403, (case, body)


async def test_beacon_v1_queries_apply_the_same_rules(
    client: TestClient[Any, Any], login: IdentityProvider, dac: IdentityProvider
) -> None:
    v1 = {**QUERY, "datasetIds": "ds1"}  # v1 start is 0-based as well
    status, _ = await _get(client, "/api/v1/query", **v1)
    assert status == 401
    status, _ = await _get(client, "/api/v1/query", login.token(passport=[]), **v1)
    assert status == 403
    granted = login.token(passport=[dac.grant("ds1")])
    status, body = await _get(client, "/api/v1/query", granted, **v1)
    assert status == 200, body
    assert body["exists"] is True
