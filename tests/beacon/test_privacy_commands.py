"""The consent, policy, audit and budget commands, run through ``beacon.cli.main``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from beacon.cli import main
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import Granularity
from beacon.storage import privacy
from tests.beacon.privacy_data import write_vcf


@pytest.fixture
async def store(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    await load_vcf(
        database_url, write_vcf(tmp_path / "c.vcf"), LoadOptions(dataset_id="w", assembly="hg38")
    )
    monkeypatch.setenv("BEACON_DATABASE_URL", database_url)
    return database_url


async def _cli(*argv: str) -> int:
    # main() runs its own event loop, so it gets a thread of its own.
    return await asyncio.to_thread(main, list(argv))


async def test_consent_commands(
    store: str, db: asyncpg.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "consent.tsv"
    file.write_text("##duo=DUO:0000042\n#sample_id\tconsent\nP1\taggregate\nP2\tnone\n")
    assert await _cli("consent", "set", "w", str(file)) == 0
    out = capsys.readouterr().out
    assert "1 withdrawn now" in out
    assert "P2" not in out  # sample ids are not echoed
    assert await _cli("consent", "withdraw", "w", "P3", "P4") == 0
    assert "2 withdrawn now" in capsys.readouterr().out
    assert await _cli("consent", "show", "w") == 0
    shown = dict(line.split("\t", 1) for line in capsys.readouterr().out.splitlines())
    assert shown["P1"] == "aggregate\tactive"
    assert shown["P2"] == "none\twithdrawn"
    assert shown["P5"] == "all\tactive"
    assert await db.fetchval("SELECT sample_count FROM dataset WHERE id = 'w'") == 3
    # Errors are reported, not raised.
    assert await _cli("consent", "withdraw", "w", "NOBODY") == 1
    assert "NOBODY" in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("P1\tperhaps\n")
    assert await _cli("consent", "set", "w", str(bad)) == 1
    assert "line 1" in capsys.readouterr().err


async def test_policy_commands(
    store: str, db: asyncpg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli("policy", "show") == 0
    assert "anonymous=boolean" in capsys.readouterr().out
    assert (
        await _cli("policy", "set", "w", "--anonymous", "count", "--public-min-carriers", "2") == 0
    )
    policy = await privacy.get_policy(db, "w")
    assert policy.anonymous is Granularity.COUNT
    assert policy.public_min_carriers == 2
    assert policy.registered is Granularity.COUNT
    assert await _cli("policy", "set", "w", "--open") == 0
    assert (await privacy.get_policy(db, "w")).anonymous is Granularity.RECORD
    capsys.readouterr()
    assert await _cli("policy", "set", "w", "--default", "--anonymous", "record") == 1
    assert "registered" in capsys.readouterr().err
    assert await _cli("policy", "show", "nope") == 1


async def test_audit_and_budget_commands(
    store: str, db: asyncpg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    await privacy.record_query(
        db,
        privacy.AuditEntry(
            tier="anonymous",
            endpoint="/api/g_variants",
            datasets=("w",),
            granularities=(Granularity.BOOLEAN,),
            returned_granularity=Granularity.BOOLEAN,
            client_address="192.0.2.7",
            exists=True,
        ),
    )
    assert await _cli("audit", "--who", "192.0.2.7") == 0
    line = capsys.readouterr().out.strip()
    assert "\tanonymous\t-\t192.0.2.7\t/api/g_variants\tboolean\texists=true\t200\tw:boolean" in (
        line
    )
    assert await _cli("audit", "--since", "not-a-time") == 1
    await privacy.charge_budget(db, "addr:192.0.2.7", limit=5, window_s=60)
    assert await _cli("budget", "reset", "addr:192.0.2.7") == 0
    assert "reset 1 budget(s)" in capsys.readouterr().out
