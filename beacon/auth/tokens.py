"""Verification of one signed JWT (a bearer token or a visa) against a trusted issuer's keys.

The order matters: the issuer named by the unverified ``iss`` must be configured before
anything is fetched; the header's ``alg`` must be on that issuer's allow-list (which never
holds ``none`` or HS*) before a key is looked for; the key comes from the issuer's own key
set by ``kid``; then PyJWT checks the signature with exactly that key and algorithm, and
``exp``/``nbf``/``iat`` with a small leeway, ``iss`` and the audience.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

# Header parameters that would make us understand the token differently (RFC 7515 4.1.11):
# we implement no extensions, so a token that declares critical ones is refused.
_CRITICAL = "crit"


class TokenRejected(Exception):
    """The JWT is not acceptable. ``reason`` is short, safe to show and to log (no token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Expectations:
    """What a JWT must satisfy besides its signature.

    ``audiences``: ``aud`` must contain one (``None``: ``aud`` must be absent or contain one of
    ``optional_audiences``). ``required``: claims that must be present. ``leeway_s``: seconds of
    clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
    """

    algorithms: tuple[str, ...]
    audiences: tuple[str, ...] | None
    required: tuple[str, ...]
    leeway_s: float
    optional_audiences: tuple[str, ...] = ()


KeyLookup = Callable[[str | None, str], Awaitable[jwt.PyJWK | None]]


def unverified_issuer(token: str, max_bytes: int) -> tuple[str, Mapping[str, Any]]:
    """The ``iss`` claim and header of ``token`` read WITHOUT verification (to pick the issuer).

    Raises :class:`TokenRejected` for oversized or malformed tokens and a missing ``iss``.
    """
    if len(token) > max_bytes:
        raise TokenRejected("token too large")
    try:
        header = jwt.get_unverified_header(token)
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenRejected("malformed token") from exc
    iss = payload.get("iss")
    if not isinstance(iss, str) or not iss:
        raise TokenRejected("token names no issuer")
    return iss, header


async def verify(
    token: str,
    *,
    issuer: str,
    header: Mapping[str, Any],
    keys: KeyLookup,
    expect: Expectations,
) -> dict[str, Any]:
    """The verified claims of ``token``, issued by ``issuer`` (already known to be trusted).

    ``header`` is the token's unverified header, from :func:`unverified_issuer`. ``keys``
    finds the issuer's key for (kid, alg). Raises :class:`TokenRejected` for a disallowed
    algorithm, an unknown key, a bad signature, a wrong issuer or audience, an expired or
    not-yet-valid token, or a missing required claim. May raise
    :class:`beacon.auth.errors.IdentityProviderUnavailable` from ``keys``.
    """
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in expect.algorithms:
        raise TokenRejected("algorithm not allowed")
    if _CRITICAL in header:
        raise TokenRejected("unsupported critical header")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenRejected("malformed key id")
    key = await keys(kid, alg)
    if key is None:
        raise TokenRejected("unknown signing key")

    audiences = expect.audiences
    verify_aud = True
    if audiences is None:
        # Visas usually carry no audience; when one does, it must be us.
        audiences = expect.optional_audiences
        verify_aud = _has_audience(token)
    try:
        return jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=list(audiences) if verify_aud else None,
            issuer=issuer,
            leeway=expect.leeway_s,
            options={
                "require": list(expect.required),
                "verify_aud": verify_aud,
                "verify_signature": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iat": True,
                "verify_iss": True,
            },
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("token expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenRejected("token not yet valid") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenRejected("token is for another audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenRejected("token issuer mismatch") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"token lacks the {exc.claim} claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected("bad signature") from exc
    except jwt.PyJWTError as exc:
        raise TokenRejected("invalid token") from exc


def _has_audience(token: str) -> bool:
    payload = jwt.decode(token, options={"verify_signature": False})
    return "aud" in payload
