"""Dataset listing, removal and exact sample removal against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from beacon.errors import NotFound
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import CountSource, SecurityLevel
from beacon.storage import datasets
from tests.beacon.test_ingest import write_vcf

RECORDS = [
    "1 100 . A C,G 50 PASS . GT 2|2 0|2 1|0 0|0",
    "1 200 . C T 50 PASS . GT 1/. 0/1 ./. 1/1",
    "X 300 . G GA 50 PASS . GT 1 0/1 1/1 0/.",
    "MT 50 . T C 50 PASS . GT 1 . 0 1",
    "1 400 . A T 50 PASS . GT 0/0 0/1 0/0 0/0",
]
SAMPLES = ("s0", "s1", "s2", "s3")
COMPARED = (
    "reference_name", "start", "alternate_bases", "allele_count", "allele_number", "carriers",
    "heterozygous", "homozygous", "hemizygous", "called_exception_counts", "carrier_dosage",
)  # fmt: skip


async def _rows(db: asyncpg.Connection, dataset_id: str) -> list[tuple[Any, ...]]:
    found = await db.fetch(
        "SELECT * FROM variant WHERE dataset_id = $1 ORDER BY reference_name, start, vcf_alt",
        dataset_id,
    )
    return [tuple(r[c] for c in COMPARED) for r in found]


@pytest.mark.parametrize("removed", [("s1",), ("s0", "s3"), ("s2",), ("s0", "s1", "s2")])
async def test_remove_samples_equals_loading_without_them(
    db: asyncpg.Connection, database_url: str, tmp_path: Path, removed: tuple[str, ...]
) -> None:
    vcf = write_vcf(tmp_path / "r.vcf", RECORDS, SAMPLES)
    await load_vcf(database_url, vcf, LoadOptions(dataset_id="full", assembly="GRCh37"))
    await load_vcf(
        database_url,
        vcf,
        LoadOptions(dataset_id="without", assembly="GRCh37", exclude_samples=removed),
    )
    assert await datasets.remove_samples(db, "full", list(removed)) == len(removed)
    assert await datasets.remove_samples(db, "full", list(removed)) == 0  # repeat: no change
    assert await _rows(db, "full") == await _rows(db, "without")
    full, without = (
        await datasets.get_dataset(db, "full"),
        await datasets.get_dataset(db, "without"),
    )
    assert full is not None
    assert without is not None
    assert (full.sample_count, full.variant_count, full.call_count) == (
        without.sample_count,
        without.variant_count,
        without.call_count,
    )


async def test_remove_samples_rejects_unknown_ids_without_changing_anything(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(tmp_path / "r.vcf", RECORDS, SAMPLES)
    await load_vcf(database_url, vcf, LoadOptions(dataset_id="ds", assembly="GRCh37"))
    before = await _rows(db, "ds")
    with pytest.raises(NotFound, match="nobody") as info:
        await datasets.remove_samples(db, "ds", ["s1", "nobody"])
    assert info.value.parameter == "samples"
    assert await _rows(db, "ds") == before
    with pytest.raises(NotFound):
        await datasets.remove_samples(db, "no-such-dataset", ["s1"])


async def test_list_get_and_remove(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    assert await datasets.list_datasets(db) == []
    vcf = write_vcf(tmp_path / "r.vcf", RECORDS, SAMPLES)
    sites = write_vcf(tmp_path / "s.vcf", ["1 100 . A G 50 PASS AC=3;AN=10"])
    await load_vcf(
        database_url,
        vcf,
        LoadOptions(
            dataset_id="b.cohort",
            assembly="hg38",
            name="Cohort B",
            description="four people",
            security_level=SecurityLevel.REGISTERED,
        ),
    )
    await load_vcf(database_url, sites, LoadOptions(dataset_id="a-sites", assembly="GRCh37"))
    listed = await datasets.list_datasets(db)
    assert [d.id for d in listed] == ["a-sites", "b.cohort"]
    b = await datasets.get_dataset(db, "b.cohort")
    assert b is not None
    assert (b.name, b.description, b.assembly) == ("Cohort B", "four people", "GRCh38")
    assert b.security_level is SecurityLevel.REGISTERED
    assert b.count_source is CountSource.GENOTYPES
    stored = await db.fetchval("SELECT count(*) FROM variant WHERE dataset_id = 'b.cohort'")
    carriers = await db.fetchval("SELECT sum(carriers) FROM variant WHERE dataset_id = 'b.cohort'")
    assert (b.sample_count, b.variant_count, b.call_count) == (4, stored, carriers)
    a = listed[0]
    assert (a.count_source, a.sample_count, a.variant_count, a.call_count) == (
        CountSource.INFO, 0, 1, 0,
    )  # fmt: skip
    assert await datasets.remove_dataset(db, "b.cohort") is True
    assert await datasets.remove_dataset(db, "b.cohort") is False
    assert await datasets.get_dataset(db, "b.cohort") is None
    assert await db.fetchval("SELECT count(*) FROM variant WHERE dataset_id = 'b.cohort'") == 0
    assert await db.fetchval("SELECT count(*) FROM sample WHERE dataset_id = 'b.cohort'") == 0
