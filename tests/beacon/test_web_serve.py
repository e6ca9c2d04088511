"""`beacon serve` as operators run it: a subprocess with two workers sharing one port."""

from __future__ import annotations

import asyncio
import json
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
    stderr = (tmp_path / "serve.log").open("wb")  # the workers' log, read by some tests
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from beacon.cli import main; sys.exit(main())",
        "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "2",
        env=env, stdout=subprocess.PIPE, stderr=stderr,
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
        stderr.close()


async def test_two_workers_share_the_port(served: str) -> None:
    workers = set()
    timeout = aiohttp.ClientTimeout(total=5)
    # /health answered by the first worker up does not mean the second listens yet (each
    # worker is a spawned interpreter that binds the port when it has started): keep asking,
    # a little apart, for up to 30 s.
    for _ in range(300):
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
        await asyncio.sleep(0.1)
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


async def _raw_exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the server closes after an error)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


async def _log_line(log: Path, needle: str) -> str:
    """The server's stderr once it holds ``needle`` (workers write it asynchronously)."""
    text = ""
    for _ in range(100):
        text = await asyncio.to_thread(log.read_text, errors="replace")
        if needle in text:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"{needle!r} never logged:\n{text}")


async def test_an_unparseable_request_gets_a_beacon_error_and_is_logged_without_its_query(
    served: str, tmp_path: Path
) -> None:
    """A request line over MAX_LINE_SIZE fails in aiohttp's parser, before the app: it is still
    answered with a Beacon error document, which does not echo the request, and the log names
    the fault but not the chromosome, position or bases asked about."""
    from beacon.http_limits import MAX_LINE_SIZE

    query = "referenceName=17&start=43045711&referenceBases=T&alternateBases=GATTACA"
    path = f"/g_variants?{query}&pad={'A' * MAX_LINE_SIZE}"
    status, headers, body = await _raw_exchange(
        served, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    document = json.loads(body)
    assert document["error"]["errorCode"] == 400
    assert "too long" in document["error"]["errorMessage"]
    assert document["meta"]["beaconId"]
    assert b"43045711" not in body
    assert b"GATTACA" not in body
    log = await _log_line(tmp_path / "serve.log", "refused a malformed HTTP request")
    assert "LineTooLong" in log
    assert "43045711" not in log
    assert "GATTACA" not in log
    assert "Traceback" not in log


async def test_a_malformed_header_never_puts_its_token_in_the_log(
    served: str, tmp_path: Path
) -> None:
    request = b"GET /info HTTP/1.1\r\nHost: x\r\nAuthorization Bearer sekrit-passport-token\r\n\r\n"
    status, _, body = await _raw_exchange(served, request)
    assert status == 400
    assert json.loads(body)["error"]["errorMessage"] == "malformed HTTP request"
    assert b"sekrit" not in body
    log = await _log_line(tmp_path / "serve.log", "refused a malformed HTTP request")
    assert "sekrit" not in log
    # The server goes on answering well-formed requests.
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{served}/info") as response,
    ):
        assert response.status == 200
