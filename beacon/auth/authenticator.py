"""OIDC bearer tokens and GA4GH Passports -> :class:`beacon.access.Caller`.

No ``Authorization`` header: an anonymous caller. A header that is present but does not hold
a valid bearer token from a trusted issuer: :class:`beacon.errors.Unauthenticated` (401),
never a silent downgrade. A valid token: a caller whose tier and controlled datasets come
only from visas that are themselves signed by a trusted visa issuer. A visa that fails any
check is dropped and grants nothing; the token itself stays valid.

Tokens are never logged; rejection reasons are logged at DEBUG only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from beacon.access import Caller, Tier
from beacon.auth.config import AuthConfig, TokenIssuer
from beacon.auth.errors import IdentityProviderUnavailable
from beacon.auth.http import HttpStatusError, IssuerClient
from beacon.auth.keys import IssuerKeys
from beacon.auth.passport import Visa, entitlements, parse_visa
from beacon.auth.tokens import Expectations, TokenRejected, unverified_issuer, verify
from beacon.errors import Unauthenticated

log = logging.getLogger(__name__)

_TOKEN_CLAIMS = ("exp", "iat", "iss", "sub")
_VISA_CLAIMS = ("exp", "iat", "iss", "sub", "ga4gh_visa_v1")
_USERINFO_CACHE_ENTRIES = 1024


def caller_subject(issuer: str, subject: str) -> str:
    """The caller's identity: ``sub`` is unique only per issuer, so both are kept."""
    return f"{subject}@{issuer}"


