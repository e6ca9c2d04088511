"""A VCF cut into ranges (uncompressed: byte ranges; BGZF: between virtual offsets) reads
and loads exactly as the whole file; damage found while reading a range is a clear error."""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import os
import shutil
import zlib
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from beacon.errors import LoadError
from beacon.ingest import LoadOptions, LoadReport, load_vcf, loader
from beacon.ingest.loader import PARALLEL_MIN_BYTES, reader_plans
from beacon.ingest.reader import ParsePlan, read_batches, read_header
from beacon.ingest.split import (
    BgzfRange,
    FileRange,
    RangeFeed,
    split_bgzf_bcf,
    split_bgzf_vcf,
    split_plain_vcf,
)
from beacon.model import CountSource
from beacon.synthetic import write_bgzf, write_vcf
from tests.beacon.vcfcopy import htslib_copy


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


def _assert_parts_make_the_whole(
    parts: list[tuple[bytes, int, int, dict[str, int]]],
    whole: tuple[bytes, int, int, dict[str, int]],
    *,
    records: int,
) -> None:
    """The parts' rows, in order, are the whole file's; so are their counts and skips."""
    assert b"".join(p[0] for p in parts) == whole[0]
    assert sum(p[1] for p in parts) == whole[1] > 0
    assert sum(p[2] for p in parts) == whole[2] == records
    merged: dict[str, int] = {}
    for p in parts:
        for reason, n in p[3].items():
            merged[reason] = merged.get(reason, 0) + n
    assert merged == whole[3]


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
        _assert_parts_make_the_whole(parts, whole, records=4000)


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
    await _assert_same_load(db, cut, whole, records=12_000)


async def _assert_same_load(
    db: asyncpg.Connection, cut: LoadReport, whole: LoadReport, *, records: int
) -> None:
    """Datasets "cut" and "whole" were loaded alike: the same report and the same rows."""
    assert (cut.records_read, cut.alleles_stored, cut.skipped) == (
        whole.records_read,
        whole.alleles_stored,
        whole.skipped,
    )
    assert cut.records_read == records
    assert await _stored(db, "cut") == await _stored(db, "whole")


async def _stored(db: asyncpg.Connection, dataset: str) -> tuple[Any, ...]:
    """Every stored row of ``dataset`` (as text, in order) and its counts."""
    sql = (
        'SELECT array_agg(row(reference_name, start, "end", reference_bases, alternate_bases,'
        " variant_type, vcf_start, vcf_ref, vcf_alt, variant_id, allele_count, allele_number,"
        " carriers, heterozygous, homozygous, hemizygous, ploidy, carrier_samples,"
        " carrier_dosage, called_exceptions, called_exception_counts, gene_ids, filter_pass)::text"
        " ORDER BY reference_name, start, vcf_alt) FROM variant WHERE dataset_id = $1"
    )
    counts = "SELECT sample_count, variant_count, call_count FROM dataset WHERE id = $1"
    rows, dataset_counts = await db.fetchval(sql, dataset), await db.fetchrow(counts, dataset)
    assert rows
    assert dataset_counts is not None
    return rows, tuple(dataset_counts)


# BGZF


def _blocks(path: Path) -> list[tuple[int, bytes]]:
    """(file offset, uncompressed data) of every BGZF block of ``path`` (bgzip's layout)."""
    raw = path.read_bytes()
    blocks, offset = [], 0
    while offset < len(raw):
        assert raw[offset : offset + 4] == b"\x1f\x8b\x08\x04"
        assert raw[offset + 12 : offset + 16] == b"BC\x02\x00"
        size = int.from_bytes(raw[offset + 16 : offset + 18], "little") + 1
        blocks.append((offset, zlib.decompress(raw[offset : offset + size], wbits=31)))
        offset += size
    return blocks


def _fed(path: Path, part: FileRange) -> bytes:
    """Everything a reader of ``part`` gets through its pipe."""
    feed = RangeFeed(str(path), part)
    try:
        fd = feed.start()
        out = []
        while data := os.read(fd, 1 << 16):
            out.append(data)
    finally:
        feed.close()
    feed.check()
    return b"".join(out)


