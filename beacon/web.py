"""The beacon's HTTP API (aiohttp): Beacon v2 endpoints, Beacon v1.1 under ``/api/v1``,
``/health``, ``/metrics`` and the OpenAPI document.

:func:`create_app` is the only factory. The database pool is opened and closed in
``cleanup_ctx``; when the database is down at start-up the app still starts and answers 503
until it is back. One error boundary, the edge around every route (:func:`edged`), turns
every :class:`beacon.errors.BeaconError` and HTTP error into a Beacon error document; anything
unexpected becomes a 500 without details.
Access logs name the route template, never the query string or a variant id, above DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web

from beacon import openapi, privacy_web, responses, validation
from beacon.access import Authenticator, Caller, Tier, dataset_access
from beacon.audit_writer import AuditWriter
from beacon.auth import authenticator_from_settings, close_authenticator, require_dataset_access
from beacon.auth.guard import bearer_challenge
from beacon.budget_leases import BudgetLeases
from beacon.client_address import client_address as resolve_client_address
from beacon.config import Settings
from beacon.defects import log_defect
from beacon.errors import (
    BeaconError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    StoreUnavailable,
    Unauthenticated,
)
from beacon.metrics import Metrics
from beacon.model import BeaconRequest, Dataset, Found, Granularity
from beacon.query_plan import QueryPlan, plan_key, plan_query
from beacon.request import MAX_LIMIT, parse_g_variants
from beacon.responses import Permitted
from beacon.storage import db, queries
from beacon.storage.coalesce import Coalescer
from beacon.storage.index_keeper import IndexKeeper
from beacon.storage.lender import Lender

log = logging.getLogger(__name__)
access_log = logging.getLogger("beacon.access")

DATASET_CACHE_S: Final = 1.0
"""How long the dataset catalogue is reused before it is read again (seconds)."""
DATASET_STALE_S: Final = 5.0
"""Up to this age (seconds) the catalogue is still used while a background task re-reads it
(a change to datasets is seen one re-read after DATASET_CACHE_S; only while the database
does not answer does a catalogue this old serve)."""

VISIBLE_CACHE_SIZE: Final = 1024
"""Distinct caller access keys (tier and grants), and distinct query plans, a store keeps
per catalogue; past this either cache starts again."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _session_setup(conn: db.Connection) -> None:
    """Per-connection set-up: generic plans for the prepared queries. Every variant lookup is
    an index lookup whatever its values, and re-planning each execution over the partitions
    costs more than running it (measured: 1.3 ms -> 0.6 ms per range query)."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")


async def _keep_session(conn: db.Connection) -> None:
    """Pool reset hook: nothing to undo. The app's sessions never change session state (no
    SET, LISTEN, advisory locks or open cursors), so the default reset's extra round trip to
    the server on every release is skipped."""
    del conn


class Store:
    """The connection pool, opened lazily so that the beacon starts while the database is down."""

    def __init__(self, dsn: str, settings: Settings) -> None:
        self._dsn = dsn
        self._settings = settings
        self._pool: db.Pool | None = None
        self._lender: Lender | None = None
        self._reader: Coalescer | None = None
        self._lock = asyncio.Lock()
        self._datasets: list[Dataset] = []
        self._datasets_at = -1e9
        self._refresh: asyncio.Task[None] | None = None
        self._visible: dict[tuple[Tier, frozenset[str]], tuple[Permitted, ...]] = {}
        self._visible_of: list[Dataset] | None = None
        self._plans: dict[Hashable, QueryPlan] = {}
        self.keeper = IndexKeeper(dsn, max_alleles=settings.exact_index_max_alleles)
        """The in-memory exact-lookup index (:mod:`beacon.storage.index_keeper`)."""

    async def open(self) -> None:
        """Open the pool and the lender; when the server is unreachable, open an empty pool that
        connects later (the lender always connects on demand).

        Of ``db_pool_max`` connections, a quarter (at least one) serve the catalogue, health
        and bookkeeping through the pool, the rest the variant queries through the lender.
        """
        s = self._settings
        general = max(1, s.db_pool_max // 4)
        self._lender = Lender(
            self._dsn, max_size=max(1, s.db_pool_max - general), setup=_session_setup
        )
        self._reader = Coalescer(self._lender, max_group=max(1, s.db_coalesce))
        self.keeper.start()
        try:
            self._pool = await db.create_pool(
                self._dsn,
                min_size=min(s.db_pool_min, general),
                max_size=general,
                reset=_keep_session,
                init=_session_setup,
            )
        except StoreUnavailable:
            log.warning("the variant store is unreachable; answering 503 until it is back")
            self._pool = await db.create_pool(
                self._dsn,
                min_size=0,
                max_size=general,
                reset=_keep_session,
                init=_session_setup,
            )

    async def close(self) -> None:
        await self.keeper.close()
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
            self._refresh = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._lender is not None:
            await self._lender.close()
            self._lender = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> db.Pool:
        if self._pool is None:
            raise StoreUnavailable("the variant store is not open")
        return self._pool

    @property
    def reader(self) -> Coalescer:
        """Where the variant queries run (the hot path: :mod:`beacon.storage.coalesce` over
        :mod:`beacon.storage.lender`)."""
        if self._reader is None:
            raise StoreUnavailable("the variant store is not open")
        return self._reader

    async def datasets(self) -> list[Dataset]:
        """Every stored dataset, re-read at most every :data:`DATASET_CACHE_S` seconds.

        A catalogue older than that but younger than :data:`DATASET_STALE_S` is returned at
        once while one background task re-reads it, so that requests never queue behind the
        re-read; an older one (or none) is re-read before answering. Raises
        :class:`StoreUnavailable` when that re-read fails.
        """
        catalogue = self._catalogue_now()
        if catalogue is None:
            await self._read_datasets_if_expired()
            catalogue = self._datasets
        return catalogue

    def _catalogue_now(self) -> list[Dataset] | None:
        """:meth:`datasets` when it can answer without waiting (starting the background
        re-read of a stale catalogue), else ``None``."""
        age = time.monotonic() - self._datasets_at
        if age < DATASET_CACHE_S:
            return self._datasets
        if age < DATASET_STALE_S:
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.get_running_loop().create_task(self._refresh_datasets())
            return self._datasets
        return None

    async def _read_datasets_if_expired(self) -> None:
        """Re-read the catalogue unless another caller did while this one waited."""
        async with self._lock:
            if time.monotonic() - self._datasets_at >= DATASET_CACHE_S:
                self._datasets = await queries.fetch_datasets(
                    self.pool, timeout_s=self._settings.db_query_timeout_s
                )
                self._datasets_at = time.monotonic()

    async def _refresh_datasets(self) -> None:
        try:
            await self._read_datasets_if_expired()
        except StoreUnavailable as exc:  # the next request past DATASET_STALE_S reports it
            log.warning("dataset catalogue not re-read: %s", exc.message)

    async def visible(self, caller: Caller) -> tuple[Permitted, ...]:
        """The datasets of :meth:`datasets` that ``caller`` may see, each with the most the
        caller may learn from it (:func:`beacon.access.dataset_access`), in catalogue order.

        Worked out once per catalogue and :attr:`Caller.access_key`; callers with the same
        key share the result. Raises as :meth:`datasets`.
        """
        catalogue = self._catalogue_now()
        if catalogue is None:
            catalogue = await self.datasets()
        return self._visible_in(catalogue, caller)

    def _caches_for(self, catalogue: list[Dataset]) -> None:
        """Start both caches again when ``catalogue``, the current one, is new."""
        if catalogue is not self._visible_of:
            self._visible = {}
            self._plans = {}
            self._visible_of = catalogue

    def _visible_in(self, catalogue: list[Dataset], caller: Caller) -> tuple[Permitted, ...]:
        """:meth:`visible` in ``catalogue``, the current catalogue."""
        self._caches_for(catalogue)
        key = caller.access_key
        found = self._visible.get(key)
        if found is None:
            if len(self._visible) >= VISIBLE_CACHE_SIZE:
                self._visible = {}
            found = self._visible[key] = tuple(
                Permitted(dataset, granularity)
                for dataset in catalogue
                if (granularity := dataset_access(caller, dataset)) is not None
            )
        return found

    async def plan(self, caller: Caller, request: BeaconRequest, scope: str | None) -> QueryPlan:
        """:func:`beacon.query_plan.plan_query` over :meth:`visible`, kept per catalogue and
        :func:`beacon.query_plan.plan_key`. Raises as both."""
        catalogue = self._catalogue_now()
        if catalogue is None:
            catalogue = await self.datasets()
        self._caches_for(catalogue)
        key = plan_key(caller, request, scope)
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_query(caller, self._visible_in(catalogue, caller), request, scope)
            if len(self._plans) >= VISIBLE_CACHE_SIZE:
                self._plans = {}
            self._plans[key] = plan
        return plan

    def forget_datasets(self) -> None:
        """Make the next request re-read the catalogue (after a load in this process)."""
        self._datasets_at = -1e9


SETTINGS: Final = web.AppKey("settings", Settings)
STORE: Final = web.AppKey("store", Store)
AUTHENTICATOR: Final = web.AppKey("authenticator", Authenticator)
METRICS: Final = web.AppKey("metrics", Metrics)
DSN: Final = web.AppKey("dsn", str)
LEASES: Final = web.AppKey("leases", BudgetLeases)
AUDIT: Final = web.AppKey("audit", AuditWriter)
CLIENT_ADDRESS: Final = web.RequestKey("client_address", str)


# --- helpers -------------------------------------------------------------------------------


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def query_params(request: web.Request) -> dict[str, str]:
    """Query-string values, repeated keys joined with commas (``start=1&start=2`` -> ``1,2``),
    decoded as :attr:`aiohttp.web.Request.query` decodes them.

    A query string with nothing to decode (no ``%`` or ``+``), every pair ``key=value`` and
    no key twice, the usual one, is split directly; any other goes through ``request.query``
    (a property test holds the two together).
    """
    raw = request.rel_url.raw_query_string
    if "%" not in raw and "+" not in raw:
        pairs = raw.split("&")
        try:
            plain = dict([pair.split("=", 1) for pair in pairs])  # a list: faster than a generator
        except ValueError:  # a pair without "=", or an empty one
            pass
        else:
            if len(plain) == len(pairs):
                return plain
    params: dict[str, str] = {}
    for key, value in request.query.items():
        earlier = params.get(key)
        params[key] = value if earlier is None else f"{earlier},{value}"
    return params


async def json_body(request: web.Request) -> Mapping[str, Any] | None:
    """The decoded JSON object body, ``None`` when empty. Raises 400 / 413 as BeaconErrors."""
    settings = request.app[SETTINGS]
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise PayloadTooLarge(
            f"request body is larger than {settings.max_body_bytes} bytes", parameter="body"
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            f"request body is larger than {settings.max_body_bytes} bytes", parameter="body"
        ) from exc
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("the request body is not valid JSON", parameter="body") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", parameter="body")
    return body


async def g_variants_body(request: web.Request) -> Mapping[str, Any] | None:
    """The POST body of a g_variants request, checked against ``schemas/g_variants_request``."""
    if request.method != "POST":
        return None
    body = await json_body(request)
    if body is not None:
        validation.validate("g_variants_request", body)
    return body


def client_address(request: web.Request) -> str | None:
    """The client's address: the peer, or behind ``Settings.trusted_proxies`` the address they
    forwarded (:mod:`beacon.client_address`), then worked out once per request; it keys
    anonymous budgets, the audit log and the access log."""
    trusted = request.app[SETTINGS].trusted_proxies
    if not trusted:
        return request.remote
    if CLIENT_ADDRESS in request:
        return request[CLIENT_ADDRESS]
    forwarded = request.headers.getall("X-Forwarded-For", ())
    address = resolve_client_address(request.remote, forwarded, trusted)
    if address is not None:
        request[CLIENT_ADDRESS] = address
    return address


async def caller_of(request: web.Request) -> Caller:
    """The caller behind a request, from the app's :class:`Authenticator`; a request without
    credentials is anonymous (what every authenticator answers for it) without asking."""
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return Caller.anonymous(client_address(request))
    return await request.app[AUTHENTICATOR].identify(authorization, client_address(request))


async def visible_datasets(request: web.Request, caller: Caller) -> Sequence[Permitted]:
    """Datasets the caller may see, each with the most the caller may learn from it
    (:meth:`Store.visible`)."""
    return await request.app[STORE].visible(caller)


async def require_access(request: web.Request, caller: Caller, named: list[str]) -> None:
    """401/403 when the request names a dataset the caller may not see (beacon.auth.guard)."""
    if named:
        catalogue = {d.id: d for d in await request.app[STORE].datasets()}
        require_dataset_access(caller, named, catalogue)


def root_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


# --- queries ---------------------------------------------------------------------------------


async def answer_g_variants(
    request: web.Request, parsed: BeaconRequest, endpoint: str, scope: str | None = None
) -> dict[str, Any]:
    """Run a parsed query for the caller and build the Beacon v2 answer; ``endpoint`` is the
    route template the audit log records."""
    app = request.app
    settings = app[SETTINGS]
    store = app[STORE]
    caller = await caller_of(request)
    if parsed.dataset_ids or scope is not None:
        named = [*(parsed.dataset_ids or ()), *(() if scope is None else (scope,))]
        await require_access(request, caller, named)
    plan = await store.plan(caller, parsed, scope)
    await privacy_web.charge_query(app[LEASES], settings, caller)  # 429 when spent
    found: dict[str, Found] = await queries.find_variants(
        store.reader,
        parsed.query,
        plan.dataset_ids,
        granularity=plan.returned,
        skip=parsed.skip,
        limit=parsed.limit,
        timeout_s=settings.db_query_timeout_s,
        min_carriers=plan.min_carriers,
        index=store.keeper.index,
    )
    doc = responses.g_variants_response(settings, parsed, plan.chosen, found, plan.returned)
    if plan.returned is not Granularity.BOOLEAN:  # a boolean answer carries no counts
        privacy_web.disclose_counts(doc, plan.permitted, {k: v.total for k, v in found.items()})
    privacy_web.audit_query(
        app[AUDIT],
        settings,
        caller,
        endpoint=endpoint,
        datasets=plan.dataset_ids,
        answered=plan.answered,
        returned=plan.returned,
        exists=bool(doc["responseSummary"]["exists"]),
    )
    return doc


G_VARIANTS: Final = "/g_variants"
G_VARIANT: Final = "/g_variants/{id}"
DATASET_G_VARIANTS: Final = "/datasets/{id}/g_variants"
"""The query routes' templates: their paths, and the endpoint their audit entries name."""