class OidcAuthenticator:
    """The :class:`beacon.access.Authenticator` for OIDC bearer tokens with GA4GH Passports.

    ``clock`` is monotonic seconds (key refresh rate limits, caches); ``now`` is Unix seconds
    (visa ``asserted``/``exp``). Owns an HTTP session: call :meth:`aclose` when done.
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._now = now
        self._client = IssuerClient(timeout_s=config.http_timeout_s)
        self._keys: dict[str, IssuerKeys] = {}
        for issuer in config.token_issuers:
            self._keys[issuer.issuer] = self._issuer_keys(issuer.issuer, issuer.jwks_uri)
        # Visa issuers get their own key caches even when the same URL is a token issuer:
        # their JWKS location may be configured differently.
        self._visa_keys = {
            v.issuer: self._issuer_keys(v.issuer, v.jwks_uri) for v in config.visa_issuers
        }
        self._audiences = tuple(sorted({a for i in config.token_issuers for a in i.audiences}))
        self._userinfo: OrderedDict[str, tuple[float, list[Any]]] = OrderedDict()

    def _issuer_keys(self, issuer: str, jwks_uri: str | None) -> IssuerKeys:
        return IssuerKeys(
            issuer,
            self._client,
            jwks_uri=jwks_uri,
            min_refresh_interval_s=self.config.jwks_min_refresh_interval_s,
            max_age_s=self.config.jwks_max_age_s,
            clock=self._clock,
        )

    def token_keys(self, issuer: str) -> IssuerKeys:
        """The key cache of token issuer ``issuer`` (KeyError if not configured)."""
        return self._keys[issuer]

    async def aclose(self) -> None:
        """Close the HTTP session (idempotent)."""
        await self._client.aclose()

    async def identify(self, authorization: str | None, client_address: str | None) -> Caller:
        """The caller behind the ``Authorization`` header ``authorization``.

        Raises :class:`Unauthenticated` for a header that is not a valid bearer token of a
        trusted issuer, and :class:`IdentityProviderUnavailable` (503) when the issuer's keys
        or userinfo cannot be had in time.
        """
        if authorization is None or not authorization.strip():
            return Caller.anonymous(client_address)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Authorization must be a Bearer token", parameter="Authorization")
        try:
            issuer, claims = await self._verify_token(token)
            visas = await self._passport(token, issuer, claims)
        except TokenRejected as exc:
            log.debug("bearer token rejected: %s", exc.reason)
            raise Unauthenticated(
                f"invalid bearer token: {exc.reason}", parameter="Authorization"
            ) from exc
        subject = str(claims["sub"])
        granted = entitlements(visas, subject=subject, config=self.config, now=self._now())
        # A grant opens its own dataset only (beacon.access.dataset_tier); it does not make
        # the caller registered on every other dataset. Only bona fide status does that.
        registered = granted.bona_fide or not self.config.registered_requires_bona_fide
        if registered and granted.controlled_datasets:
            tier = Tier.CONTROLLED
        elif registered:
            tier = Tier.REGISTERED
        else:
            tier = Tier.ANONYMOUS
        return Caller(
            subject=caller_subject(issuer.issuer, subject),
            tier=tier,
            controlled_datasets=granted.controlled_datasets,
            client_address=client_address,
        )

    async def _verify_token(self, token: str) -> tuple[TokenIssuer, dict[str, Any]]:
        iss, header = unverified_issuer(token, self.config.max_token_bytes)
        issuer = self.config.token_issuer(iss)
        if issuer is None:
            raise TokenRejected("untrusted issuer")
        claims = await verify(
            token,
            issuer=issuer.issuer,
            header=header,
            keys=self._keys[issuer.issuer].key_for,
            expect=Expectations(
                algorithms=issuer.algorithms,
                audiences=issuer.audiences,
                required=_TOKEN_CLAIMS,
                leeway_s=self.config.leeway_s,
            ),
        )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenRejected("token names no subject")
        return issuer, claims

    async def _passport(
        self, token: str, issuer: TokenIssuer, claims: dict[str, Any]
    ) -> list[Visa]:
        """The verified visas of this token's passport (from the token, else userinfo)."""
        if not self.config.visa_issuers:
            return []
        raw = claims.get("ga4gh_passport_v1")
        if raw is None and issuer.userinfo:
            raw = await self._userinfo_passport(token, issuer, claims)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise TokenRejected("ga4gh_passport_v1 is not a list")
        if len(raw) > self.config.max_visas:
            raise TokenRejected("too many visas")
        verified = await asyncio.gather(*(self._visa(v) for v in raw))
        return [v for v in verified if v is not None]

    async def _visa(self, visa_jwt: Any) -> Visa | None:
        if not isinstance(visa_jwt, str):
            return None
        try:
            iss, header = unverified_issuer(visa_jwt, self.config.max_token_bytes)
            trusted = self.config.visa_issuer(iss)
            if trusted is None:
                raise TokenRejected("untrusted visa issuer")
            claims = await verify(
                visa_jwt,
                issuer=trusted.issuer,
                header=header,
                keys=self._visa_keys[trusted.issuer].key_for,
                expect=Expectations(
                    algorithms=trusted.algorithms,
                    audiences=None,
                    optional_audiences=self._audiences,
                    required=_VISA_CLAIMS,
                    leeway_s=self.config.leeway_s,
                ),
            )
        except (TokenRejected, IdentityProviderUnavailable) as exc:
            # One bad or unverifiable visa grants nothing; it does not void the whole token.
            log.debug("visa ignored: %s", getattr(exc, "reason", type(exc).__name__))
            return None
        return parse_visa(claims)

    async def _userinfo_passport(
        self, token: str, issuer: TokenIssuer, claims: dict[str, Any]
    ) -> Any:
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._userinfo.get(digest)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        endpoint = (await self._keys[issuer.issuer].endpoints()).userinfo_endpoint
        if endpoint is None:
            raise IdentityProviderUnavailable(f"{issuer.issuer} publishes no userinfo endpoint")
        try:
            info = await self._client.get_json(endpoint, bearer=token)
        except HttpStatusError as exc:
            if exc.http_status in (401, 403):
                raise TokenRejected("token refused by its issuer") from exc
            raise
        if info.get("sub") != claims["sub"]:
            # OIDC Core 5.3.2: userinfo for another subject must not be used.
            raise TokenRejected("userinfo names another subject")
        passport = info.get("ga4gh_passport_v1", [])
        lifetime = min(self.config.userinfo_cache_s, max(0.0, float(claims["exp"]) - self._now()))
        self._userinfo[digest] = (self._clock() + lifetime, passport)
        while len(self._userinfo) > _USERINFO_CACHE_ENTRIES:
            self._userinfo.popitem(last=False)
        return passport
