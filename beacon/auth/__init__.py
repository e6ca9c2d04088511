"""Authentication: OIDC bearer tokens and GA4GH Passport visas -> :class:`beacon.access.Caller`.

:func:`authenticator_from_settings` gives the web app its authenticator: the anonymous one
when no trusted issuers are configured, else an :class:`OidcAuthenticator` (close it with
:func:`close_authenticator`). :func:`require_dataset_access` is the 401/403 decision for
datasets a request names explicitly.
"""

from __future__ import annotations

from beacon.access import AnonymousAuthenticator, Authenticator
from beacon.auth.authenticator import OidcAuthenticator, caller_subject
from beacon.auth.config import AuthConfig, TokenIssuer, VisaIssuer, load_auth_config
from beacon.auth.errors import IdentityProviderUnavailable
from beacon.auth.guard import require_dataset_access
from beacon.config import Settings

__all__ = [
    "AuthConfig",
    "IdentityProviderUnavailable",
    "OidcAuthenticator",
    "TokenIssuer",
    "VisaIssuer",
    "authenticator_from_settings",
    "caller_subject",
    "check_auth_settings",
    "close_authenticator",
    "load_auth_config",
    "require_dataset_access",
]


def _auth_config(settings: Settings) -> AuthConfig | None:
    """The trusted-issuers file ``settings`` name, read and validated; ``None`` when none is
    set. Raises :class:`beacon.errors.InvalidRequest` naming the setting when it is invalid."""
    if settings.trusted_issuers_file is None:
        return None
    return load_auth_config(
        settings.trusted_issuers_file,
        audience=settings.auth_audience,
        algorithms=settings.auth_algorithms,
        leeway_s=settings.auth_leeway_s,
        http_timeout_s=settings.auth_http_timeout_s,
    )


def check_auth_settings(settings: Settings) -> None:
    """Read and validate the trusted-issuers file, if one is set, without building anything:
    ``beacon serve`` calls it before starting workers, so that a bad file stops the start
    with one clear message instead of failing inside every worker. Raises
    :class:`beacon.errors.InvalidRequest` naming the setting."""
    _auth_config(settings)


def authenticator_from_settings(settings: Settings) -> Authenticator:
    """The authenticator ``settings`` ask for. Reads the trusted-issuers file, if one is set.

    Raises :class:`beacon.errors.InvalidRequest` naming the setting when it is invalid.
    """
    config = _auth_config(settings)
    return AnonymousAuthenticator() if config is None else OidcAuthenticator(config)


async def close_authenticator(authenticator: Authenticator) -> None:
    """Release what ``authenticator`` holds (its HTTP session), if anything."""
    if isinstance(authenticator, OidcAuthenticator):
        await authenticator.aclose()
