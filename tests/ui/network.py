"""A small real network on loopback for the page's browser tests.

Three of our beacons (real PostgreSQL, data loaded with ``load_vcf``), a slow member (our
beacon, held back before it answers a query) and a dead member (nothing listening), behind a
real aggregator. The VCFs are written here, so the tests run everywhere.

Expected answers for ``chr17:43045712 T>C`` on GRCh38:

* Hospital A (GRCh38, genotypes, one carrier, yes/no only for anonymous callers): yes;
* Registry B (GRCh38, sites-only, open policy): no (it holds T>G there: 2 of 100 alleles);
* Archive C (GRCh37): not applicable, other assembly;
* Slow site: did not answer in time;
* Dead site: unavailable.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from aggregator.config import parse_config
from aggregator.web import create_app as create_aggregator
from beacon.config import Settings
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import DisclosurePolicy
from beacon.policy import OPEN_POLICY
from beacon.storage import db, privacy
from beacon.web import create_app as create_beacon
from tests import pg
from tests.ui.servers import serving

HOSPITAL_A = """\
##fileformat=VCFv4.2
##contig=<ID=chr17,length=83257441>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3
chr17\t43045712\t.\tT\tC\t50\tPASS\t.\tGT\t0/1\t0/0\t0/0
chr17\t43057051\t.\tACTG\tA\t50\tPASS\t.\tGT\t0/1\t1/1\t0/0
"""

REGISTRY_B = """\
##fileformat=VCFv4.2
##contig=<ID=17,length=83257441>
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
17\t43045712\t.\tT\tG\t.\tPASS\tAC=2;AN=100
17\t43050000\t.\tG\tA\t.\tPASS\tAC=5;AN=100
"""

ARCHIVE_C = """\
##fileformat=VCFv4.2
##contig=<ID=17,length=81195210>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tP1
17\t41197695\t.\tT\tC\t50\tPASS\t.\tGT\t1/1
"""

SLOW_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Network:
    url: str
    """The aggregator's base URL (no trailing slash)."""
    member_names: dict[str, str]


def _free_port() -> int:
    """A loopback port with nothing listening on it (bound, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _held_back(release: asyncio.Event) -> Middleware:
    """Middleware that holds every query until ``release`` is set (the slow member)."""

    @web.middleware
    async def hold(request: web.Request, handler: Handler) -> web.StreamResponse:
        if "g_variants" in request.path:
            await release.wait()
        return await handler(request)

    return hold


async def _database(admin_dsn: str, template: str, stack: AsyncExitStack) -> str:
    name = await pg.create_database(admin_dsn, template=template)
    stack.push_async_callback(pg.drop_database, admin_dsn, name)
    return pg.with_database(admin_dsn, name)


async def _load(dsn: str, folder: Path, text: str, options: LoadOptions) -> None:
    path = folder / f"{options.dataset_id}.vcf"
    path.write_text(text)
    await load_vcf(dsn, path, options)


YES_FOR_ONE_CARRIER = DisclosurePolicy(public_min_carriers=1)


async def _set_policy(dsn: str, dataset_id: str, policy: DisclosurePolicy) -> None:
    conn = await db.connect(dsn)
    try:
        await privacy.set_policy(conn, dataset_id, policy)
    finally:
        await conn.close()


@asynccontextmanager
async def running_network(admin_dsn: str, template: str, folder: Path) -> AsyncIterator[Network]:
    """Start the beacons, the fakes and the aggregator; stop them all afterwards."""
    release = asyncio.Event()
    async with AsyncExitStack() as stack:
        dsn_a = await _database(admin_dsn, template, stack)
        dsn_b = await _database(admin_dsn, template, stack)
        dsn_c = await _database(admin_dsn, template, stack)
        await _load(
            dsn_a,
            folder,
            HOSPITAL_A,
            LoadOptions("hospital-a-wgs", "GRCh38", name="Hospital A genomes"),
        )
        await _load(
            dsn_b,
            folder,
            REGISTRY_B,
            LoadOptions("registry-b", "GRCh38", name="Registry B frequencies"),
        )
        await _load(
            dsn_c, folder, ARCHIVE_C, LoadOptions("archive-c", "GRCh37", name="Archive C exomes")
        )
        # Registry B publishes frequencies openly, as population panels do. The others keep
        # the default (anonymous callers get yes/no only) but say yes for a single carrier,
        # where the default would hide alleles carried by fewer than five people.
        await _set_policy(dsn_b, "registry-b", OPEN_POLICY)
        await _set_policy(dsn_a, "hospital-a-wgs", YES_FOR_ONE_CARRIER)
        await _set_policy(dsn_c, "archive-c", YES_FOR_ONE_CARRIER)

        async def beacon(beacon_id: str, name: str, dsn: str, *, slow: bool = False) -> str:
            settings = Settings(database_url=dsn, beacon_id=beacon_id, beacon_name=name)
            app = create_beacon(settings, dsn=dsn)
            if slow:
                app.middlewares.append(_held_back(release))
            return await stack.enter_async_context(serving(app))

        url_a = await beacon("org.test.hospital-a", "Hospital A", dsn_a)
        url_b = await beacon("org.test.registry-b", "Registry B", dsn_b)
        url_c = await beacon("org.test.archive-c", "Archive C", dsn_c)
        url_slow = await beacon("org.test.slow", "Slow site", dsn_b, slow=True)
        # Set before the servers stop, so a held query does not delay their shutdown.
        stack.callback(release.set)
        dead = f"http://127.0.0.1:{_free_port()}"
        members: list[dict[str, Any]] = [
            {"id": "hospital-a", "name": "Hospital A", "url": url_a, "timeout_s": 10.0},
            {"id": "registry-b", "name": "Registry B", "url": url_b, "timeout_s": 10.0},
            {"id": "archive-c", "name": "Archive C", "url": url_c, "timeout_s": 10.0},
            {"id": "slow", "name": "Slow site", "url": url_slow, "timeout_s": SLOW_TIMEOUT_S},
            {"id": "dead", "name": "Dead site", "url": dead, "timeout_s": 2.0},
        ]
        config = parse_config(
            {
                "network": {
                    "id": "org.test.network",
                    "name": "Test network",
                    "overall_timeout_s": 15.0,
                    "refresh_interval_s": 0,
                },
                "members": [{"api": "v2", **m} for m in members],
            }
        )
        url = await stack.enter_async_context(serving(create_aggregator(config)))
        yield Network(url=url, member_names={str(m["id"]): str(m["name"]) for m in members})
