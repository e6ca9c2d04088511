"""The aggregator's HTTP API: :func:`create_app`.

Routes (``docs/aggregator.md``):

* ``GET /``, ``/info``, ``/service-info``: the network's Beacon info (the web page for browsers
  at ``/``); ``/configuration``, ``/map``, ``/entry_types``: framework documents, so that
  another aggregator can list this one as a member.
* ``GET|POST /g_variants``: the network's merged Beacon v2 answer.
* ``GET /g_variants/stream``: the same query as Server-Sent Events (``start``, one ``member``
  per member as it answers, ``summary`` last).
* ``GET /api/members``: members, their health, breakers and capabilities.
* ``GET /health``: liveness of the aggregator itself.

Every query is parsed with :func:`beacon.request.parse_g_variants` before any member is asked;
bad input gets the same 400 Beacon error as from a beacon. One error middleware turns every
error into a Beacon error document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from aggregator import ui
from aggregator.answers import LOOP_STATUS
from aggregator.client import MemberClient
from aggregator.config import NetworkConfig, load_config
from aggregator.fanout import HOPS_HEADER, VISITED_HEADER, FanOut, QueryContext
from aggregator.framework import (
    configuration_response,
    entry_types_response,
    error_response,
    filtering_terms_response,
    info_response,
    map_response,
    service_info_response,
)
from aggregator.merge import merge
from aggregator.registry import Registry
from aggregator.responses import member_answer_json, network_response, query_summary, summary_json
from aggregator.schemas import OfficialSchemas
from beacon.defects import log_defect
from beacon.errors import BeaconError, InvalidRequest
from beacon.model import BeaconRequest
from beacon.request import parse_g_variants

log = logging.getLogger(__name__)

CONFIG = web.AppKey("config", NetworkConfig)
CONFIG_PATH = web.AppKey("config_path", Path)
CLIENT = web.AppKey("client", MemberClient)
REGISTRY = web.AppKey("registry", Registry)
FANOUT = web.AppKey("fanout", FanOut)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_JSON = "application/json"
_MAX_VISITED = 64


class LoopDetected(BeaconError):
    """This aggregator is already part of the query, or the query went through too many."""

    status = LOOP_STATUS


def _json(document: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(document), status=status, content_type=_JSON)


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one error middleware: every failure becomes a Beacon v2 error document."""
    config = request.app[CONFIG]
    try:
        return await handler(request)
    except BeaconError as exc:
        body = error_response(config, exc.status, exc.message, parameter=exc.parameter)
        return _json(body, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if isinstance(exc, web.HTTPRequestEntityTooLarge):
            return _json(
                error_response(config, 413, "request body is too large", parameter="body"), 413
            )
        return _json(error_response(config, exc.status, exc.reason), exc.status)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The last line of defence: a defect must still answer in the Beacon error shape,
        # without a stack trace for the caller (logged here, without the message's values).
        log_defect(log, exc, f"answering {request.method} {request.path}")
        return _json(error_response(config, 500, "internal error"), 500)


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let browsers on the configured origins call the API (``cors_origins``)."""
    origins = request.app[CONFIG].cors_origins
    origin = request.headers.get("Origin")
    allowed = origin is not None and ("*" in origins or origin in origins)
    if request.method == "OPTIONS" and allowed:
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response = await handler(request)
    if allowed and not response.prepared:
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else str(origin)
        response.headers["Vary"] = "Origin"
    return response


def _loop_guard(request: web.Request, config: NetworkConfig) -> tuple[tuple[str, ...], int]:
    """The visited list (including this aggregator) and hop count of an incoming query.
    Raises :class:`LoopDetected` when this aggregator was already visited or the hop limit
    is reached, and :class:`InvalidRequest` for malformed hop headers."""
    raw_visited = request.headers.get(VISITED_HEADER, "")
    visited = tuple(v.strip() for v in raw_visited.split(",") if v.strip())[:_MAX_VISITED]
    raw_hops = request.headers.get(HOPS_HEADER, "0")
    try:
        hops = int(raw_hops)
    except ValueError as exc:
        raise InvalidRequest(f"{HOPS_HEADER} must be an integer", parameter=HOPS_HEADER) from exc
    if config.id in visited:
        raise LoopDetected(f"{config.id} is already part of this query")
    if hops >= config.max_hops:
        raise LoopDetected(f"the query passed through {hops} aggregators (limit {config.max_hops})")
    return (*visited, config.id), hops


async def _body(request: web.Request) -> Mapping[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("the request body is not JSON", parameter="body") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", parameter="body")
    return body


async def _context(request: web.Request) -> QueryContext:
    """Validate the query (GET parameters or POST body) before any member is asked."""
    config = request.app[CONFIG]
    visited, hops = _loop_guard(request, config)
    params: dict[str, str] | None = None
    body: Mapping[str, Any] | None = None
    if request.method == "POST":
        body = await _body(request)
        parsed: BeaconRequest = parse_g_variants(None, body)
    else:
        params = dict(request.query)
        parsed = parse_g_variants(params, None)
    return QueryContext(
        request=parsed,
        params=params,
        body=body,
        authorization=request.headers.get("Authorization"),
        visited=visited,
        hops=hops,
    )


async def g_variants(request: web.Request) -> web.Response:
    ctx = await _context(request)
    answer = await request.app[FANOUT].run(ctx)
    return _json(network_response(answer, ctx.request, beacon_id=request.app[CONFIG].id))


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def g_variants_stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: ``start``, then ``member`` per member as it answers, ``summary``."""
    ctx = await _context(request)
    registry = request.app[REGISTRY]
    fanout = request.app[FANOUT]
    order = {s.config.id: i for i, s in enumerate(registry.members())}
    headers = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    }
    origins = request.app[CONFIG].cors_origins
    if request.headers.get("Origin") and ("*" in origins or request.headers["Origin"] in origins):
        headers["Access-Control-Allow-Origin"] = (
            "*" if "*" in origins else request.headers["Origin"]
        )
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    members = [{"memberId": s.config.id, "name": s.name} for s in registry.members()]
    await response.write(_event("start", {"members": members, "query": query_summary(ctx.request)}))
    outcomes = []
    async with contextlib.aclosing(fanout.stream(ctx)) as stream:
        async for outcome in stream:
            outcomes.append(outcome)
            await response.write(_event("member", member_answer_json(outcome)))
    outcomes.sort(key=lambda o: order.get(o.member_id, len(order)))
    await response.write(_event("summary", summary_json(merge(outcomes))))
    await response.write_eof()
    return response


