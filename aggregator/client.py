"""The aggregator's HTTP client: the only module holding an aiohttp ``ClientSession``.

One session per aggregator process, with a keep-alive connection pool per member host, TLS
verification on unless configured off, a deadline on every call and a size limit on every
response body. Nothing here raises for a member's misbehaviour: every call returns a
:class:`Fetched` value saying what happened. Per-member circuit breakers live here too
(:meth:`MemberClient.breaker`), since they guard the calls this client makes.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from aggregator.breaker import Breaker
from aggregator.config import NetworkConfig
from aggregator.hedge import HedgePolicy, Hedger

log = logging.getLogger(__name__)

USER_AGENT = "beacon-network-aggregator/0.1"
_CHUNK = 64 * 1024


class FetchKind(enum.StrEnum):
    """How an HTTP call ended."""

    OK = "ok"  # 2xx and a JSON document within the size limit
    HTTP_ERROR = "http_error"  # any non-2xx status; ``document`` holds its JSON body if any
    TIMEOUT = "timeout"  # the deadline passed (connect, headers or body)
    UNREACHABLE = "unreachable"  # refused, reset, DNS or TLS failure
    TOO_LARGE = "too_large"  # body over ``max_response_bytes``
    GARBAGE = "garbage"  # 2xx but not JSON


@dataclass(frozen=True, slots=True)
class Fetched:
    """Result of one call. ``latency_ms`` is wall time in milliseconds; ``message`` is a
    short, caller-safe description for anything but OK (never a token or a query)."""

    kind: FetchKind
    latency_ms: float
    http_status: int | None = None
    document: Any = None
    message: str | None = None

    @property
    def member_down(self) -> bool:
        """Does this say the member itself is unhealthy (counts against its breaker)?"""
        if self.kind in (FetchKind.TIMEOUT, FetchKind.UNREACHABLE, FetchKind.GARBAGE):
            return True
        return self.kind is FetchKind.HTTP_ERROR and (self.http_status or 0) >= 500


def ssl_context(config: NetworkConfig) -> ssl.SSLContext | bool:
    """TLS settings for outgoing calls: verified against the system store (or ``ca_file``),
    or ``False`` (no verification) only when the configuration says ``verify_tls = false``."""
    if not config.verify_tls:
        return False
    return ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)


def query_url(base: str, query_string: str) -> URL:
    """``base`` (a member URL and path, no query) with an already percent-encoded
    ``query_string`` attached, without re-parsing or re-encoding the parameters: the query
    string of one aggregated query is encoded once and shared by every member's call."""
    return URL(f"{base}?{query_string}" if query_string else base, encoded=True)


