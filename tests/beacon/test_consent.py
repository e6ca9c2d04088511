"""Consent files and withdrawals: a withdrawn participant leaves no trace in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from beacon import participants
from beacon.consent import DEFAULT_DUO_VERSION, ConsentFile, parse_consent, parse_consent_file
from beacon.errors import InvalidRequest, NotFound
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import Consent
from beacon.storage import datasets, privacy
from beacon.storage.queries import RECORD_COLUMNS
from tests.beacon.privacy_data import SAMPLES, write_vcf

# --- the file format (pure) --------------------------------------------------------------------


def test_parse_consent_file() -> None:
    text = (
        "##fileformat=beacon-consent/1\n"
        "##duo=DUO:0000042\n"
        "##duo=duo:0000007\n"
        "##duo=DUO:0000042\n"
        "##duoVersion=2023-01-01\n"
        "#sample_id\tconsent\n"
        "\n"
        "P1\tall\n"
        "P2\tAGGREGATE\n"
        "P3\tnone\r\n"
    )
    got = parse_consent_file(text)
    assert got.samples == {"P1": Consent.ALL, "P2": Consent.AGGREGATE, "P3": Consent.NONE}
    assert got.duo_codes == ("DUO:0000042", "DUO:0000007")
    assert got.data_use_conditions() == {
        "duoDataUse": [
            {"id": "DUO:0000042", "label": "general research use", "version": "2023-01-01"},
            {"id": "DUO:0000007", "label": "disease specific research", "version": "2023-01-01"},
        ]
    }


def test_a_file_without_duo_leaves_conditions_alone() -> None:
    got = parse_consent_file("P1\tall\n")
    assert got.duo_version == DEFAULT_DUO_VERSION
    assert got.data_use_conditions() is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("P1\tmaybe\n", "line 1: consent must be"),
        ("P1 all\n", "line 1: expected"),
        ("P1\tall\textra\n", "line 1: expected"),
        ("P1\tall\nP1\tnone\n", "line 2: sample 'P1' repeated"),
        ("##duo=GRU\nP1\tall\n", "line 1: 'GRU' is not a DUO code"),
        ("##colour=blue\n", "line 1: unknown header"),
        ("##duo\n", "line 1: expected ##key=value"),
        ("##duoVersion=\nP1\tall\n", "empty duoVersion"),
        ("# only comments\n", "names no sample"),
        ("", "names no sample"),
    ],
)
def test_bad_consent_files_name_the_line(text: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest, match=fragment) as info:
        parse_consent_file(text)
    assert info.value.parameter == "file"


def test_parse_consent_value() -> None:
    assert parse_consent(" Aggregate ") is Consent.AGGREGATE
    with pytest.raises(InvalidRequest) as info:
        parse_consent("yes")
    assert info.value.parameter == "consent"


# --- withdrawal in the store --------------------------------------------------------------------

VISIBLE = [c for c in RECORD_COLUMNS if c != "dataset_id"]
COLUMNS = ", ".join(f'"{c}"' for c in VISIBLE)


async def _rows(db: asyncpg.Connection, dataset_id: str) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        f"SELECT {COLUMNS} FROM variant WHERE dataset_id = $1"
        " ORDER BY reference_name, start, alternate_bases",
        dataset_id,
    )
    return [tuple(r) for r in rows]


async def _counts(db: asyncpg.Connection, dataset_id: str) -> tuple[int, int, int]:
    ds = await datasets.get_dataset(db, dataset_id)
    assert ds is not None
    return ds.sample_count, ds.variant_count, ds.call_count


@pytest.fixture
async def loaded(database_url: str, tmp_path: Path) -> str:
    """Dataset ``w`` with every sample, ``x`` loaded without P3 (the reference answer)."""
    vcf = write_vcf(tmp_path / "cohort.vcf")
    await load_vcf(database_url, vcf, LoadOptions(dataset_id="w", assembly="GRCh38"))
    await load_vcf(
        database_url,
        vcf,
        LoadOptions(dataset_id="x", assembly="GRCh38", exclude_samples=("P3",)),
    )
    return database_url


async def test_withdrawal_equals_never_having_loaded_the_sample(
    loaded: str, db: asyncpg.Connection
) -> None:
    before = await _rows(db, "w")
    assert before != await _rows(db, "x")  # P3 mattered
    report = await participants.withdraw(db, "w", ["P3"])
    assert report.withdrawn == ("P3",)
    assert await _rows(db, "w") == await _rows(db, "x")
    assert await _counts(db, "w") == await _counts(db, "x")
    # The only carrier of 1:1000 was P3: the allele is gone.
    assert await db.fetchval("SELECT count(*) FROM variant WHERE dataset_id='w' AND start=999") == 0
    # The sample row stays, marked.
    stored = {s.sample_id: s for s in await privacy.sample_consents(db, "w")}
    assert stored["P3"].consent is Consent.NONE
    assert stored["P3"].removed
    assert await db.fetchval(
        "SELECT withdrawn_at IS NOT NULL FROM sample WHERE dataset_id='w' AND sample_id='P3'"
    )
    assert await privacy.withdrawn_samples(db, "w") == ("P3",)


async def test_withdrawing_twice_changes_nothing(loaded: str, db: asyncpg.Connection) -> None:
    await participants.withdraw(db, "w", ["P3", "P5"])
    after = await _rows(db, "w")
    again = await participants.withdraw(db, "w", ["P3"])
    assert again.withdrawn == ()
    assert await _rows(db, "w") == after


async def test_unknown_samples_change_nothing(loaded: str, db: asyncpg.Connection) -> None:
    before = await _rows(db, "w")
    with pytest.raises(NotFound) as info:
        await participants.withdraw(db, "w", ["P3", "NOBODY"])
    assert info.value.parameter == "samples"
    assert "NOBODY" in info.value.message
    assert await _rows(db, "w") == before
    assert await privacy.consent_records(db, "w") == {}
    with pytest.raises(NotFound) as info:
        await participants.withdraw(db, "nope", ["P3"])
    assert info.value.parameter == "dataset"
    with pytest.raises(InvalidRequest):
        await participants.withdraw(db, "w", [])


async def test_consent_file_records_scopes_withdraws_and_sets_duo(
    loaded: str, db: asyncpg.Connection
) -> None:
    file = ConsentFile(
        samples={"P1": Consent.AGGREGATE, "P3": Consent.NONE, "P2": Consent.ALL},
        duo_codes=("DUO:0000042",),
    )
    report = await participants.apply_consent(db, "w", file)
    assert report.withdrawn == ("P3",)
    assert report.changed == 2  # P2 was already 'all'
    assert report.data_use_updated
    assert await _rows(db, "w") == await _rows(db, "x")  # aggregate still counts
    stored = {s.sample_id: s.consent for s in await privacy.sample_consents(db, "w")}
    assert stored == {
        "P1": Consent.AGGREGATE,
        "P2": Consent.ALL,
        "P3": Consent.NONE,
        "P4": Consent.ALL,
        "P5": Consent.ALL,
        "P6": Consent.ALL,
    }
    ds = await datasets.get_dataset(db, "w")
    assert ds is not None
    assert ds.data_use_conditions["duoDataUse"][0]["id"] == "DUO:0000042"
    # A withdrawn participant cannot be brought back in place.
    with pytest.raises(InvalidRequest, match="withdrawn"):
        await participants.apply_consent(db, "w", ConsentFile(samples={"P3": Consent.ALL}))
    assert (await privacy.consent_records(db, "w"))["P3"] is Consent.NONE


async def test_a_reload_still_leaves_withdrawn_participants_out(
    loaded: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    await participants.withdraw(db, "w", ["P3"])
    vcf = write_vcf(tmp_path / "again.vcf")
    report = await load_vcf(loaded, vcf, LoadOptions(dataset_id="w", assembly="GRCh38"))
    assert report.samples == len(SAMPLES) - 1
    assert await _rows(db, "w") == await _rows(db, "x")
    ids = [s.sample_id for s in await privacy.sample_consents(db, "w")]
    assert "P3" not in ids
    # Even after the dataset is removed and loaded afresh.
    assert await datasets.remove_dataset(db, "w")
    await load_vcf(loaded, vcf, LoadOptions(dataset_id="w", assembly="GRCh38"))
    assert await _rows(db, "w") == await _rows(db, "x")
