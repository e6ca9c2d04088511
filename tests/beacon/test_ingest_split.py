"""An uncompressed VCF cut into byte ranges reads and loads exactly as the whole file."""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import shutil
from pathlib import Path

import asyncpg

from beacon.ingest import LoadOptions, load_vcf
from beacon.ingest.loader import PARALLEL_MIN_BYTES, reader_plans
from beacon.ingest.reader import ParsePlan, read_batches, read_header
from beacon.ingest.split import split_plain_vcf
from beacon.model import CountSource
from beacon.synthetic import write_vcf


def _plan(path: Path) -> ParsePlan:
    header = read_header(str(path))
    return ParsePlan(
        path=str(path),
        dataset_id="ds",
        assembly="GRCh38",
        samples=None,
        sample_index={s: i for i, s in enumerate(header.samples)},
        count_source=header.count_source(len(header.samples)),
        pass_only=False,
        strict=False,
    )


def _read_all(plan: ParsePlan) -> tuple[bytes, int, int, dict[str, int]]:
    header = read_header(plan.path)
    data: list[bytes] = []
    stored = records = 0
    skipped: dict[str, int] = {}
    for batch in read_batches(plan, header):
        data.append(batch.data)
        stored += batch.stored
        records += batch.records
        for reason, n in batch.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + n
    return b"".join(data), stored, records, skipped


def test_ranges_cover_the_records_in_whole_lines(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf", sites=3000, samples=20, seed=3)
    raw = path.read_bytes()
    ranges = split_plain_vcf(str(path), 3, min_part_bytes=1000)
    assert len(ranges) == 3
    header_end = raw.index(b"\n", raw.index(b"\n#CHROM") + 1) + 1
    assert ranges[0].start == header_end
    assert ranges[-1].end == len(raw)
    for left, right in itertools.pairwise(ranges):
        assert left.end == right.start
        assert raw[right.start - 1 : right.start] == b"\n"
    assert {r.header_end for r in ranges} == {header_end}


def test_files_that_are_not_cut(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "a.vcf", sites=500, samples=4, seed=3)
    assert split_plain_vcf(str(path), 2, min_part_bytes=10**9) == ()
    assert split_plain_vcf(str(path), 1, min_part_bytes=1) == ()
    gz = tmp_path / "a.vcf.gz"
    with path.open("rb") as src, gzip.open(gz, "wb") as out:
        shutil.copyfileobj(src, out)
    assert split_plain_vcf(str(gz), 2, min_part_bytes=1) == ()
    huge_header = tmp_path / "h.vcf"
    text = path.read_text()
    filler = "".join(f"##comment=line {i} {'x' * 100}\n" for i in range(12_000))
    huge_header.write_text(text.replace("##source", filler + "##source", 1))
    assert split_plain_vcf(str(huge_header), 2, min_part_bytes=1) == ()


def test_parts_read_the_same_rows_as_the_whole_file(tmp_path: Path) -> None:
    for samples in (30, 0):
        path = write_vcf(tmp_path / f"s{samples}.vcf", sites=4000, samples=samples, seed=5)
        plan = _plan(path)
        assert plan.count_source is (CountSource.GENOTYPES if samples else CountSource.INFO)
        whole = _read_all(plan)
        parts = [
            _read_all(dataclasses.replace(plan, byte_range=r))
            for r in split_plain_vcf(str(path), 3, min_part_bytes=1000)
        ]
        assert len(parts) == 3
        assert b"".join(p[0] for p in parts) == whole[0]
        assert sum(p[1] for p in parts) == whole[1] > 0
        assert sum(p[2] for p in parts) == whole[2] == 4000
        merged: dict[str, int] = {}
        for p in parts:
            for reason, n in p[3].items():
                merged[reason] = merged.get(reason, 0) + n
        assert merged == whole[3]


async def test_a_cut_load_equals_an_uncut_load(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    plain = write_vcf(tmp_path / "big.vcf", sites=12_000, samples=100, seed=9)
    assert plain.stat().st_size >= PARALLEL_MIN_BYTES
    assert len(reader_plans(_plan(plain), plain.stat().st_size, strict=False)) > 1
    gz = tmp_path / "big.vcf.gz"
    with plain.open("rb") as src, gzip.open(gz, "wb") as out:
        shutil.copyfileobj(src, out)
    cut = await load_vcf(database_url, plain, LoadOptions(dataset_id="cut", assembly="GRCh38"))
    whole = await load_vcf(database_url, gz, LoadOptions(dataset_id="whole", assembly="GRCh38"))
    assert (cut.records_read, cut.alleles_stored, cut.skipped) == (
        whole.records_read,
        whole.alleles_stored,
        whole.skipped,
    )
    assert cut.records_read == 12_000
    sql = (
        'SELECT array_agg(row(reference_name, start, "end", reference_bases, alternate_bases,'
        " variant_type, vcf_start, vcf_ref, vcf_alt, variant_id, allele_count, allele_number,"
        " carriers, heterozygous, homozygous, hemizygous, ploidy, carrier_samples,"
        " carrier_dosage, called_exceptions, called_exception_counts, gene_ids, filter_pass)::text"
        " ORDER BY reference_name, start, vcf_alt) FROM variant WHERE dataset_id = $1"
    )
    assert await db.fetchval(sql, "cut") == await db.fetchval(sql, "whole")
    counts = "SELECT sample_count, variant_count, call_count FROM dataset WHERE id = $1"
    cut_counts, whole_counts = await db.fetchrow(counts, "cut"), await db.fetchrow(counts, "whole")
    assert cut_counts is not None
    assert cut_counts == whole_counts