async def members(request: web.Request) -> web.Response:
    """``/api/members``: every member with health, breaker state and capabilities."""
    registry = request.app[REGISTRY]
    client = request.app[CLIENT]
    now = asyncio.get_running_loop().time()
    found = []
    for s in registry.members():
        caps = s.capabilities
        found.append(
            {
                "memberId": s.config.id,
                "beaconId": caps.beacon_id,
                "name": s.name,
                "url": s.config.url,
                "api": s.config.api.value,
                "status": s.health.value,
                "breaker": client.breaker(s.config.id).state(now).value,
                "lastAnswerAt": s.last_answer_at.isoformat() if s.last_answer_at else None,
                "latencyMs": round(s.latency_ms, 1) if s.latency_ms is not None else None,
                "assemblies": list(s.assemblies),
                "datasets": [
                    {
                        "id": d.id,
                        "name": d.name,
                        "assembly": d.assembly,
                        "securityLevel": d.security_level,
                    }
                    for d in caps.datasets
                ],
                "message": s.message,
            }
        )
    return _json({"members": found})


async def info(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    if request.path == "/" and ui.wants_html(request):
        return await ui.search_page(request)
    return _json(info_response(config, _base_url(request)))


async def service_info(request: web.Request) -> web.Response:
    return _json(service_info_response(request.app[CONFIG]))


async def filtering_terms(request: web.Request) -> web.Response:
    return _json(filtering_terms_response(request.app[CONFIG]))


async def configuration(request: web.Request) -> web.Response:
    return _json(configuration_response(request.app[CONFIG]))


async def beacon_map(request: web.Request) -> web.Response:
    return _json(map_response(request.app[CONFIG], _base_url(request)))


async def entry_types(request: web.Request) -> web.Response:
    return _json(entry_types_response(request.app[CONFIG]))


async def health(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY]
    states = registry.members()
    up = sum(1 for s in states if s.health.value == "up")
    return _json({"status": "ok", "membersUp": up, "membersTotal": len(states)})


async def _refresh_periodically(app: web.Application) -> None:
    registry = app[REGISTRY]
    interval = app[CONFIG].refresh_interval_s
    while True:
        await asyncio.sleep(interval)
        await registry.refresh_all()


async def _watch_config(app: web.Application, path: Path) -> None:
    """Reload the member list when the configuration file changes (mtime, every 2 s)."""

    def mtime_ns() -> int:
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    # The configuration this worker runs was parsed before it started (by the parent, with
    # --workers); a change saved in between would be missed if the first reading were taken as
    # the baseline. So the first check always reloads: a no-op when nothing changed.
    last = 0
    while True:
        await asyncio.sleep(2.0)
        mtime = await asyncio.to_thread(mtime_ns)
        if mtime == 0:
            continue
        if mtime != last:
            last = mtime
            await reload_members(app)


async def reload_members(app: web.Application) -> bool:
    """Re-read the configuration file and take its member list (no restart). A file that
    does not parse is reported and ignored: the running member list stays. Returns whether
    the new list was taken."""
    from aggregator.config import ConfigError

    path = app.get(CONFIG_PATH)
    if path is None:
        return False
    try:
        new = load_config(path)
    except ConfigError as exc:
        log.error("configuration not reloaded: %s", exc)
        return False
    changed = app[REGISTRY].reload(new)
    await app[REGISTRY].refresh_all(changed)
    return True


def create_app(config: NetworkConfig, *, config_path: Path | None = None) -> web.Application:
    """The aggregator application. Opens its HTTP client and checks its members on start-up;
    refreshes them every ``refresh_interval_s``; with ``config_path`` it also reloads the
    member list when that file changes. Raises :class:`aggregator.schemas.SchemaFolderError`
    when ``schema_dir`` is set but holds no schemas."""
    app = web.Application(
        middlewares=[cors_middleware, error_middleware], client_max_size=config.max_body_bytes
    )
    schemas = OfficialSchemas.load(config.schema_dir) if config.schema_dir else None
    client = MemberClient(config)
    registry = Registry(config, client, schemas)
    app[CONFIG] = config
    app[CLIENT] = client
    app[REGISTRY] = registry
    app[FANOUT] = FanOut(config, registry, client)
    if config_path is not None:
        app[CONFIG_PATH] = config_path

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await client.open()
        await registry.refresh_all()
        tasks = []
        if config.refresh_interval_s > 0:
            tasks.append(asyncio.create_task(_refresh_periodically(app)))
        if config_path is not None:
            tasks.append(asyncio.create_task(_watch_config(app, config_path)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await client.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/", info)
    app.router.add_get("/info", info)
    app.router.add_get("/service-info", service_info)
    app.router.add_get("/configuration", configuration)
    app.router.add_get("/map", beacon_map)
    app.router.add_get("/entry_types", entry_types)
    app.router.add_get("/filtering_terms", filtering_terms)
    app.router.add_get("/g_variants", g_variants)
    app.router.add_post("/g_variants", g_variants)
    app.router.add_get("/g_variants/stream", g_variants_stream)
    app.router.add_get("/api/members", members)
    app.router.add_get("/health", health)
    ui.add_routes(app)
    return app
