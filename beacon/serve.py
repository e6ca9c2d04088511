"""``beacon serve``: the HTTP API in one or more worker processes sharing one port.

The parent resolves the store once (``BEACON_DATABASE_URL``, else the embedded PostgreSQL
under ``BEACON_DATA_DIR``, started here), applies pending migrations, reserves the port
(binding without listening, so ``--port 0`` picks one free port for every worker), and starts
``--workers`` processes. Each worker binds the same address with ``SO_REUSEPORT``, so the
kernel spreads connections over them, and runs :func:`beacon.web.create_app`. A worker that
dies is restarted; SIGTERM or SIGINT stops them all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from dataclasses import replace
from multiprocessing.process import BaseProcess
from typing import Any

from beacon.cli import command
from beacon.config import Settings
from beacon.heap import freeze_startup_heap, space_young_passes
from beacon.http_limits import MAX_FIELD_SIZE, MAX_LINE_SIZE

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
"""Pause before restarting a worker that exited unexpectedly (seconds)."""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to listen on (BEACON_HOST)")
    parser.add_argument("--port", type=int, default=None, help="port, 0 = any (BEACON_PORT)")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (BEACON_WORKERS)"
    )


def bind(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEADDR and SO_REUSEPORT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(1024)
        sock.setblocking(False)
    return sock


def _event_loop_policy() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_worker(settings: Settings, dsn: str, log_level: str) -> None:
    """Body of one worker process: serve the app on the shared port until SIGTERM."""
    import orjson
    from aiohttp import web

    from beacon.http_protocol import answer_protocol_errors
    from beacon.responses import error_response
    from beacon.web import create_app

    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _event_loop_policy()
    answer_protocol_errors(
        lambda status, message: orjson.dumps(error_response(settings, status, message))
    )
    sock = bind(settings.host, settings.port, listen=True)
    app = create_app(settings, dsn=dsn)

    async def freeze(app: web.Application) -> None:  # after the app's own start-up hooks
        del app
        freeze_startup_heap()
        space_young_passes()

    app.on_startup.append(freeze)
    web.run_app(
        app,
        sock=sock,
        access_log=None,
        print=None,
        handle_signals=True,
        max_line_size=MAX_LINE_SIZE,  # passed on to the request handler
        max_field_size=MAX_FIELD_SIZE,
    )


def _start(ctx: Any, settings: Settings, dsn: str, level: str, index: int) -> BaseProcess:
    process: BaseProcess = ctx.Process(
        target=run_worker, args=(settings, dsn, level), name=f"beacon-worker-{index}"
    )
    process.start()
    return process


def _prepare(settings: Settings) -> str:
    from beacon.storage import db, migrate

    dsn = db.resolve_dsn(settings)

    async def upgrade() -> None:
        conn = await db.connect(dsn)
        try:
            await migrate.upgrade(conn)
        finally:
            await conn.close()

    asyncio.run(upgrade())
    return dsn


@command("serve", "serve the Beacon v2 (and v1.1) HTTP API", _configure)
def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API until interrupted; returns the exit code."""
    settings = replace(
        settings,
        host=args.host if args.host is not None else settings.host,
        port=args.port if args.port is not None else settings.port,
        workers=args.workers if args.workers is not None else settings.workers,
    )
    if settings.workers < 1:
        print("beacon: --workers must be at least 1", file=sys.stderr)
        return 2
    from beacon.auth import check_auth_settings

    check_auth_settings(settings)  # a bad issuers file stops here, not in every worker
    dsn = _prepare(settings)
    reserved = bind(settings.host, settings.port, listen=False)
    settings = replace(settings, port=reserved.getsockname()[1])
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    print(
        f"beacon: serving on http://{settings.host}:{settings.port} "
        f"with {settings.workers} worker(s)",
        flush=True,
    )
    ctx = multiprocessing.get_context("spawn")
    workers = [_start(ctx, settings, dsn, level, i) for i in range(settings.workers)]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        del frame
        stopping = True
        log.info("stopping on signal %d", signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            for i, process in enumerate(workers):
                if not process.is_alive() and not stopping:
                    log.error("worker %s exited with %s; restarting", process.pid, process.exitcode)
                    time.sleep(RESTART_DELAY_S)
                    workers[i] = _start(ctx, settings, dsn, level, i)
            time.sleep(0.2)
    finally:
        for process in workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in workers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        reserved.close()
    return 0