class MemberClient:
    """Shared HTTP client of the aggregator. Open with :meth:`open`, close with :meth:`close`
    (the app's cleanup context does both)."""

    def __init__(self, config: NetworkConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None
        self._breakers: dict[str, Breaker] = {}
        self._hedgers: dict[str, Hedger] = {}
        self._hedge_policy = HedgePolicy(
            enabled=config.hedge and config.hedge_max_share > 0,
            quantile=config.hedge_quantile,
            max_share=config.hedge_max_share,
        )

    @property
    def max_response_bytes(self) -> int:
        return self._config.max_response_bytes

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=self._config.connections_per_member,
            ssl=ssl_context(self._config),
            ttl_dns_cache=300,
            keepalive_timeout=60,
        )
        # No aiohttp timers: each call runs under one ``asyncio.timeout`` of its own, which
        # covers connecting, the headers and the body (one timer per call instead of three).
        # No cookie jar: members' cookies are neither kept nor sent to anyone.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=True,
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def breaker(self, member_id: str) -> Breaker:
        """The circuit breaker of ``member_id`` (created closed on first use)."""
        found = self._breakers.get(member_id)
        if found is None:
            found = Breaker(self._config.breaker_failures, self._config.breaker_reset_s)
            self._breakers[member_id] = found
        return found

    def hedger(self, member_id: str) -> Hedger:
        """The answer-time record and hedge budget of ``member_id`` (created on first use)."""
        found = self._hedgers.get(member_id)
        if found is None:
            found = Hedger(self._hedge_policy)
            self._hedgers[member_id] = found
        return found

    def record(self, member_id: str, fetched: Fetched, *, healthy: bool | None = None) -> None:
        """Tell the member's breaker how a call went. ``healthy`` overrides the judgement
        of ``fetched`` (a 200 whose JSON is malformed is unhealthy, for instance)."""
        breaker = self.breaker(member_id)
        ok = (not fetched.member_down) if healthy is None else healthy
        if ok:
            breaker.record_success()
        else:
            breaker.record_failure(time.monotonic())

    async def get_json(
        self,
        url: str | URL,
        *,
        timeout_s: float,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """GET ``url`` and parse the JSON body; never raises (see :class:`Fetched`).
        ``url`` may carry its query already (see :func:`query_url`), saving ``params``."""
        return await self._call("GET", url, timeout_s, params=params, headers=headers)

    async def post_json(
        self,
        url: str,
        body: Any,
        *,
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """POST ``body`` as JSON to ``url`` and parse the JSON answer; never raises.
        ``body`` given as ``bytes`` is sent as it is (JSON encoded once by the caller)."""
        return await self._call("POST", url, timeout_s, body=body, headers=headers)

    async def _call(
        self,
        method: str,
        url: str | URL,
        timeout_s: float,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        started = time.perf_counter()

        def elapsed() -> float:
            return (time.perf_counter() - started) * 1000.0

        session = self._session
        if session is None:
            return Fetched(FetchKind.UNREACHABLE, 0.0, message="client is closed")
        data = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
        send_headers = dict(headers or {})
        if data is not None:
            send_headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout(timeout_s):
                async with session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=send_headers,
                    allow_redirects=False,
                ) as resp:
                    raw = await self._read_limited(resp)
                    status = resp.status
        except TimeoutError:
            return Fetched(FetchKind.TIMEOUT, elapsed(), message=f"no answer within {timeout_s}s")
        except _TooLarge:
            return Fetched(
                FetchKind.TOO_LARGE,
                elapsed(),
                message=f"answer larger than {self._config.max_response_bytes} bytes",
            )
        except aiohttp.ClientSSLError as exc:
            log.debug("TLS failure for %s: %s", url, exc)
            return Fetched(FetchKind.UNREACHABLE, elapsed(), message="TLS verification failed")
        except aiohttp.ClientConnectorError as exc:
            log.debug("connection failure for %s: %s", url, exc)
            return Fetched(FetchKind.UNREACHABLE, elapsed(), message="connection refused or failed")
        except aiohttp.ServerDisconnectedError:
            return Fetched(FetchKind.UNREACHABLE, elapsed(), message="connection closed by member")
        except (aiohttp.ClientError, ValueError) as exc:
            log.debug("HTTP failure for %s: %r", url, exc)
            return Fetched(FetchKind.UNREACHABLE, elapsed(), message=type(exc).__name__)
        latency = elapsed()
        try:
            document = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            document = None
            if 200 <= status < 300:
                return Fetched(FetchKind.GARBAGE, latency, status, message="answer is not JSON")
        if not 200 <= status < 300:
            return Fetched(
                FetchKind.HTTP_ERROR, latency, status, document, message=f"HTTP {status}"
            )
        if document is None:
            return Fetched(FetchKind.GARBAGE, latency, status, message="empty answer")
        return Fetched(FetchKind.OK, latency, status, document)

    async def _read_limited(self, resp: aiohttp.ClientResponse) -> bytes:
        limit = self._config.max_response_bytes
        length = resp.content_length
        if length is not None and length > limit:
            raise _TooLarge
        if length is not None and "Content-Encoding" not in resp.headers:
            return await resp.read()  # exactly ``length`` bytes, within the limit
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)


class _TooLarge(Exception):
    """Internal: a response body went over the limit (turned into a Fetched value)."""
