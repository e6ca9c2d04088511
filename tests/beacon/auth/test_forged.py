"""The forged-token matrix: every forgery grants nothing.

Token-level forgeries must be refused outright (401: never a silent downgrade to anonymous
or registered). Visa-level forgeries leave a valid token whose caller holds zero grants.
Each case is built against real identity providers on loopback; an attacker's key server
counts requests so we can prove its URL was never followed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from beacon.access import Tier
from beacon.auth import OidcAuthenticator
from beacon.errors import Unauthenticated
from tests.beacon.auth.idp import (
    DATASET_BASE,
    IdentityProvider,
    SigningKey,
    hmac_signed,
    payload_of,
    replace_payload,
    unsigned,
)


@dataclass
class World:
    login: IdentityProvider
    dac: IdentityProvider
    rogue: IdentityProvider
    attacker_key: SigningKey


@pytest.fixture
def world(
    login: IdentityProvider,
    dac: IdentityProvider,
    rogue: IdentityProvider,
    attacker_key: SigningKey,
) -> World:
    return World(login, dac, rogue, attacker_key)


def _claims(w: World, **over: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": w.login.issuer,
        "sub": "mallory",
        "aud": "https://beacon.example.org",
        "iat": now,
        "exp": now + 300,
        "ga4gh_passport_v1": [w.dac.grant("ds1", sub="mallory")],
    }
    claims.update(over)
    return claims


# Token-level forgeries: the bearer token itself is bad. Each carries a genuine grant visa
# so that accepting the token by mistake would show up as a grant.
TOKEN_FORGERIES: dict[str, Callable[[World], str]] = {
    "expired": lambda w: w.login.token(
        "mallory", issued_ago_s=3600, lifetime_s=600, passport=[w.dac.grant("ds1", sub="mallory")]
    ),
    "not yet valid (nbf)": lambda w: w.login.sign(_claims(w, nbf=int(time.time()) + 3600)),
    "issued in the future (iat)": lambda w: w.login.sign(
        _claims(w, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)
    ),
    "wrong audience": lambda w: w.login.sign(_claims(w, aud="https://other-service.example.org")),
    "no audience": lambda w: w.login.sign({k: v for k, v in _claims(w).items() if k != "aud"}),
    "no expiry": lambda w: w.login.sign({k: v for k, v in _claims(w).items() if k != "exp"}),
    "wrong issuer (untrusted, properly signed)": lambda w: w.rogue.token(
        "mallory", passport=[w.dac.grant("ds1", sub="mallory")]
    ),
    "trusted issuer name, attacker's key": lambda w: w.login.sign(_claims(w), key=w.attacker_key),
    "attacker's key under the issuer's kid": lambda w: w.login.sign(
        _claims(w),
        key=SigningKey(kid="login-rsa", alg="RS256", private=w.attacker_key.private),
    ),
    "alg none": lambda w: unsigned({"alg": "none", "typ": "JWT"}, _claims(w)),
    "alg none with kid": lambda w: unsigned({"alg": "none", "kid": "login-rsa"}, _claims(w)),
    "HS256 signed with the issuer's public key": lambda w: hmac_signed(
        _claims(w), w.login.keys[0].public_pem(), kid="login-rsa"
    ),
    "HS256 signed with the issuer's JWK n": lambda w: hmac_signed(
        _claims(w), str(w.login.keys[0].public_jwk()["n"]).encode(), kid="login-rsa"
    ),
    "unknown kid": lambda w: w.login.sign(_claims(w), key=w.attacker_key),
    "jku pointing at the attacker's key set": lambda w: w.login.sign(
        _claims(w), key=w.attacker_key, headers={"jku": w.rogue.jwks_uri}
    ),
    "x5u pointing elsewhere": lambda w: w.login.sign(
        _claims(w), key=w.attacker_key, headers={"x5u": w.rogue.issuer + "/cert.pem"}
    ),
    "embedded jwk": lambda w: w.login.sign(
        _claims(w), key=w.attacker_key, headers={"jwk": w.attacker_key.public_jwk()}
    ),
    "tampered payload": lambda w: replace_payload(
        w.login.token("mallory", passport=[]),
        _claims(w),
    ),
    "tampered payload (subject swapped)": lambda w: replace_payload(
        (t := w.login.token("mallory", passport=[])),
        {**payload_of(t), "sub": "alice"},
    ),
    "RS256 token verified as PS256 key mismatch": lambda w: unsigned(
        {"alg": "PS256", "kid": "login-rsa"}, _claims(w), b"\x00" * 256
    ),
    "crit header": lambda w: w.login.sign(_claims(w), headers={"crit": ["exp"], "exp": 1}),
    "garbage": lambda w: "not-a-jwt",
    "two segments": lambda w: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0",
}


@pytest.mark.parametrize("case", sorted(TOKEN_FORGERIES))
async def test_forged_token_is_refused(
    authenticator: OidcAuthenticator, world: World, case: str
) -> None:
    token = TOKEN_FORGERIES[case](world)
    with pytest.raises(Unauthenticated) as err:
        await authenticator.identify(f"Bearer {token}", "127.0.0.1")
    assert err.value.status == 401
    # Nothing was ever fetched from anywhere the token pointed to.
    assert sum(world.rogue.hits.values()) == 0


@pytest.mark.parametrize(
    "header", ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer    ", "Token abc", "bearer a b"]
)
async def test_malformed_authorization_header_is_refused(
    authenticator: OidcAuthenticator, header: str
) -> None:
    with pytest.raises(Unauthenticated):
        await authenticator.identify(header, None)


# Visa-level forgeries: a valid token for mallory whose passport holds one bad visa.
VISA_FORGERIES: dict[str, Callable[[World], Any]] = {
    "signed by an untrusted issuer": lambda w: w.rogue.grant("ds1", sub="mallory"),
    "trusted issuer name, attacker's key": lambda w: w.dac.grant(
        "ds1", sub="mallory", key=w.attacker_key
    ),
    "attacker's key under the dac's kid": lambda w: w.dac.grant(
        "ds1", sub="mallory", key=SigningKey("dac-1", "RS256", w.attacker_key.private)
    ),
    "another organisation's dataset, same trailing id": lambda w: w.dac.visa(
        "ControlledAccessGrants", "https://other.example.net/datasets/ds1", sub="mallory"
    ),
    "bare dataset id": lambda w: w.dac.visa("ControlledAccessGrants", "ds1", sub="mallory"),
    "identifier with our base as a prefix of a longer path": lambda w: w.dac.visa(
        "ControlledAccessGrants", DATASET_BASE + "ds1/../ds2", sub="mallory"
    ),
    "our base inside another host's URL": lambda w: w.dac.visa(
        "ControlledAccessGrants", "https://evil.example.net/?" + DATASET_BASE + "ds1", sub="mallory"
    ),
    "tampered payload": lambda w: replace_payload(
        (v := w.dac.grant("ds2", sub="mallory")),
        {
            **payload_of(v),
            "ga4gh_visa_v1": {**payload_of(v)["ga4gh_visa_v1"], "value": DATASET_BASE + "ds1"},
        },
    ),
    "expired visa": lambda w: w.dac.grant("ds1", sub="mallory", lifetime_s=-3600),
    "asserted in the future": lambda w: w.dac.grant("ds1", sub="mallory", asserted_ago_s=-86400),
    "self-asserted grant": lambda w: w.dac.grant("ds1", sub="mallory", by="self"),
    "peer-asserted grant": lambda w: w.dac.grant("ds1", sub="mallory", by="peer"),
    "grant without by": lambda w: w.dac.grant("ds1", sub="mallory", by=None),
    "grant for another subject": lambda w: w.dac.grant("ds1", sub="alice"),
    "grant with conditions": lambda w: w.dac.grant(
        "ds1", sub="mallory", conditions=[[{"type": "AffiliationAndRole", "value": "x"}]]
    ),
    "visa for another audience": lambda w: w.dac.grant(
        "ds1", sub="mallory", aud="https://other-service.example.org"
    ),
    "alg none visa": lambda w: unsigned(
        {"alg": "none", "kid": "dac-1"}, payload_of(w.dac.grant("ds1", sub="mallory"))
    ),
    "HS256 visa with the dac's public key": lambda w: hmac_signed(
        payload_of(w.dac.grant("ds1", sub="mallory")), w.dac.keys[0].public_pem(), kid="dac-1"
    ),
    "jku visa pointing at the attacker": lambda w: w.dac.sign(
        payload_of(w.dac.grant("ds1", sub="mallory")),
        key=w.attacker_key,
        headers={"jku": w.rogue.jwks_uri},
    ),
    "not a visa (no ga4gh_visa_v1)": lambda w: w.dac.sign(
        {
            k: v
            for k, v in payload_of(w.dac.grant("ds1", sub="mallory")).items()
            if k != "ga4gh_visa_v1"
        }
    ),
    "not a string": lambda w: 42,
}


@pytest.mark.parametrize("case", sorted(VISA_FORGERIES))
async def test_forged_visa_grants_nothing(
    authenticator: OidcAuthenticator, world: World, case: str
) -> None:
    bad_visa = VISA_FORGERIES[case](world)
    token = world.login.token("mallory", passport=[bad_visa])
    caller = await authenticator.identify(f"Bearer {token}", "127.0.0.1")
    assert caller.controlled_datasets == frozenset()
    assert caller.tier is Tier.ANONYMOUS
    assert sum(world.rogue.hits.values()) == 0


async def test_forged_visas_beside_a_genuine_one_grant_only_the_genuine(
    authenticator: OidcAuthenticator, world: World
) -> None:
    passport = [VISA_FORGERIES[c](world) for c in sorted(VISA_FORGERIES)]
    passport.append(world.dac.grant("ds2", sub="mallory"))
    token = world.login.token("mallory", passport=passport)
    caller = await authenticator.identify(f"Bearer {token}", None)
    assert caller.controlled_datasets == frozenset({"ds2"})


async def test_unknown_kids_refresh_the_key_set_at_most_once_per_interval(
    authenticator: OidcAuthenticator, world: World
) -> None:
    for _ in range(10):
        forged = world.login.sign(_claims(world), key=world.attacker_key)
        with pytest.raises(Unauthenticated):
            await authenticator.identify(f"Bearer {forged}", None)
    # the initial load only: within the refresh interval, unknown kids fetch nothing more
    assert world.login.hits["/jwks"] == 1
