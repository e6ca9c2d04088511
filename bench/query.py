"""Query throughput of a running `beacon serve`, against an empty-handler floor in the same run.

    .venv/bin/python bench/query.py [--sites 950000] [--workers 2] [--connections 50]
                                    [--duration 15] [--rounds 3] [--layers]
                                    [--data-dir /tmp/beacon-bench]

1. Loads a synthetic dataset of at least 1,000,000 alleles (beacon.synthetic + load_vcf) into
   the embedded PostgreSQL under --data-dir, unless it is already there from an earlier run.
2. Starts `beacon serve --workers N` and, as the baseline, the same aiohttp stack (uvloop,
   N processes sharing the port with SO_REUSEPORT) whose only handler returns a fixed JSON.
3. Drives them over loopback with Debian's `wrk` (installed with apt-get when missing), 50
   connections, a Lua script picking a random request from a prepared list per request:
   exact hits, exact misses, 1 kb range queries and bracket queries.
   Each run is first driven unmeasured for 5 s (steady state: every worker's database
   connections have prepared that scenario's statements, every server has served).
4. Measures each run for --duration seconds in all, split into --rounds rounds that take the
   floor and every scenario in turn: the floor is measured beside each scenario, so a machine
   whose speed drifts over the minutes of a benchmark (a shared virtual machine does) moves
   both alike instead of skewing their ratio.
5. Prints queries/s, p50 and p99 latency (the worst round's), the ratio to the baseline's rate
   (with the least and greatest ratio of a single round), and the CPU time (user + system,
   from /proc) the server's worker processes spent per query: unlike the rate, this hardly
   depends on what else runs on the machine.
6. With --layers, measures two more floors, on exact hits, to show where the time goes:
   `app, fixed answer` (the beacon's own app, settings and per-route edge, with a route that
   returns a fixed JSON document) and `app, no lookup` (the whole g_variants handler, with
   the store's lookup replaced by one that finds nothing without asking PostgreSQL). Both are
   bench-only patches applied inside the worker processes; the beacon's code has no switch
   for them.

Exact lookups are answered from each worker's in-memory index (beacon.storage.exact_index),
built in the first second of the warm-up; the summary line says what one worker held at the
end (BEACON_EXACT_INDEX_MAX_ALLELES=0 measures every lookup through PostgreSQL).

Anonymous query budgets are lifted for the run (BEACON_BUDGET_ANONYMOUS=unlimited): one
address sends hundreds of thousands of queries. Everything else is the default configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from tools import ensure_wrk

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DATASET = "bench_synthetic"
TARGETS = {"exact_hit": 6000.0, "exact_miss": 6000.0, "range": 3000.0}
"""Queries/s each scenario must reach; exact lookups also p99 <= 20 ms and at least
:data:`FLOOR_SHARE` of the floor's rate."""
FLOOR_SHARE = 0.5

LUA = r"""
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter * 7919) % #paths + 1])
end
done = function(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p99_us": %d}',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99)))
  out:close()
end
"""


async def prepare_data(dsn: str, sites: int, tmp: Path) -> list[tuple[str, int, str, str]]:
    """Load the dataset unless present; return sampled stored alleles (chrom, start, ref, alt)."""
    import asyncpg

    from beacon.ingest import LoadOptions, load_vcf
    from beacon.storage import migrate
    from beacon.synthetic import write_vcf

    conn = await asyncpg.connect(dsn)
    try:
        await migrate.upgrade(conn)
        count = await conn.fetchval("SELECT variant_count FROM dataset WHERE id = $1", DATASET)
        if count is None or count < 1_000_000:
            vcf = write_vcf(tmp / "bench.vcf.gz", sites=sites, samples=0, seed=7)
            started = time.perf_counter()
            report = await load_vcf(
                dsn, vcf, LoadOptions(dataset_id=DATASET, assembly="GRCh38", name="Benchmark")
            )
            print(f"loaded: {report.summary()} ({time.perf_counter() - started:.0f} s)")
            count = await conn.fetchval("SELECT variant_count FROM dataset WHERE id = $1", DATASET)
        print(f"dataset {DATASET}: {count:,} alleles")
        if count < 1_000_000:
            raise SystemExit(f"only {count} alleles; raise --sites")
        rows = await conn.fetch(
            "SELECT reference_name, start, reference_bases, alternate_bases FROM variant "
            "TABLESAMPLE SYSTEM (2) WHERE dataset_id = $1 LIMIT 20000",
            DATASET,
        )
    finally:
        await conn.close()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def request_lists(alleles: list[tuple[str, int, str, str]]) -> dict[str, list[str]]:
    rng = random.Random(11)
    base = "/g_variants?assemblyId=GRCh38&referenceName="
    hits, misses, ranges, brackets = [], [], [], []
    for chrom, start, ref, alt in alleles:
        ref_q = ref or "-"
        alt_q = alt or "-"
        hits.append(f"{base}{chrom}&start={start}&referenceBases={ref_q}&alternateBases={alt_q}")
        # 13 bases: longer than any synthetic allele, so never stored and never equal to REF
        misses.append(
            f"{base}{chrom}&start={start}&referenceBases={ref_q}&alternateBases=ACGTTGCAACGTT"
        )
        lo = max(0, start - rng.randint(0, 1000))
        ranges.append(f"{base}{chrom}&start={lo}&end={lo + 1000}")
        brackets.append(
            f"{base}{chrom}&start={max(0, start - 50)},{start + 50}&end={start + 1},{start + 200}"
        )
    return {"exact_hit": hits, "exact_miss": misses, "range": ranges, "bracket": brackets}


