"""The authentication layer's own small HTTP client: JSON documents from trusted issuers.

Every call has a total timeout and a size limit, follows no redirects, and sends credentials
only when asked to (userinfo). One :class:`aiohttp.ClientSession` is opened lazily, inside the
running loop, and closed by :meth:`IssuerClient.aclose`.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson

from beacon.auth.config import check_fetch_url
from beacon.auth.errors import IdentityProviderUnavailable
from beacon.errors import InvalidRequest

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 1024 * 1024


class HttpStatusError(IdentityProviderUnavailable):
    """The issuer answered with a non-200 status; ``http_status`` is that status."""

    def __init__(self, message: str, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class IssuerClient:
    """Fetches JSON from issuers. ``timeout_s`` bounds each call end to end (seconds)."""

    def __init__(self, timeout_s: float, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"Accept": "application/json"},
                # Issuers' documents are public; never send or keep cookies.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def get_json(self, url: str, *, bearer: str | None = None) -> dict[str, Any]:
        """GET ``url`` and return its JSON object.

        ``url`` must be https (plain http only on loopback). ``bearer`` is sent as the
        ``Authorization`` header and never logged. Raises :class:`HttpStatusError` for a non-200
        answer and :class:`IdentityProviderUnavailable` for timeouts, connection failures,
        oversized or non-JSON-object bodies and redirects.
        """
        try:
            check_fetch_url(url, "url")
        except InvalidRequest as exc:
            raise IdentityProviderUnavailable(f"refusing to fetch {url!r}: not https") from exc
        headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else None
        try:
            async with self._client().get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise HttpStatusError(
                        f"issuer answered {resp.status} for {url}", http_status=resp.status
                    )
                body = await resp.content.read(self._max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("issuer request to %s failed: %s", url, type(exc).__name__)
            raise IdentityProviderUnavailable(f"issuer request to {url} failed") from exc
        if len(body) > self._max_bytes:
            raise IdentityProviderUnavailable(f"issuer document at {url} is too large")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise IdentityProviderUnavailable(f"issuer document at {url} is not JSON") from exc
        if not isinstance(document, dict):
            raise IdentityProviderUnavailable(f"issuer document at {url} is not a JSON object")
        return document

    async def aclose(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
