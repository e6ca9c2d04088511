"""Aggregator benchmark (never part of the test suite; prints its figures).

(a) ``--part a``: three of our beacons (the demo network, scripts/demo.py, started here) behind
    the aggregator, driven at ``--connections`` concurrent connections: aggregated queries/s,
    p50/p99, and the overhead of the aggregator against asking the slowest member directly
    (the floor, measured in the same run at the same concurrency).
(b) ``--part b``: 100 fake members on loopback in a separate process (90 healthy with
    log-normal latency, median 50 ms and p99 300 ms; 5 refusing connections; 5 accepting and
    never answering), member deadline 2 s: p50/p99 and share of partial answers with the
    breakers out of play (failures threshold huge) and once they have tripped. Floors: the
    deadline (before) and the healthy members' own p99 latency (after).

    .venv/bin/python bench/aggregate.py --part b
    .venv/bin/python bench/aggregate.py --part a
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
QUERY = {
    "assemblyId": "GRCh38",
    "referenceName": "1",
    "start": "10095",
    "referenceBases": "T",
    "alternateBases": "G",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


async def drive(
    url: str, params: dict[str, str], *, connections: int, total: int
) -> tuple[list[float], list[dict[str, object]], int, float]:
    """``total`` GETs over ``connections`` concurrent connections; latencies in ms, the
    parsed bodies, the number of 5xx answers, and the wall time in seconds."""
    latencies: list[float] = []
    bodies: list[dict[str, object]] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                queue.get_nowait()
                t0 = time.perf_counter()
                async with session.get(url, params=params) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status >= 500:
                        errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)
                bodies.append(body)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.perf_counter() - started
    return latencies, bodies, errors, wall


# --- (b) fake members -------------------------------------------------------------------------


def fake_members_process(ports: list[int], kinds: list[str], ready: object) -> None:
    """Serve the fake members (one process, one event loop)."""
    sigma = math.log(300 / 50) / 2.326  # p99 / median of a log-normal
    rng = random.Random(1)
    hang = asyncio.Event()

    def app_for(beacon_id: str, kind: str) -> web.Application:
        app = web.Application()

        async def info(_: web.Request) -> web.Response:
            return web.json_response(
                {
                    "meta": {"beaconId": beacon_id, "apiVersion": "v2.0.0", "returnedSchemas": []},
                    "response": {
                        "id": beacon_id,
                        "name": beacon_id,
                        "apiVersion": "v2.0.0",
                        "environment": "test",
                        "organization": {"id": "o", "name": "o"},
                    },
                }
            )

        async def other(_: web.Request) -> web.Response:
            return web.json_response({"meta": {}, "response": {"endpointSets": {}}})

        async def query(_: web.Request) -> web.Response:
            if kind == "hang":
                await hang.wait()
            await asyncio.sleep(rng.lognormvariate(math.log(0.050), sigma))
            return web.json_response(
                {
                    "meta": {"beaconId": beacon_id, "apiVersion": "v2.0.0"},
                    "responseSummary": {"exists": False, "numTotalResults": 0},
                    "response": {"resultSets": []},
                }
            )

        app.router.add_get("/info", info)
        app.router.add_get("/configuration", other)
        app.router.add_get("/map", other)
        app.router.add_get("/g_variants", query)
        return app

    async def main() -> None:
        runners = []
        for i, (port, kind) in enumerate(zip(ports, kinds, strict=True)):
            if kind == "refuse":
                continue
            runner = web.AppRunner(app_for(f"org.fake.{i}", kind), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, HOST, port, backlog=1024).start()
            runners.append(runner)
        ready.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())


def write_config(path: Path, port: int, members: list[tuple[str, str]], **network: object) -> None:
    lines = ["[network]", 'id = "org.bench.network"', f"port = {port}", "refresh_interval_s = 0"]
    lines += [f"{k} = {v}" for k, v in network.items()]
    for member_id, url in members:
        lines += ["[[members]]", f'id = "{member_id}"', f'url = "{url}"', "timeout_s = 2.0"]
    path.write_text("\n".join(lines) + "\n")


def start_aggregator(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aggregator.cli",
            "--log-level",
            "WARNING",
            "serve",
            "--config",
            str(config),
        ],
        cwd=REPO,
    )


async def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status < 500:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up")
            await asyncio.sleep(0.2)


def partial_share(bodies: list[dict[str, object]]) -> float:
    def partial(b: dict[str, object]) -> bool:
        info = b.get("info")
        return bool(isinstance(info, dict) and info["beaconNetwork"]["partial"])

    return sum(1 for b in bodies if partial(b)) / max(1, len(bodies))


def part_b(args: argparse.Namespace) -> None:
    kinds = ["ok"] * 90 + ["refuse"] * 5 + ["hang"] * 5
    ports = [free_port() for _ in kinds]
    ready = multiprocessing.Event()
    fakes = multiprocessing.Process(target=fake_members_process, args=(ports, kinds, ready))
    fakes.start()
    ready.wait(60)
    members = [(f"m{i}", f"http://{HOST}:{p}") for i, p in enumerate(ports)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-agg-"))
    try:
        for label, breaker_failures, warmup in (
            ("breakers out of play", 10**9, 0),
            ("after the breakers tripped", 3, 5),
        ):
            port = free_port()
            config = tmp / f"network-{breaker_failures}.toml"
            write_config(
                config,
                port,
                members,
                overall_timeout_s=5.0,
                breaker_failures=breaker_failures,
                breaker_reset_s=3600,
            )
            proc = start_aggregator(config)
            try:
                url = f"http://{HOST}:{port}"
                asyncio.run(wait_http(url + "/health"))
                if warmup:
                    asyncio.run(drive(url + "/g_variants", QUERY, connections=1, total=warmup))
                lat, bodies, errors, wall = asyncio.run(
                    drive(
                        url + "/g_variants",
                        QUERY,
                        connections=args.connections_b,
                        total=args.queries_b,
                    )
                )
                print(
                    f"(b) {label}: {len(lat)} queries, {args.connections_b} connections, "
                    f"p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms, "
                    f"partial {100 * partial_share(bodies):.0f}%, 5xx {errors}, "
                    f"{len(lat) / wall:.1f} q/s"
                )
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        # Floor: the healthy members' own latency, asked directly.
        healthy = [u for (_, u), k in zip(members, kinds, strict=True) if k == "ok"]

        async def direct() -> list[float]:
            out: list[float] = []
            for u in healthy[:20]:
                lat, _, _, _ = await drive(u + "/g_variants", QUERY, connections=5, total=20)
                out += lat
            return out

        floor = asyncio.run(direct())
        print(
            f"(b) floor: one healthy member asked directly p50 {pct(floor, 50):.0f} ms, "
            f"p99 {pct(floor, 99):.0f} ms; the member deadline is 2000 ms; targets: p99 <= 2250 ms "
            "before, <= 500 ms after the breakers trip, zero 5xx"
        )
    finally:
        fakes.kill()
        fakes.join()


# --- (a) our beacons ---------------------------------------------------------------------------


def part_a(args: argparse.Namespace) -> None:
    data_dir = REPO / "bench" / "out" / "demo"
    data_dir.mkdir(parents=True, exist_ok=True)
    demo = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--data-dir", str(data_dir)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    try:
        asyncio.run(wait_http("http://127.0.0.1:8080/health", seconds=600))
        members = [f"http://127.0.0.1:{p}" for p in (5051, 5052)]  # the GRCh38 members
        n, c = args.queries_a, args.connections
        # Warm up every path once.
        asyncio.run(drive("http://127.0.0.1:8080/g_variants", QUERY, connections=4, total=50))
        direct = {}
        for m in members:
            lat, _, errors, wall = asyncio.run(
                drive(m + "/g_variants", QUERY, connections=c, total=n)
            )
            direct[m] = (lat, wall)
            print(
                f"(a) member {m} directly: {n / wall:.0f} q/s, p50 {pct(lat, 50):.1f} ms, "
                f"p99 {pct(lat, 99):.1f} ms, 5xx {errors}"
            )
        lat, _bodies, errors, wall = asyncio.run(
            drive("http://127.0.0.1:8080/g_variants", QUERY, connections=c, total=n)
        )
        slowest = max(direct.values(), key=lambda v: statistics.median(v[0]))[0]
        print(
            f"(a) aggregator over 3 beacons: {n / wall:.0f} q/s, p50 {pct(lat, 50):.1f} ms, "
            f"p99 {pct(lat, 99):.1f} ms, 5xx {errors}; overhead vs slowest member at p50 "
            f"{pct(lat, 50) - pct(slowest, 50):+.1f} ms (target <= 2 ms)"
        )
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["a", "b", "both"], default="both")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--queries-a", type=int, default=3000)
    parser.add_argument("--connections-b", type=int, default=10)
    parser.add_argument("--queries-b", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores (shared; figures are noisy)")
    if args.part in ("b", "both"):
        part_b(args)
    if args.part in ("a", "both"):
        part_a(args)


if __name__ == "__main__":
    main()
