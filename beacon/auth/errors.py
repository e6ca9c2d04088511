"""Errors of the authentication layer that are not the caller's fault."""

from __future__ import annotations

from beacon.errors import BeaconError


class IdentityProviderUnavailable(BeaconError):
    """A trusted issuer's discovery document, keys or userinfo could not be had in time (503).

    Raised instead of treating the caller as anonymous: a token that cannot be checked is
    neither accepted nor silently ignored.
    """

    status = 503
