"""`beacon serve` as operators run it: a subprocess with two workers sharing one port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.beacon.querydata import SNP, load


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    await load(database_url, tmp_path)
    env = {**os.environ, "BEACON_DATABASE_URL": database_url, "BEACON_DATA_DIR": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from beacon.cli import main; sys.exit(main())",
        "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "2",
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        url = f"http://127.0.0.1:{match.group(1)}"
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(200):
                try:
                    async with session.get(f"{url}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_two_workers_share_the_port(served: str) -> None:
    workers = set()
    timeout = aiohttp.ClientTimeout(total=5)
    for _ in range(40):
        # a fresh connection each time, so the kernel may pick either worker
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{served}/metrics") as response:
                text = await response.text()
            workers.update(re.findall(r'worker="(\d+)"', text))
            async with session.get(f"{served}/g_variants", params=SNP) as response:
                assert response.status == 200
                assert (await response.json())["responseSummary"]["exists"] is True
        if len(workers) == 2:
            break
    assert len(workers) == 2


async def test_large_header_fields_fit_within_the_limit(served: str) -> None:
    """A bearer token carrying a passport can exceed aiohttp's default 8 KiB per header field;
    the served app accepts up to MAX_FIELD_SIZE and still refuses beyond it."""
    from beacon.http_limits import MAX_FIELD_SIZE

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(f"{served}/info", headers={"X-Padding": "a" * 30_000}) as response:
            assert response.status == 200
        too_big = {"X-Padding": "a" * (MAX_FIELD_SIZE + 1024)}
        async with session.get(f"{served}/info", headers=too_big) as response:
            assert response.status == 400