def _assert_partition(path: Path, text: bytes, ranges: tuple[BgzfRange, ...]) -> None:
    """The ranges of ``path`` (BGZF of ``text``) deliver its header and then every record
    line exactly once, in order, each range whole lines; each cut is the first line start
    at or after the start of a block's data."""
    header_end = text.index(b"\n", text.index(b"\n#CHROM") + 1) + 1
    assert {r.header_end for r in ranges} == {header_end}
    fed = [_fed(path, r) for r in ranges]
    assert all(f[:header_end] == text[:header_end] for f in fed)
    records = [f[header_end:] for f in fed]
    assert all(r.endswith(b"\n") for r in records)
    assert b"".join(records) == text[header_end:]
    blocks = _blocks(path)
    offsets = [offset for offset, _ in blocks]
    assert blocks[-1][1] == b""
    assert ranges[-1].end == offsets[-1] << 16  # just before the EOF block
    for left, right in itertools.pairwise(ranges):
        assert left.end == right.start
        c, at = offsets.index(right.start >> 16), right.start & 0xFFFF
        data = blocks[c][1]
        before = b"".join(d for _, d in blocks[:c])
        if at == 0:
            assert before.endswith(b"\n")
        else:
            assert not before.endswith(b"\n")
            assert data[:at].endswith(b"\n")
            assert data[: at - 1].count(b"\n") == 0


def test_bgzf_ranges_cover_the_records_in_whole_lines(tmp_path: Path) -> None:
    plain = write_vcf(tmp_path / "a.vcf", sites=3000, samples=20, seed=3)
    text = plain.read_bytes()
    gz = write_bgzf(plain, tmp_path / "a.vcf.gz", block_size=1000)  # lines cross blocks
    assert gzip.decompress(gz.read_bytes()) == text
    with pytest.raises(ValueError, match="block_size"):
        write_bgzf(plain, tmp_path / "x.vcf.gz", block_size=65281)  # might not fit 64 KiB
    ranges = split_bgzf_vcf(str(gz), 4, min_part_bytes=1000)
    assert len(ranges) == 4
    assert any(r.start & 0xFFFF for r in ranges[1:])  # a cut block that starts mid-line
    _assert_partition(gz, text, ranges)
    # Large blocks: fewer, larger parts, the same records.
    big = write_bgzf(plain, tmp_path / "b.vcf.gz")
    ranges = split_bgzf_vcf(str(big), 3, min_part_bytes=1000)
    assert len(ranges) == 3
    _assert_partition(big, text, ranges)


def test_bgzf_cuts_at_blocks_that_start_a_line(tmp_path: Path) -> None:
    record = "1\t{:09d}\t.\tA\tC\t50\tPASS\tAC=1;AN=2\n"
    line = len(record.format(1))
    header = "##fileformat=VCFv4.2\n##contig=<ID=1,length=250000000>\n"
    header += '##INFO=<ID=AC,Number=A,Type=Integer,Description="AC">\n'
    header += '##INFO=<ID=AN,Number=1,Type=Integer,Description="AN">\n'
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    pad = -(len(header) + len(columns) + len("##comment=\n")) % line
    header += "##comment=" + "x" * pad + "\n" + columns
    assert len(header) % line == 0
    plain = tmp_path / "aligned.vcf"
    plain.write_text(header + "".join(record.format(100 + i) for i in range(2000)))
    # Blocks of whole lines, the header filling the first.
    gz = write_bgzf(plain, tmp_path / "aligned.vcf.gz", block_size=len(header))
    ranges = split_bgzf_vcf(str(gz), 3, min_part_bytes=1000)
    assert len(ranges) == 3
    assert [r.start & 0xFFFF for r in ranges] == [0, 0, 0]  # every block ends a line
    _assert_partition(gz, plain.read_bytes(), ranges)
    # htslib's own BGZF writer also ends its blocks at line ends.
    source = write_vcf(tmp_path / "h.vcf", sites=3000, samples=20, seed=4)
    htslib_copy(source, tmp_path / "h.vcf.gz", "wz")
    text = gzip.decompress((tmp_path / "h.vcf.gz").read_bytes())
    ranges = split_bgzf_vcf(str(tmp_path / "h.vcf.gz"), 3, min_part_bytes=1000)
    assert len(ranges) == 3
    _assert_partition(tmp_path / "h.vcf.gz", text, ranges)


