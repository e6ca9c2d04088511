"""Key sets: refresh on an unknown kid (key rotation), bounded by a rate limit."""

from __future__ import annotations

import pytest

from beacon.auth import OidcAuthenticator
from beacon.auth.config import parse_auth_config
from beacon.auth.keys import key_fits
from beacon.errors import Unauthenticated
from tests.beacon.auth.conftest import trust_document
from tests.beacon.auth.idp import IdentityProvider, new_rsa


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_rotated_key_is_picked_up_after_the_refresh_interval(
    login: IdentityProvider, dac: IdentityProvider
) -> None:
    clock = FakeClock()
    config = parse_auth_config(trust_document(login, dac, jwks_min_refresh_interval_s=60))
    auth = OidcAuthenticator(config, clock=clock)
    try:
        await auth.identify(f"Bearer {login.token(passport=[])}", None)
        assert login.hits["/jwks"] == 1

        rotated = new_rsa("login-rsa-2026")
        login.keys.append(rotated)
        token = login.token(key=rotated, passport=[])

        clock.now += 10  # inside the interval: the unknown kid may not trigger a fetch
        with pytest.raises(Unauthenticated):
            await auth.identify(f"Bearer {token}", None)
        assert login.hits["/jwks"] == 1

        clock.now += 60  # past it: one refresh, and the rotated key verifies
        caller = await auth.identify(f"Bearer {token}", None)
        assert caller.subject is not None
        assert login.hits["/jwks"] == 2

        # A flood of made-up kids right after costs the issuer nothing more.
        attacker = new_rsa("made-up")
        for _ in range(20):
            with pytest.raises(Unauthenticated):
                await auth.identify(f"Bearer {login.token(key=attacker)}", None)
        assert login.hits["/jwks"] == 2
    finally:
        await auth.aclose()


async def test_keys_older_than_max_age_are_reloaded(
    login: IdentityProvider, dac: IdentityProvider
) -> None:
    clock = FakeClock()
    config = parse_auth_config(trust_document(login, dac, jwks_max_age_s=300))
    auth = OidcAuthenticator(config, clock=clock)
    try:
        await auth.identify(f"Bearer {login.token(passport=[])}", None)
        clock.now += 301
        await auth.identify(f"Bearer {login.token(passport=[])}", None)
        assert login.hits["/jwks"] == 2
        # A failed reload keeps the cached keys instead of locking everybody out.
        clock.now += 301
        await login.stop()
        caller = await auth.identify(f"Bearer {login.token(passport=[])}", None)
        assert caller.subject is not None
    finally:
        await auth.aclose()


@pytest.mark.parametrize(
    ("jwk", "alg", "fits"),
    [
        ({"kty": "RSA"}, "RS256", True),
        ({"kty": "RSA"}, "PS256", True),
        ({"kty": "RSA", "alg": "RS256"}, "PS256", False),
        ({"kty": "RSA", "use": "enc"}, "RS256", False),
        ({"kty": "RSA", "key_ops": ["encrypt"]}, "RS256", False),
        ({"kty": "RSA", "key_ops": ["verify"]}, "RS256", True),
        ({"kty": "EC", "crv": "P-256"}, "ES256", True),
        ({"kty": "EC", "crv": "P-384"}, "ES256", False),
        ({"kty": "RSA"}, "ES256", False),
        ({"kty": "oct", "k": "c2VjcmV0"}, "HS256", False),
        ({"kty": "oct", "k": "c2VjcmV0"}, "RS256", False),
        ({"kty": "RSA"}, "none", False),
        ({"kty": "OKP", "crv": "Ed25519"}, "EdDSA", True),
    ],
)
def test_key_fits(jwk: dict[str, object], alg: str, fits: bool) -> None:
    assert key_fits(jwk, alg) is fits
