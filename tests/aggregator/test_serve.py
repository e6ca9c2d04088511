"""``aggregator serve`` as operators run it: a real process, two workers, live reloads.

The members point at a closed loopback port, so no member ever answers; what is checked is
the member list each worker serves before and after a reload.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

AGGREGATOR = str(Path(sys.executable).parent / "aggregator")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(members: list[str]) -> str:
    text = '[network]\nid = "org.test.network"\noverall_timeout_s = 1.0\n'
    for member in members:
        # Port 9 (discard) is closed on loopback: connections are refused at once.
        text += (
            f'\n[[members]]\nid = "{member}"\nurl = "http://127.0.0.1:9/{member}"\n'
            "timeout_s = 0.5\n"
        )
    return text


async def _member_ids(session: aiohttp.ClientSession, url: str) -> set[str]:
    async with session.get(f"{url}/api/members") as resp:
        assert resp.status == 200
        return {m["memberId"] for m in (await resp.json())["members"]}


async def _until_every_answer_is(
    session: aiohttp.ClientSession, url: str, expected: set[str], *, attempts: int = 200
) -> None:
    """Poll until 20 answers in a row (so both workers) list ``expected``; bounded attempts."""
    in_a_row = 0
    for _ in range(attempts):
        in_a_row = in_a_row + 1 if await _member_ids(session, url) == expected else 0
        if in_a_row >= 20:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the workers did not all serve {sorted(expected)}")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Process, Path, str]]:
    config = tmp_path / "network.toml"
    config.write_text(_config(["first"]))
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        AGGREGATOR, "serve", "--config", str(config), "--host", "127.0.0.1",
        "--port", str(port), "--workers", "2",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            for _ in range(300):
                try:
                    async with session.get(f"{url}/health") as resp:
                        if resp.status in (200, 503):
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert proc.returncode is None, "aggregator serve exited"
                await asyncio.sleep(0.05)
            else:
                pytest.fail("aggregator serve did not start")
        yield proc, config, url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_sighup_reloads_the_member_list_in_every_worker(
    served: tuple[Process, Path, str],
) -> None:
    proc, config, url = served
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        await _until_every_answer_is(session, url, {"first"})
        # Change the file but keep its modification time, so only the signal can reload it.
        before = config.stat()
        config.write_text(_config(["first", "second"]))
        os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
        proc.send_signal(signal.SIGHUP)
        await _until_every_answer_is(session, url, {"first", "second"})
        assert proc.returncode is None


async def test_saving_the_file_reloads_and_a_broken_file_keeps_the_running_list(
    served: tuple[Process, Path, str],
) -> None:
    proc, config, url = served
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        config.write_text(_config(["third"]))
        await _until_every_answer_is(session, url, {"third"})
        config.write_text("[[members]]\nid = \n")  # does not parse
        proc.send_signal(signal.SIGHUP)
        for _ in range(40):
            assert await _member_ids(session, url) == {"third"}
            await asyncio.sleep(0.05)
        assert proc.returncode is None


async def test_large_header_fields_fit_within_the_limit(
    served: tuple[Process, Path, str],
) -> None:
    from beacon.http_limits import MAX_FIELD_SIZE

    _, _, url = served
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"{url}/info", headers={"X-Padding": "a" * 30_000}) as resp:
            assert resp.status == 200
        too_big = {"X-Padding": "a" * (MAX_FIELD_SIZE + 1024)}
        async with session.get(f"{url}/info", headers=too_big) as resp:
            assert resp.status == 400


async def test_an_unparseable_request_gets_a_beacon_error_without_an_echo(
    served: tuple[Process, Path, str],
) -> None:
    """aiohttp refuses a request line over MAX_LINE_SIZE before the app runs; the aggregator
    still answers with its Beacon error document and does not echo the query back."""
    from beacon.http_limits import MAX_LINE_SIZE

    _, _, url = served
    query = "referenceName=17&start=43045711&referenceBases=T&alternateBases=GATTACA"
    long_url = f"{url}/g_variants?{query}&pad={'A' * MAX_LINE_SIZE}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(long_url) as resp:
            assert resp.status == 400
            assert resp.content_type == "application/json"
            body = await resp.read()
        async with session.get(f"{url}/info") as resp:
            assert resp.status == 200
    document = json.loads(body)
    assert document["error"]["errorCode"] == 400
    assert "too long" in document["error"]["errorMessage"]
    assert document["meta"]["beaconId"] == "org.test.network"
    assert b"GATTACA" not in body