def test_bgzf_parts_read_the_same_rows_as_the_whole_file(tmp_path: Path) -> None:
    for samples in (30, 0):
        plain = write_vcf(tmp_path / f"s{samples}.vcf", sites=4000, samples=samples, seed=5)
        gz = write_bgzf(plain, tmp_path / f"s{samples}.vcf.gz", block_size=4000)
        whole = _read_all(_plan(plain))
        assert _read_all(_plan(gz)) == whole
        plan = _plan(gz)
        ranges = split_bgzf_vcf(str(gz), 3, min_part_bytes=1000)
        assert len(ranges) == 3
        parts = [_read_all(dataclasses.replace(plan, byte_range=r)) for r in ranges]
        assert all(p[2] > 0 for p in parts)
        _assert_parts_make_the_whole(parts, whole, records=4000)


def test_files_that_are_not_cut_by_bgzf_blocks(tmp_path: Path) -> None:
    plain = write_vcf(tmp_path / "a.vcf", sites=2000, samples=4, seed=3)
    gz = write_bgzf(plain, tmp_path / "a.vcf.gz", block_size=1000)
    assert len(split_bgzf_vcf(str(gz), 2, min_part_bytes=1000)) == 2
    assert split_bgzf_vcf(str(gz), 2, min_part_bytes=10**9) == ()  # too small to be worth it
    assert split_bgzf_vcf(str(gz), 1, min_part_bytes=1) == ()
    assert split_plain_vcf(str(gz), 2, min_part_bytes=1) == ()
    assert split_bgzf_vcf(str(plain), 2, min_part_bytes=1) == ()
    plain_gz = tmp_path / "plain.vcf.gz"
    plain_gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert split_bgzf_vcf(str(plain_gz), 2, min_part_bytes=1) == ()
    bcf = htslib_copy(plain, tmp_path / "a.bcf", "wb")
    assert bcf.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # BGZF, holding BCF
    assert split_bgzf_vcf(str(bcf), 2, min_part_bytes=1) == ()
    truncated = tmp_path / "t.vcf.gz"
    truncated.write_bytes(gz.read_bytes()[:-40])  # ends inside its last data block
    assert split_bgzf_vcf(str(truncated), 2, min_part_bytes=1) == ()
    huge_header = tmp_path / "h.vcf"
    filler = "".join(f"##comment=line {i} {'x' * 100}\n" for i in range(12_000))
    huge_header.write_text(plain.read_text().replace("##source", filler + "##source", 1))
    huge_gz = write_bgzf(huge_header, tmp_path / "h.vcf.gz", block_size=1000)
    assert split_bgzf_vcf(str(huge_gz), 2, min_part_bytes=1) == ()


