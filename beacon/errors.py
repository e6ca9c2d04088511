"""Domain errors. Each carries the HTTP status it maps to; nothing here imports aiohttp.

The web layer's one error boundary (:func:`beacon.web.edged`, around every route) turns a
:class:`BeaconError` into a Beacon v2 error response
(``{"meta": ..., "error": {"errorCode": status, "errorMessage": ...}}``).
"""

from __future__ import annotations


class BeaconError(Exception):
    """Base of every error the beacon reports to a caller.

    ``status`` is the HTTP status; ``message`` is safe to show to the caller (it never
    contains tokens, stack traces or allele details from other requests).
    """

    status: int = 500

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter


class InvalidRequest(BeaconError):
    """Malformed or out-of-range input (400). ``parameter`` names the offending field."""

    status = 400


class Unauthenticated(BeaconError):
    """A protected resource was asked for without valid credentials (401)."""

    status = 401


class Forbidden(BeaconError):
    """Authenticated, but not permitted to see what was asked for (403)."""

    status = 403


class NotFound(BeaconError):
    """Unknown path or identifier (404)."""

    status = 404


class PayloadTooLarge(BeaconError):
    """Request body over the configured limit (413)."""

    status = 413


class TooManyRequests(BeaconError):
    """The caller's query budget is spent (429)."""

    status = 429


class StoreUnavailable(BeaconError):
    """The database cannot be reached or did not answer in time (503)."""

    status = 503


class LoadError(Exception):
    """A VCF load could not complete; the store is left exactly as it was before the load."""
