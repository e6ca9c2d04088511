"""Fixtures: real identity providers on loopback and an authenticator that trusts some of them.

* ``login``: the OIDC provider whose tokens the beacon accepts; also a trusted visa issuer.
* ``dac``: a data access committee that signs visas; trusted, known only by its JWKS URL.
* ``rogue``: a well-formed provider nobody configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from beacon.auth import OidcAuthenticator
from beacon.auth.config import AuthConfig, parse_auth_config
from tests.beacon.auth.idp import (
    AUDIENCE,
    DATASET_BASE,
    IdentityProvider,
    SigningKey,
    new_ec,
    new_rsa,
)


@pytest.fixture(scope="session")
def login_keys() -> list[SigningKey]:
    return [new_rsa("login-rsa"), new_ec("login-ec"), new_rsa("login-ps", alg="PS256")]


@pytest.fixture(scope="session")
def dac_keys() -> list[SigningKey]:
    return [new_rsa("dac-1")]


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    return new_rsa("attacker")


@pytest.fixture
async def login(login_keys: list[SigningKey]) -> AsyncIterator[IdentityProvider]:
    idp = await IdentityProvider(keys=list(login_keys)).start()
    yield idp
    await idp.stop()


@pytest.fixture
async def dac(dac_keys: list[SigningKey]) -> AsyncIterator[IdentityProvider]:
    idp = await IdentityProvider(keys=list(dac_keys), discovery=False).start()
    yield idp
    await idp.stop()


@pytest.fixture
async def rogue(attacker_key: SigningKey) -> AsyncIterator[IdentityProvider]:
    idp = await IdentityProvider(keys=[attacker_key]).start()
    yield idp
    await idp.stop()


def trust_document(login: IdentityProvider, dac: IdentityProvider, **over: Any) -> dict[str, Any]:
    """The trusted-issuers document the tests use (as an operator would write it)."""
    doc: dict[str, Any] = {
        "audience": [AUDIENCE],
        "issuers": [{"issuer": login.issuer, "userinfo": True}],
        "visa_issuers": [
            {"issuer": login.issuer},
            {"issuer": dac.issuer, "jwks_uri": dac.jwks_uri},
        ],
        "dataset_identifier_base": DATASET_BASE,
        "datasets": {"https://doi.org/10.1000/ds-legacy": "legacy"},
        "leeway_s": 5,
    }
    doc.update(over)
    return doc


@pytest.fixture
def auth_config(login: IdentityProvider, dac: IdentityProvider) -> AuthConfig:
    return parse_auth_config(trust_document(login, dac))


@pytest.fixture
async def authenticator(auth_config: AuthConfig) -> AsyncIterator[OidcAuthenticator]:
    auth = OidcAuthenticator(auth_config)
    yield auth
    await auth.aclose()
