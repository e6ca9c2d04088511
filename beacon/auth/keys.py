"""Signing keys of trusted issuers, from the issuer's own discovery document and JWKS.

Keys are only ever taken from the configured issuer's ``jwks_uri`` (configured, or named by
the discovery document whose ``issuer`` equals the configured one). Nothing a token says
about where its key lives (``jku``, ``x5u``, ``jwk``, ``x5c``) is followed or used.

The key set is cached; it is refreshed when it is older than ``max_age_s`` or when a token
names a ``kid`` we do not know, but never more often than every ``min_refresh_interval_s``,
so a stream of tokens with made-up ``kid`` values cannot turn the beacon into a load
generator against the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from beacon.auth.config import check_fetch_url
from beacon.auth.errors import IdentityProviderUnavailable
from beacon.auth.http import IssuerClient
from beacon.errors import InvalidRequest

log = logging.getLogger(__name__)

# Which JWK a JWS algorithm may be verified with: (kty, allowed curves or None).
_ALG_KEY: dict[str, tuple[str, frozenset[str] | None]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), ("RSA", None)),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}


def key_fits(jwk: Mapping[str, Any], alg: str) -> bool:
    """Whether ``jwk`` may verify a signature made with ``alg``. Pure.

    The key must be a public-key type matching the algorithm's family and curve, meant for
    signatures (``use`` absent or ``sig``; ``key_ops``, when given, includes ``verify``), and
    its own ``alg``, when given, must equal ``alg``. Symmetric (``oct``) keys never fit.
    """
    family = _ALG_KEY.get(alg)
    if family is None:
        return False
    kty, curves = family
    if jwk.get("kty") != kty:
        return False
    if curves is not None and jwk.get("crv") not in curves:
        return False
    if jwk.get("use", "sig") != "sig":
        return False
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return False
    return bool(jwk.get("alg", alg) == alg)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What the discovery document told us. URLs are checked to be https (or loopback)."""

    jwks_uri: str
    userinfo_endpoint: str | None


class IssuerKeys:
    """The key set of one issuer, cached, refreshed on demand with a rate limit.

    ``jwks_uri``: use this key set instead of the discovery document's. ``clock`` is a
    monotonic clock in seconds (injectable so rate limits are testable without sleeping).
    """

    def __init__(
        self,
        issuer: str,
        client: IssuerClient,
        *,
        jwks_uri: str | None = None,
        min_refresh_interval_s: float = 60.0,
        max_age_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._client = client
        self._configured_jwks_uri = jwks_uri
        self._min_refresh = min_refresh_interval_s
        self._max_age = max_age_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._endpoints: Endpoints | None = None
        self._keys: list[dict[str, Any]] = []
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._prepared: dict[tuple[int, str], jwt.PyJWK] = {}
        self.fetches = 0
        """How many times the key set was fetched (for tests and metrics)."""

    async def endpoints(self) -> Endpoints:
        """The issuer's JWKS and userinfo URLs, from discovery (fetched once, then cached).

        Raises :class:`IdentityProviderUnavailable` when discovery fails or names another issuer.
        """
        if self._endpoints is None:
            self._endpoints = await self._discover()
        return self._endpoints

    async def _discover(self) -> Endpoints:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            doc = await self._client.get_json(url)
        except IdentityProviderUnavailable:
            if self._configured_jwks_uri is None:
                raise
            return Endpoints(self._configured_jwks_uri, None)
        if doc.get("issuer") != self.issuer:
            # OIDC Discovery 4.3: the document must name exactly the issuer we asked.
            raise IdentityProviderUnavailable(f"discovery document of {self.issuer} names another")
        try:
            jwks_uri = self._configured_jwks_uri or check_fetch_url(
                str(doc.get("jwks_uri", "")), "jwks_uri"
            )
            userinfo = doc.get("userinfo_endpoint")
            userinfo = check_fetch_url(userinfo, "userinfo_endpoint") if userinfo else None
        except InvalidRequest as exc:
            raise IdentityProviderUnavailable(
                f"discovery document of {self.issuer} is unusable: {exc.message}"
            ) from exc
        return Endpoints(jwks_uri, userinfo)

    async def _jwks_uri(self) -> str:
        if self._configured_jwks_uri is not None:
            return self._configured_jwks_uri
        return (await self.endpoints()).jwks_uri

    async def _refresh(self, *, reason: str) -> None:
        """Fetch the key set again unless another task just did, or the rate limit forbids it."""
        seen = self.fetches
        async with self._lock:
            if self.fetches != seen:
                return  # another task refreshed while we waited for the lock
            if self._attempted_at is not None and (
                self._clock() - self._attempted_at < self._min_refresh
            ):
                return
            self._attempted_at = self._clock()
            log.debug("fetching keys of %s (%s)", self.issuer, reason)
            document = await self._client.get_json(await self._jwks_uri())
            self.fetches += 1
            keys = document.get("keys")
            if not isinstance(keys, list):
                raise IdentityProviderUnavailable(f"key set of {self.issuer} has no keys list")
            self._keys = [k for k in keys if isinstance(k, dict)]
            self._prepared.clear()
            self._loaded_at = self._clock()

    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        """The issuer's key for a token with header ``kid`` and ``alg``, or ``None``.

        Without a ``kid``, the issuer must publish exactly one key fitting ``alg``. An unknown
        ``kid`` triggers one rate-limited refresh. Raises :class:`IdentityProviderUnavailable`
        only when no key set has ever been loaded.
        """
        stale = self._loaded_at is None or self._clock() - self._loaded_at > self._max_age
        if stale:
            try:
                await self._refresh(reason="no keys yet" if self._loaded_at is None else "aged")
            except IdentityProviderUnavailable:
                if self._loaded_at is None:
                    raise
                log.warning("keeping the cached keys of %s: refresh failed", self.issuer)
            if self._loaded_at is None:
                raise IdentityProviderUnavailable(f"no keys of {self.issuer} could be loaded")
        found = self._find(kid, alg)
        if found is None and kid is not None and not stale:
            try:
                await self._refresh(reason="unknown kid")
            except IdentityProviderUnavailable:
                log.warning("refreshing the keys of %s failed", self.issuer)
            found = self._find(kid, alg)
        return found

    def _find(self, kid: str | None, alg: str) -> jwt.PyJWK | None:
        fitting = [
            (n, k)
            for n, k in enumerate(self._keys)
            if key_fits(k, alg) and (kid is None or k.get("kid") == kid)
        ]
        if len(fitting) != 1:
            return None  # none, or ambiguous: refuse to guess
        n, jwk = fitting[0]
        prepared = self._prepared.get((n, alg))
        if prepared is None:
            try:
                prepared = jwt.PyJWK(jwk, algorithm=alg)
            except jwt.PyJWTError:
                log.warning("issuer %s publishes an unusable key", self.issuer)
                return None
            self._prepared[(n, alg)] = prepared
        return prepared