async def g_variants(request: web.Request) -> web.Response:
    body = await g_variants_body(request)
    parsed = parse_g_variants(query_params(request), body)
    return json_response(await answer_g_variants(request, parsed, G_VARIANTS))


async def g_variant_by_id(request: web.Request) -> web.Response:
    body = await g_variants_body(request)
    params = query_params(request)
    params.setdefault("requestedGranularity", "record")
    parsed = parse_g_variants(params, body, variant_id=request.match_info["id"])
    return json_response(await answer_g_variants(request, parsed, G_VARIANT))


async def dataset_g_variants(request: web.Request) -> web.Response:
    body = await g_variants_body(request)
    parsed = parse_g_variants(query_params(request), body)
    scope = request.match_info["id"]
    return json_response(await answer_g_variants(request, parsed, DATASET_G_VARIANTS, scope))


# --- framework endpoints ---------------------------------------------------------------------


async def info(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    visible = [p.dataset for p in await visible_datasets(request, caller)]
    return json_response(responses.info_response(request.app[SETTINGS], visible))


async def service_info(request: web.Request) -> web.Response:
    return json_response(responses.service_info(request.app[SETTINGS]))


async def configuration(request: web.Request) -> web.Response:
    return json_response(responses.configuration_response(request.app[SETTINGS]))


async def beacon_map(request: web.Request) -> web.Response:
    return json_response(responses.map_response(request.app[SETTINGS], root_url(request)))


async def entry_types(request: web.Request) -> web.Response:
    return json_response(responses.entry_types_response(request.app[SETTINGS]))


async def filtering_terms(request: web.Request) -> web.Response:
    return json_response(responses.filtering_terms_response(request.app[SETTINGS]))


def _page(request: web.Request) -> tuple[int, int]:
    params = query_params(request)
    skip, limit = 0, 10
    if "skip" in params:
        skip = _non_negative(params["skip"], "skip", 10**9)
    if "limit" in params:
        limit = _non_negative(params["limit"], "limit", MAX_LIMIT) or MAX_LIMIT
    return skip, limit


def _non_negative(raw: str, name: str, maximum: int) -> int:
    if not raw.strip().isdigit() or len(raw.strip()) > 10:
        raise InvalidRequest(f"{name} must be a non-negative integer", parameter=name)
    value = int(raw)
    if value > maximum:
        raise InvalidRequest(f"{name} must be at most {maximum}", parameter=name)
    return value


async def datasets(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    visible = [p.dataset for p in await visible_datasets(request, caller)]
    skip, limit = _page(request)
    return json_response(
        responses.datasets_response(request.app[SETTINGS], visible, skip=skip, limit=limit)
    )


async def dataset(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    wanted = request.match_info["id"]
    await require_access(request, caller, [wanted])
    visible = [p.dataset for p in await visible_datasets(request, caller)]
    match = [d for d in visible if d.id == wanted]
    if not match:
        raise NotFound(f"no dataset {wanted[:60]!r}", parameter="id")
    return json_response(responses.datasets_response(request.app[SETTINGS], match))


# --- operations ------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    await queries.ping(request.app[STORE].pool, timeout_s=min(settings.db_query_timeout_s, 2.0))
    return json_response({"status": "UP", "database": "UP"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[METRICS].render(request.app[STORE].keeper.state()),
        content_type="text/plain",
        charset="utf-8",
    )


async def openapi_document(request: web.Request) -> web.Response:
    return json_response(openapi.document(request.app[SETTINGS]))


# --- the edge around every route -------------------------------------------------------------


def edged(handler: Handler, endpoint: str) -> Handler:
    """``handler`` inside the app's edge, which every route of :func:`create_app` has;
    ``endpoint`` is the route's template (``/datasets/{id}``), the name metrics and the access
    log give its requests (``unmatched`` for :func:`_unrouted`):

    - errors: every failure becomes a Beacon error document (:func:`_failure`); anything
      unexpected a 500 without details;
    - CORS for browsers: allowed origins from ``Settings.cors_origins`` (``*`` = any),
      preflight requests answered here;
    - metrics and the access log (:func:`_observe`).

    A wrapper per route rather than aiohttp middlewares: aiohttp's middleware chain costs
    every request a few µs more, for nothing this app uses (no sub-applications). Requests
    no route takes reach :func:`_unrouted` through the same edge.
    """

    async def answer(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            origin = request.headers.get("Origin")
            origins = request.app[SETTINGS].cors_origins if origin is not None else ()
            allowed = origin is not None and ("*" in origins or origin in origins)
            response: web.StreamResponse
            if (
                allowed
                and request.method == "OPTIONS"
                and "Access-Control-Request-Method" in request.headers
            ):
                response = _preflight()
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    if exc.status < 400:
                        status = exc.status
                        raise
                    response = _failure(request, exc, endpoint)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    response = _failure(request, exc, endpoint)
            if allowed and origin is not None:
                response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
                if "*" not in origins:
                    response.headers["Vary"] = "Origin"
            status = response.status
            return response
        finally:
            _observe(request, endpoint, status, time.perf_counter() - started)

    answer.__name__ = answer.__qualname__ = getattr(handler, "__name__", "handler")
    return answer


_UNROUTED: Final = "/{tail:.*}"
"""The last route, taking every path and method no other route takes."""
_UNROUTED_CANONICAL: Final = "/{tail}"
UNMATCHED: Final = "unmatched"
"""The endpoint name of requests no route takes (metrics, access log)."""


async def _unrouted(request: web.Request) -> web.StreamResponse:
    """404 for a path no route has; 405 (with ``Allow``) for a method no route of the path
    takes."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical != _UNROUTED_CANONICAL:
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def _observe(request: web.Request, endpoint: str, status: int, elapsed: float) -> None:
    """Metrics and the access log of one answered request (``elapsed`` in seconds) to the route
    ``endpoint``. Only the route template is logged above DEBUG."""
    request.app[METRICS].observe(endpoint, request.method, status, elapsed)
    if access_log.isEnabledFor(logging.DEBUG):
        access_log.debug(
            "%s %s %s %d %.1fms",
            client_address(request),
            request.method,
            request.path_qs,
            status,
            elapsed * 1000,
        )
    elif access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "%s %s %s %d %.1fms", client_address(request), request.method, endpoint, status,
            elapsed * 1000,
        )  # fmt: skip


_CORS_HEADERS: Final = "Authorization, Content-Type, Accept"


def _preflight() -> web.Response:
    """The answer to an allowed CORS preflight request."""
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _failure(request: web.Request, exc: Exception, endpoint: str) -> web.Response:
    """The Beacon error document for a failure (an HTTP error of status 400 or more, a
    :class:`BeaconError`, or anything else as a 500 without details, logged as a defect of
    the route ``endpoint``)."""
    if isinstance(exc, BeaconError):
        if isinstance(exc, StoreUnavailable):
            request.app[METRICS].store_unavailable()
            log.warning("store unavailable: %s", exc.message)
        message = exc.message
        if exc.parameter and exc.parameter not in message:
            message = f"{exc.parameter}: {message}"
        response = _error(request, exc.status, message, exc.parameter)
        if isinstance(exc, Unauthenticated):
            response.headers["WWW-Authenticate"] = bearer_challenge(exc)
        return response
    if isinstance(exc, web.HTTPException):
        if isinstance(exc, web.HTTPRequestEntityTooLarge):
            return _error(request, 413, "request body is too large", "body")
        response = _error(request, exc.status, exc.reason, None)
        if isinstance(exc, web.HTTPMethodNotAllowed):
            response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    log_defect(log, exc, f"answering {request.method} {endpoint}")
    return _error(request, 500, "internal error", None)


def _error(request: web.Request, status: int, message: str, parameter: str | None) -> web.Response:
    settings = request.app[SETTINGS]
    if request.path.startswith("/api/v1"):
        from beacon import v1

        body = v1.error_document(settings, status, message)
    else:
        body = responses.error_response(settings, status, message)
    if parameter is not None:
        body["error"]["parameter"] = parameter
    return json_response(body, status=status)


# --- the app -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    path: str
    handler: Handler


ROUTES: Final = (
    _Route("GET", "/", info),
    _Route("GET", "/info", info),
    _Route("GET", "/service-info", service_info),
    _Route("GET", "/configuration", configuration),
    _Route("GET", "/map", beacon_map),
    _Route("GET", "/entry_types", entry_types),
    _Route("GET", "/filtering_terms", filtering_terms),
    _Route("GET", "/datasets", datasets),
    _Route("GET", "/datasets/{id}", dataset),
    _Route("GET", DATASET_G_VARIANTS, dataset_g_variants),
    _Route("POST", DATASET_G_VARIANTS, dataset_g_variants),
    _Route("GET", G_VARIANTS, g_variants),
    _Route("POST", G_VARIANTS, g_variants),
    _Route("GET", G_VARIANT, g_variant_by_id),
    _Route("POST", G_VARIANT, g_variant_by_id),
    _Route("GET", "/health", health),
    _Route("GET", "/metrics", metrics),
    _Route("GET", "/openapi.json", openapi_document),
)


def create_app(
    settings: Settings, *, dsn: str | None = None, authenticator: Authenticator | None = None
) -> web.Application:
    """The beacon's aiohttp application.

    ``dsn`` None resolves the store from ``settings`` (``database_url``, else the embedded
    PostgreSQL under ``data_dir``, started on start-up if needed). ``authenticator`` defaults
    to the one ``settings`` configure (:func:`beacon.auth.authenticator_from_settings`: OIDC
    with trusted issuers, else anonymous); raises InvalidRequest for an invalid trusted-issuers
    file. Nothing is opened until the app starts.
    """
    app = web.Application(
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[AUTHENTICATOR] = authenticator or authenticator_from_settings(settings)
    if authenticator is None:
        app.cleanup_ctx.append(_authenticator_ctx)
    app[METRICS] = Metrics(worker=str(os.getpid()))
    for route in ROUTES:
        if route.method == "GET":  # and HEAD wherever GET is served (RFC 9110)
            app.router.add_get(route.path, edged(route.handler, route.path), allow_head=True)
        else:
            app.router.add_route(route.method, route.path, edged(route.handler, route.path))
    from beacon import v1

    v1.add_routes(app, edged)
    app.router.add_route("*", _UNROUTED, edged(_unrouted, UNMATCHED))  # last
    app.cleanup_ctx.append(_store_ctx(dsn))
    return app


async def _authenticator_ctx(app: web.Application) -> AsyncIterator[None]:
    """Closes the authenticator this app built from its settings (its HTTP session)."""
    yield
    await close_authenticator(app[AUTHENTICATOR])


def _store_ctx(dsn: str | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def store(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        resolved = dsn
        if resolved is None:
            loop = asyncio.get_running_loop()
            resolved = await loop.run_in_executor(None, db.resolve_dsn, settings)
        app[DSN] = resolved
        app[STORE] = Store(resolved, settings)
        await app[STORE].open()
        timeout_s = settings.db_query_timeout_s
        app[LEASES] = BudgetLeases(app[STORE].pool, timeout_s=timeout_s)
        app[AUDIT] = AuditWriter(app[STORE].pool, timeout_s=max(timeout_s, 5.0))
        app[AUDIT].start()
        try:
            yield
        finally:
            try:
                await app[AUDIT].close()
            finally:
                await app[STORE].close()

    return store


__all__ = [
    "AUDIT",
    "DSN",
    "LEASES",
    "METRICS",
    "SETTINGS",
    "STORE",
    "Store",
    "create_app",
    "json_response",
]