def _damage(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def test_a_damaged_bgzf_range_fails_clearly(tmp_path: Path) -> None:
    plain = write_vcf(tmp_path / "a.vcf", sites=3000, samples=20, seed=6)
    gz = write_bgzf(plain, tmp_path / "a.vcf.gz", block_size=1000)
    good = gz.read_bytes()
    plan = _plan(gz)
    ranges = split_bgzf_vcf(str(gz), 3, min_part_bytes=1000)
    assert len(ranges) == 3
    middle = dataclasses.replace(plan, byte_range=ranges[1])
    inside = [o for o, _ in _blocks(gz) if ranges[1].start >> 16 < o < ranges[1].end >> 16]
    assert len(inside) > 100  # 1,000 bytes each: the last ones go in after the first 64 KiB
    # Found as the first records go in with the header (the parser not started yet), and
    # found by the feeding thread while the parser reads (it then fails on a cut line; the
    # feed's error is the one raised).
    for block in (inside[1], inside[-3]):
        gz.write_bytes(good)
        # A flipped byte in a block's deflate data: its CRC32 (or the data) no longer checks.
        _damage(gz, block + 30, bytes([good[block + 30] ^ 0xFF]))
        assert _read_all(dataclasses.replace(plan, byte_range=ranges[0]))[2] > 0  # untouched
        with pytest.raises(LoadError, match=rf"a\.vcf\.gz: corrupt BGZF block at byte {block}\b"):
            _read_all(middle)
        # A damaged block header.
        gz.write_bytes(good)
        _damage(gz, block, b"\x00\x00")
        with pytest.raises(LoadError, match=rf"no BGZF block at byte {block}\b"):
            _read_all(middle)
        # The file shorter than planned.
        gz.write_bytes(good[: block + 500])
        with pytest.raises(LoadError, match=rf"ended at byte {block + 500} while being read"):
            _read_all(middle)
        with pytest.raises(LoadError, match="ended at byte"):
            _read_all(dataclasses.replace(plan, byte_range=ranges[2]))


def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut files of a test's size (the real thresholds are for files of megabytes)."""
    monkeypatch.setattr(loader, "PARALLEL_MIN_BYTES", 64 * 1024)
    monkeypatch.setattr(loader, "MIN_PART_BYTES", 16 * 1024)


@pytest.mark.parametrize("packed", ["bgzf", "bcf"])
async def test_a_cut_compressed_load_equals_an_uncut_load(
    db: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    packed: str,
) -> None:
    plain = write_vcf(tmp_path / "big.vcf", sites=6000, samples=60, seed=9)
    assert plain.stat().st_size < PARALLEL_MIN_BYTES  # read whole, in-process
    whole = await load_vcf(database_url, plain, LoadOptions(dataset_id="whole", assembly="GRCh38"))
    if packed == "bgzf":
        path = write_bgzf(plain, tmp_path / "big.vcf.gz")
    else:
        path = htslib_copy(plain, tmp_path / "big.bcf", "wb")
    _small_parts(monkeypatch)
    plans = reader_plans(_plan(path), path.stat().st_size, strict=False)
    assert len(plans) > 1
    assert all(isinstance(p.byte_range, BgzfRange) for p in plans)
    assert reader_plans(_plan(path), path.stat().st_size, strict=True) == [_plan(path)]
    cut = await load_vcf(database_url, path, LoadOptions(dataset_id="cut", assembly="GRCh38"))
    await _assert_same_load(db, cut, whole, records=6000)


# BCF


def _bcf(tmp_path: Path, name: str, *, samples: int, block_size: int | None = None) -> Path:
    """A BCF of a synthetic VCF, as htslib writes it, or re-blocked into ``block_size``-byte
    BGZF blocks (records then cross block boundaries)."""
    plain = write_vcf(tmp_path / f"{name}.vcf", sites=4000, samples=samples, seed=6)
    bcf = htslib_copy(plain, tmp_path / f"{name}.bcf", "wb")
    if block_size is None:
        return bcf
    raw = tmp_path / f"{name}.ubcf"
    raw.write_bytes(gzip.decompress(bcf.read_bytes()))
    return write_bgzf(raw, tmp_path / f"{name}.small.bcf", block_size=block_size)


def _record_starts(raw: bytes) -> tuple[int, set[int]]:
    """The header's length and every record's start in an uncompressed BCF (walked here,
    independently of the code under test)."""
    assert raw[:4] == b"BCF\x02"
    header_end = 9 + int.from_bytes(raw[5:9], "little")
    starts, at = set(), header_end
    while at < len(raw):
        starts.add(at)
        shared = int.from_bytes(raw[at : at + 4], "little")
        indiv = int.from_bytes(raw[at + 4 : at + 8], "little")
        at += 8 + shared + indiv
    assert at == len(raw)
    return header_end, starts


def test_bcf_ranges_hold_every_record_once_in_whole_records(tmp_path: Path) -> None:
    for block_size in (None, 1000):
        bcf = _bcf(tmp_path, f"r{block_size}", samples=20, block_size=block_size)
        raw = gzip.decompress(bcf.read_bytes())
        header_end, starts = _record_starts(raw)
        ranges = split_bgzf_bcf(str(bcf), 3, min_part_bytes=1000)
        assert len(ranges) == 3, block_size
        assert {r.header_end for r in ranges} == {header_end}
        fed = [_fed(bcf, r) for r in ranges]
        assert all(f[:header_end] == raw[:header_end] for f in fed)
        records = [f[header_end:] for f in fed]
        assert b"".join(records) == raw[header_end:]
        cut = header_end
        for part in records[:-1]:
            cut += len(part)
            assert cut in starts  # every cut is a record start
        for left, right in itertools.pairwise(ranges):
            assert left.end == right.start


def test_bcf_parts_read_the_same_rows_as_the_whole_file(tmp_path: Path) -> None:
    for samples, block_size in ((30, None), (30, 1000), (0, 700)):
        bcf = _bcf(tmp_path, f"p{samples}{block_size}", samples=samples, block_size=block_size)
        plain = tmp_path / f"p{samples}{block_size}.vcf"
        whole = _read_all(_plan(plain))
        assert _read_all(_plan(bcf)) == whole
        ranges = split_bgzf_bcf(str(bcf), 3, min_part_bytes=500)
        assert len(ranges) >= 2
        plan = _plan(bcf)
        parts = [_read_all(dataclasses.replace(plan, byte_range=r)) for r in ranges]
        assert all(p[2] > 0 for p in parts)
        _assert_parts_make_the_whole(parts, whole, records=4000)


def test_files_that_are_not_cut_as_bcf(tmp_path: Path) -> None:
    bcf = _bcf(tmp_path, "n", samples=4, block_size=1000)
    assert len(split_bgzf_bcf(str(bcf), 2, min_part_bytes=1000)) == 2
    assert split_bgzf_bcf(str(bcf), 2, min_part_bytes=10**9) == ()  # too small to be worth it
    assert split_bgzf_bcf(str(bcf), 1, min_part_bytes=1) == ()
    assert split_bgzf_vcf(str(bcf), 2, min_part_bytes=1) == ()
    plain = tmp_path / "n.vcf"
    assert split_bgzf_bcf(str(plain), 2, min_part_bytes=1) == ()
    gz = write_bgzf(plain, tmp_path / "n.vcf.gz", block_size=1000)
    assert split_bgzf_bcf(str(gz), 2, min_part_bytes=1) == ()
    truncated = tmp_path / "t.bcf"
    truncated.write_bytes(bcf.read_bytes()[:-40])  # ends inside its last data block
    assert split_bgzf_bcf(str(truncated), 2, min_part_bytes=1) == ()
    # A record whose length leads past the end of the file: not cut (its reader reports it).
    raw = bytearray(gzip.decompress(bcf.read_bytes()))
    header_end, _ = _record_starts(bytes(raw))
    raw[header_end : header_end + 4] = (10**9).to_bytes(4, "little")
    (tmp_path / "bad.ubcf").write_bytes(bytes(raw))
    bad = write_bgzf(tmp_path / "bad.ubcf", tmp_path / "bad.bcf", block_size=1000)
    assert split_bgzf_bcf(str(bad), 2, min_part_bytes=1) == ()


async def test_a_bgzf_load_damaged_after_planning_changes_nothing(
    db: asyncpg.Connection, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = write_vcf(tmp_path / "big.vcf", sites=6000, samples=60, seed=9)
    gz = write_bgzf(plain, tmp_path / "big.vcf.gz")
    _small_parts(monkeypatch)
    plan_readers = loader.reader_plans
    damaged: list[int] = []

    def plan_then_damage(plan: ParsePlan, size_bytes: int, strict: bool) -> list[ParsePlan]:
        plans = plan_readers(plan, size_bytes, strict)
        last = plans[-1].byte_range
        assert len(plans) > 1
        assert isinstance(last, BgzfRange)
        block = next(o for o, _ in _blocks(gz) if o > last.start >> 16)
        _damage(gz, block + 30, bytes([gz.read_bytes()[block + 30] ^ 0xFF]))
        damaged.append(block)
        return plans

    monkeypatch.setattr(loader, "reader_plans", plan_then_damage)
    with pytest.raises(LoadError, match="corrupt BGZF block at byte"):
        await load_vcf(database_url, gz, LoadOptions(dataset_id="bad", assembly="GRCh38"))
    assert damaged
    assert await db.fetchval("SELECT count(*) FROM dataset WHERE id = 'bad'") == 0
    assert await db.fetchval("SELECT count(*) FROM variant WHERE dataset_id = 'bad'") == 0