def wait_ready(url: str, timeout_s: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def start(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return process, f"http://127.0.0.1:{match.group(1)}"


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_pids(server: int) -> list[int]:
    """The server's worker processes (its spawned children, not the resource tracker)."""
    children = Path(f"/proc/{server}/task/{server}/children").read_text().split()
    pids = []
    for child in children:
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            pids.append(int(child))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (seconds)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def run_wrk(
    wrk: str,
    url: str,
    paths: list[str],
    tmp: Path,
    name: str,
    args: argparse.Namespace,
    workers: list[int] | None = None,
) -> dict[str, float]:
    paths_file = tmp / f"{name}.paths"
    paths_file.write_text("\n".join(paths) + "\n")
    script = tmp / "bench.lua"
    script.write_text(LUA)
    out = tmp / f"{name}.json"
    env = {**os.environ, "BENCH_PATHS": str(paths_file), "BENCH_OUT": str(out)}
    cpu_before = cpu_seconds(workers or [])
    subprocess.run(
        [wrk, "-t2", f"-c{args.connections}", f"-d{args.duration}s", "-s", str(script), url],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    cpu = cpu_seconds(workers or []) - cpu_before
    raw = json.loads(out.read_text())
    seconds = raw["duration_us"] / 1e6
    return {
        "seconds": seconds,
        "qps": raw["requests"] / seconds,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"] + raw["non2xx"],
        "requests": raw["requests"],
        "cpu_ms": cpu * 1000 / max(raw["requests"], 1),
    }


@dataclass(frozen=True)
class Run:
    """One measured scenario: ``name`` as printed, ``key`` for file names, the server's URL,
    the request paths and the server's process (whose workers are measured)."""

    name: str
    key: str
    url: str
    paths: list[str]
    server: int


def scenarios(
    servers: list[tuple[str, subprocess.Popen[str], str]],
    lists: dict[str, list[str]],
    layers: bool,
) -> list[Run]:
    """The runs of one round, in order: the floor, the layers (with --layers), then the
    beacon's scenarios."""
    by_name = {name: (process, url) for name, process, url in servers}
    runs = []

    def add(name: str, key: str, server: str, paths: list[str]) -> None:
        process, url = by_name[server]
        runs.append(Run(name, key, url, paths, process.pid))

    add("baseline", "baseline", "baseline", lists["exact_hit"])
    if layers:
        fixed = [FIXED_ROUTE + p[p.index("?") :] for p in lists["exact_hit"]]
        add("app, fixed", "fixed", "fixed", fixed)
        add("app, no-lookup", "no_lookup", "no-lookup", lists["exact_hit"])
    for name in ("exact_hit", "exact_miss", "range", "bracket"):
        add(name, name, "beacon", lists[name])
    return runs


def measure_in_rounds(
    wrk: str, runs: list[Run], tmp: Path, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Each run for ``args.duration`` seconds in all, as ``args.rounds`` rounds that take every
    run in turn, so that the floor is measured beside each scenario and a machine whose speed
    drifts over the minutes of a benchmark moves both alike.

    Per run: queries/s over all its rounds, the worst round's p50 and p99, errors, CPU per
    query, and ``low``/``high``, the least and greatest of its per-round rates relative to the
    floor's in the same round."""
    rounds = max(1, min(args.rounds, args.duration))
    got: dict[str, list[dict[str, float]]] = {run.name: [] for run in runs}
    workers = {run.server: worker_pids(run.server) for run in runs}  # all started by now
    for round_ in range(rounds):
        seconds = args.duration // rounds + (round_ < args.duration % rounds)  # whole seconds
        piece = argparse.Namespace(**{**vars(args), "duration": seconds})
        for run in runs:
            measured = run_wrk(wrk, run.url, run.paths, tmp, run.key, piece, workers[run.server])
            got[run.name].append(measured)
    floor_rounds = got[runs[0].name]
    results = {}
    for name, parts in got.items():
        requests = sum(p["requests"] for p in parts)
        ratios = [p["qps"] / f["qps"] for p, f in zip(parts, floor_rounds, strict=True)]
        results[name] = {
            "qps": requests / sum(p["seconds"] for p in parts),
            "p50_ms": max(p["p50_ms"] for p in parts),
            "p99_ms": max(p["p99_ms"] for p in parts),
            "errors": sum(p["errors"] for p in parts),
            "requests": requests,
            "cpu_ms": sum(p["cpu_ms"] * p["requests"] for p in parts) / max(requests, 1),
            "low": min(ratios),
            "high": max(ratios),
        }
    return results


FIXED_ROUTE = "/bench/fixed"
FIXED_BODY = b'{"meta":{"beaconId":"baseline"},"responseSummary":{"exists":true}}'
"""The floor's answer, and the `app, fixed` layer's."""


async def _fixed_answer(request: web.Request) -> web.Response:
    """The floor's only handler, and the `app, fixed` layer's route: :data:`FIXED_BODY`."""
    return web.Response(body=FIXED_BODY, content_type="application/json")


def baseline_server(workers: int) -> None:
    """`bench/query.py --baseline`: the same stack with one fixed-answer handler."""
    from beacon.serve import bind

    reserved = bind("127.0.0.1", 0, listen=False)
    port = reserved.getsockname()[1]
    print(f"baseline: http://127.0.0.1:{port}", flush=True)
    _run_workers(_baseline_worker, (port,), workers)


def _run_workers(target: Any, args: tuple[Any, ...], workers: int) -> None:
    """Run ``workers`` spawned processes of ``target(*args)`` until SIGTERM."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for _ in range(workers)]
    for p in procs:
        p.start()

    def handle(signum: int, frame: object) -> None:
        for p in procs:
            p.terminate()

    signal.signal(signal.SIGTERM, handle)
    for p in procs:
        p.join()


def _baseline_worker(port: int) -> None:
    import uvloop

    from beacon.serve import bind

    app = web.Application()
    app.router.add_get("/{tail:.*}", _fixed_answer)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, sock=bind("127.0.0.1", port, listen=True), access_log=None, print=None)


def layer_server(layer: str, workers: int) -> None:
    """`bench/query.py --layer fixed|no-lookup`: `beacon serve`'s workers with one patch each."""
    from dataclasses import replace

    from beacon.config import load_settings
    from beacon.serve import bind

    reserved = bind("127.0.0.1", 0, listen=False)
    settings = replace(load_settings(os.environ), host="127.0.0.1", port=reserved.getsockname()[1])
    dsn = os.environ["BEACON_DATABASE_URL"]
    print(f"layer {layer}: http://127.0.0.1:{settings.port}", flush=True)
    _run_workers(_layer_worker, (layer, settings, dsn), workers)


def _layer_worker(layer: str, settings: Any, dsn: str) -> None:
    import logging

    import beacon.web
    from beacon.serve import run_worker
    from beacon.storage import queries

    if layer == "fixed":
        create_app = beacon.web.create_app

        def create_with_fixed(*args: Any, **kwargs: Any) -> web.Application:
            app = create_app(*args, **kwargs)
            app.router.add_get(FIXED_ROUTE, beacon.web.edged(_fixed_answer, FIXED_ROUTE))
            return app

        beacon.web.create_app = create_with_fixed
    elif layer == "no-lookup":

        async def find_nothing(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return {}

        queries.find_variants = find_nothing
    else:
        raise SystemExit(f"unknown layer {layer}")
    run_worker(settings, dsn, logging.getLevelName(logging.WARNING))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=950_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="split each run's duration into this many rounds that take every run in turn",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "beacon-bench"
    )
    parser.add_argument(
        "--layers", action="store_true",
        help="also measure the app with a fixed answer and the handler without its lookup",
    )  # fmt: skip
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--layer", choices=("fixed", "no-lookup"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        baseline_server(args.workers)
        return 0
    if args.layer:
        layer_server(args.layer, args.workers)
        return 0

    from beacon.config import load_settings
    from beacon.storage import db

    wrk = ensure_wrk()
    env = {
        **os.environ,
        "BEACON_DATA_DIR": str(args.data_dir),
        "BEACON_BUDGET_ANONYMOUS": "unlimited",
        "BEACON_LOG_LEVEL": "WARNING",
    }
    settings = load_settings(env)
    dsn = db.resolve_dsn(settings)
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as tmp_name:
        tmp = Path(tmp_name)
        alleles = asyncio.run(prepare_data(dsn, args.sites, tmp))
        lists = request_lists(alleles)
        env["BEACON_DATABASE_URL"] = dsn
        entry = "import sys; from beacon.cli import main; sys.exit(main())"
        beacon_cmd = [sys.executable, "-c", entry, "serve", "--port", "0",
                      "--workers", str(args.workers)]  # fmt: skip
        base_cmd = [sys.executable, __file__, "--baseline", "--workers", str(args.workers)]
        load_before = os.getloadavg()
        servers: list[tuple[str, subprocess.Popen[str], str]] = []
        try:
            process, url = start(base_cmd, env)
            servers.append(("baseline", process, url))
            if args.layers:
                for layer in ("fixed", "no-lookup"):
                    cmd = [sys.executable, __file__, "--layer", layer,
                           "--workers", str(args.workers)]  # fmt: skip
                    process, url = start(cmd, env)
                    servers.append((layer, process, url))
            process, url = start(beacon_cmd, env)
            servers.append(("beacon", process, url))
            runs = scenarios(servers, lists, args.layers)
            for run in runs:
                wait_ready(run.url + ("/" if run.name == "baseline" else "/health"))
            # Steady state: each worker's connections have prepared the scenario's statements
            # (one per combined group size), and every server has served, before measuring.
            for run in runs:
                run_wrk(wrk, run.url, run.paths, tmp, f"warm_{run.key}", _warm_up(args))
            results = measure_in_rounds(wrk, runs, tmp, args)
            index_state = exact_index_state(servers[-1][2])
        finally:
            for _, process, _ in servers:
                stop(process)
        load_after = os.getloadavg()
    floor = results["baseline"]["qps"]
    rounds = max(1, min(args.rounds, args.duration))
    print(
        f"\n{args.connections} connections, {args.duration} s each in {rounds} rounds, "
        f"{args.workers} workers, {os.cpu_count()} cores, wrk -t2; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min); in-memory exact-lookup "
        f"index of a worker: {index_state}\n"
    )
    print(
        f"{'scenario':<20}{'q/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs base':>9}{'rounds':>10}"
        f"{'errors':>8}{'cpu ms/q':>10}  target"
    )
    for name, r in results.items():
        print(
            f"{name:<20}{r['qps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['qps'] / floor:>9.0%}{_span(r['low'], r['high']):>10}{r['errors']:>8.0f}"
            f"{r['cpu_ms']:>10.3f}  {verdict(name, r, floor)}"
        )
    return 0


def verdict(name: str, r: dict[str, float], floor: float) -> str:
    """Whether ``name``'s results ``r`` meet its targets (empty for a scenario without any)."""
    target = TARGETS.get(name)
    if target is None:
        return ""
    if name == "range":
        return f">= {target:,.0f}/s: " + ("met" if r["qps"] >= target else "NOT met")
    ok = r["qps"] >= target and r["p99_ms"] <= 20 and r["qps"] >= FLOOR_SHARE * floor
    return f">= {target:,.0f}/s, p99 <= 20 ms, >= {FLOOR_SHARE:.0%} of base: " + (
        "met" if ok else "NOT met"
    )


def _span(low: float, high: float) -> str:
    return f"{low:.0%}" if round(low, 2) == round(high, 2) else f"{low:.0%}-{high:.0%}"


def exact_index_state(url: str) -> str:
    """What one worker's /metrics says of its in-memory exact-lookup index."""
    import urllib.request

    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(r"^beacon_exact_index_alleles\{[^}]*\} (-?\d+)$", text, re.MULTILINE)
    alleles = int(found.group(1)) if found else -1
    return f"{alleles:,} alleles" if alleles >= 0 else "none (every lookup asked PostgreSQL)"


def _warm_up(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "duration": 5})


if __name__ == "__main__":
    sys.exit(main())
