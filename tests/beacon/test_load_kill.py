"""A ``beacon load`` killed with SIGKILL in the middle of its COPY leaves the dataset exactly
as it was; its reader process goes away; running the load again succeeds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

from beacon.ingest import LoadOptions, load_vcf
from beacon.synthetic import write_vcf

_POLL_S = 0.05
_PATIENCE_S = 300.0  # a safety net for a stuck machine, not a timing assertion


async def _snapshot(db: asyncpg.Connection) -> tuple[object, ...]:
    rows = await db.fetchval(
        "SELECT md5(string_agg(v::text, '|' ORDER BY v::text)) FROM variant v"
        " WHERE dataset_id = 'kill'"
    )
    dataset = await db.fetchrow(
        "SELECT name, sample_count, variant_count, call_count, updated_at FROM dataset"
        " WHERE id = 'kill'"
    )
    samples = await db.fetchval("SELECT count(*) FROM sample WHERE dataset_id = 'kill'")
    tables = await db.fetchval("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'variant_%'")
    return rows, tuple(dataset or ()), samples, tables


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _wait_for(
    predicate_sql: str, db: asyncpg.Connection, proc: subprocess.Popen[bytes]
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _PATIENCE_S
    while not await db.fetchval(predicate_sql):
        assert proc.returncode is None, "the load ended before it could be killed"
        assert loop.time() < deadline, "the load never reached its COPY"
        await asyncio.sleep(_POLL_S)


async def test_kill_9_during_copy_changes_nothing(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    small = write_vcf(tmp_path / "small.vcf", sites=50, samples=4, seed=7)
    await load_vcf(
        database_url, small, LoadOptions(dataset_id="kill", assembly="GRCh38", name="v1")
    )
    before = await _snapshot(db)

    big = write_vcf(tmp_path / "big.vcf", sites=40_000, samples=100, seed=8)
    env = {**os.environ, "BEACON_DATABASE_URL": database_url, "BEACON_LOG_LEVEL": "WARNING"}
    beacon = str(Path(sys.executable).parent / "beacon")
    command = [beacon, "load", str(big), "--dataset", "kill", "--assembly", "GRCh38",
               "--name", "v2"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await _wait_for(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'beacon'"
            " AND query ILIKE 'COPY%' AND state = 'active' AND pid <> pg_backend_pid())",
            db,
            proc,
        )
        readers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    loop = asyncio.get_running_loop()
    deadline = loop.time() + _PATIENCE_S
    while await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'beacon'"
        " AND pid <> pg_backend_pid() AND datname = current_database())"
    ) or any(_alive(p) for p in readers):
        assert loop.time() < deadline, "the killed load's session or reader never went away"
        await asyncio.sleep(_POLL_S)
    assert await _snapshot(db) == before

    rerun = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await rerun.communicate()
    assert rerun.returncode == 0, err.decode()
    assert "40000 records read" in out.decode()
    after = await db.fetchrow("SELECT name, variant_count FROM dataset WHERE id = 'kill'")
    assert after is not None
    assert after["name"] == "v2"
    assert after["variant_count"] == await db.fetchval(
        "SELECT count(*) FROM variant WHERE dataset_id = 'kill'"
    )
