"""Genuine tokens and passports from a real identity provider on loopback."""

from __future__ import annotations

import logging

import pytest

from beacon.access import Caller, Tier
from beacon.auth import IdentityProviderUnavailable, OidcAuthenticator, caller_subject
from beacon.auth.config import parse_auth_config
from beacon.errors import Unauthenticated
from tests.beacon.auth.conftest import trust_document
from tests.beacon.auth.idp import AUDIENCE, IdentityProvider


async def test_no_header_is_anonymous(authenticator: OidcAuthenticator) -> None:
    assert await authenticator.identify(None, "10.0.0.1") == Caller.anonymous("10.0.0.1")
    assert await authenticator.identify("  ", None) == Caller.anonymous(None)


async def test_token_without_visas_is_authenticated_but_not_registered(
    authenticator: OidcAuthenticator, login: IdentityProvider
) -> None:
    caller = await authenticator.identify(f"Bearer {login.token(passport=[])}", "127.0.0.1")
    assert caller.subject == caller_subject(login.issuer, "alice")
    assert caller.tier is Tier.ANONYMOUS
    assert caller.controlled_datasets == frozenset()
    assert caller.client_address == "127.0.0.1"


@pytest.mark.parametrize("kid", ["login-rsa", "login-ec", "login-ps"])
async def test_every_allowed_algorithm_of_the_issuer_verifies(
    authenticator: OidcAuthenticator, login: IdentityProvider, kid: str
) -> None:
    key = next(k for k in login.keys if k.kid == kid)
    caller = await authenticator.identify(f"Bearer {login.token(key=key, passport=[])}", None)
    assert caller.subject == caller_subject(login.issuer, "alice")


async def test_bona_fide_visas_make_a_registered_user(
    authenticator: OidcAuthenticator, login: IdentityProvider
) -> None:
    token = login.token(passport=login.bona_fide())
    caller = await authenticator.identify(f"bearer {token}", None)
    assert caller.tier is Tier.REGISTERED
    assert caller.controlled_datasets == frozenset()


@pytest.mark.parametrize("kind", ["AcceptedTermsAndPolicies", "ResearcherStatus"])
async def test_half_of_bona_fide_is_not_enough(
    authenticator: OidcAuthenticator, login: IdentityProvider, kind: str
) -> None:
    visas = [v for v in login.bona_fide() if kind in str(_visa_type(v))]
    assert len(visas) == 1
    caller = await authenticator.identify(f"Bearer {login.token(passport=visas)}", None)
    assert caller.tier is Tier.ANONYMOUS


def _visa_type(visa: str) -> str:
    from tests.beacon.auth.idp import payload_of

    return str(payload_of(visa)["ga4gh_visa_v1"]["type"])


async def test_self_asserted_researcher_status_does_not_count(
    authenticator: OidcAuthenticator, login: IdentityProvider
) -> None:
    from tests.beacon.auth.idp import BONA_FIDE

    visas = [
        login.visa("AcceptedTermsAndPolicies", BONA_FIDE, by="self"),
        login.visa("ResearcherStatus", BONA_FIDE, by="self"),
    ]
    caller = await authenticator.identify(f"Bearer {login.token(passport=visas)}", None)
    assert caller.tier is Tier.ANONYMOUS


async def test_controlled_access_grants_from_two_trusted_issuers(
    authenticator: OidcAuthenticator, login: IdentityProvider, dac: IdentityProvider
) -> None:
    passport = [
        dac.grant("ds1"),
        login.grant("ds2", by="so"),
        dac.visa("ControlledAccessGrants", "https://doi.org/10.1000/ds-legacy"),
    ]
    caller = await authenticator.identify(f"Bearer {login.token(passport=passport)}", None)
    # Grants open their own datasets; without bona fide status the caller is not registered.
    assert caller.tier is Tier.ANONYMOUS
    assert caller.controlled_datasets == frozenset({"ds1", "ds2", "legacy"})

    token = login.token(passport=passport + login.bona_fide())
    caller = await authenticator.identify(f"Bearer {token}", None)
    assert caller.tier is Tier.CONTROLLED
    assert caller.controlled_datasets == frozenset({"ds1", "ds2", "legacy"})


async def test_passport_from_userinfo(
    authenticator: OidcAuthenticator, login: IdentityProvider, dac: IdentityProvider
) -> None:
    token = login.token()  # no ga4gh_passport_v1 claim: ask userinfo
    login.userinfo_passports[token] = [dac.grant("ds1")]
    caller = await authenticator.identify(f"Bearer {token}", None)
    assert caller.controlled_datasets == frozenset({"ds1"})
    again = await authenticator.identify(f"Bearer {token}", None)
    assert again == caller
    assert login.hits["/userinfo"] == 1  # cached for the token's lifetime (bounded)


async def test_token_refused_by_userinfo_is_unauthenticated(
    authenticator: OidcAuthenticator, login: IdentityProvider
) -> None:
    token = login.token()  # the provider does not know it: userinfo answers 401
    with pytest.raises(Unauthenticated):
        await authenticator.identify(f"Bearer {token}", None)


async def test_keys_are_fetched_once_and_cached(
    authenticator: OidcAuthenticator, login: IdentityProvider
) -> None:
    for _ in range(5):
        await authenticator.identify(f"Bearer {login.token(passport=[])}", None)
    assert login.hits["/jwks"] == 1
    assert login.hits["/.well-known/openid-configuration"] == 1


async def test_unreachable_issuer_is_503_not_anonymous(
    login: IdentityProvider, dac: IdentityProvider
) -> None:
    token = login.token(passport=[])
    auth = OidcAuthenticator(parse_auth_config(trust_document(login, dac)))
    await login.stop()
    try:
        with pytest.raises(IdentityProviderUnavailable) as err:
            await auth.identify(f"Bearer {token}", None)
        assert err.value.status == 503
    finally:
        await auth.aclose()


async def test_authenticated_without_bona_fide_when_operator_allows_it(
    login: IdentityProvider, dac: IdentityProvider
) -> None:
    config = parse_auth_config(trust_document(login, dac, registered_requires_bona_fide=False))
    auth = OidcAuthenticator(config)
    try:
        caller = await auth.identify(f"Bearer {login.token(passport=[])}", None)
        assert caller.tier is Tier.REGISTERED
    finally:
        await auth.aclose()


async def test_token_never_reaches_the_logs(
    authenticator: OidcAuthenticator,
    login: IdentityProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    good = login.token(passport=login.bona_fide())
    bad = login.token(aud="https://elsewhere.example.org")
    await authenticator.identify(f"Bearer {good}", None)
    with pytest.raises(Unauthenticated):
        await authenticator.identify(f"Bearer {bad}", None)
    assert caplog.records, "expected some DEBUG records to inspect"
    for token in (good, bad):
        for part in token.split("."):
            assert part not in caplog.text


async def test_audience_list_with_ours_is_accepted(
    authenticator: OidcAuthenticator, login: IdentityProvider
) -> None:
    token = login.token(aud=["https://other.example.org", AUDIENCE], passport=[])
    caller = await authenticator.identify(f"Bearer {token}", None)
    assert caller.subject is not None
