"""A compressed VCF or a BCF damaged part way, read whole (in-process, or by one reader
process), fails with a :class:`LoadError` naming the file and the last record read; the
store is unchanged; ``beacon load`` reports it in one line and exits non-zero."""

from __future__ import annotations

import gzip
import os
import queue
import re
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import cyvcf2
import pytest

from beacon.errors import LoadError
from beacon.ingest import LoadOptions, SkipReason, load_vcf, loader, worker
from beacon.ingest.reader import Batch, FileHeader, ParsePlan, read_header
from beacon.synthetic import write_bgzf, write_vcf
from tests.beacon.vcfcopy import htslib_copy

SITES = 3000
_WHERE = re.compile(r": unreadable after record (\d+) \((\w+):(\d+)\): ")


def _blocks(path: Path) -> list[int]:
    """File offsets of the BGZF blocks of ``path`` (their BSIZE fields walked)."""
    data = path.read_bytes()
    offsets, at = [], 0
    while at < len(data):
        offsets.append(at)
        at += struct.unpack_from("<H", data, at + 16)[0] + 1
    return offsets


def _flip(path: Path, offset: int, n: int = 4) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


def _compressed(kind: str, plain: Path, dst: Path) -> Path:
    if kind == "gzip":  # one gzip member: never cut into ranges
        dst.write_bytes(gzip.compress(plain.read_bytes()))
        return dst
    if kind == "bgzf":
        return write_bgzf(plain, dst, block_size=1000)
    return htslib_copy(plain, dst, "wb")


def _damage(path: Path, kind: str, how: str) -> None:
    """Flip bytes inside compressed data past the middle of ``path``, or cut it there."""
    size = path.stat().st_size
    if kind == "bgzf":  # a data block past the middle: the blocks before it read fine
        block = next(o for o in _blocks(path) if o > size // 2)
        offset = block + 30
    else:
        offset = size // 2
    if how == "flip":
        _flip(path, offset)
    else:
        _truncate(path, offset)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vcf(tmp_path_factory.mktemp("damaged") / "a.vcf", sites=SITES, samples=8, seed=3)


@pytest.fixture(scope="module")
def positions(plain: Path) -> list[tuple[str, int]]:
    """(CHROM, POS) of each record of the undamaged file, in file order."""
    reader = cyvcf2.VCF(str(plain))
    try:
        return [(v.CHROM, v.POS) for v in reader]
    finally:
        reader.close()


def _check_where(message: str, path: Path, positions: list[tuple[str, int]]) -> None:
    """``message`` names ``path`` and a record read before the damage, by its number and
    its position (as in the undamaged file)."""
    assert message.startswith(f"{path}: unreadable after record "), message
    found = _WHERE.search(message)
    assert found is not None, message
    n = int(found[1])
    assert 0 < n < len(positions)
    assert (found[2], int(found[3])) == positions[n - 1]


async def _snapshot(db: asyncpg.Connection, dataset_id: str) -> tuple[Any, ...]:
    rows = await db.fetchval(
        "SELECT count(*)::text || md5(string_agg(v::text, '|' ORDER BY v::text)) FROM variant v"
        " WHERE dataset_id = $1",
        dataset_id,
    )
    dataset = await db.fetchrow(
        "SELECT name, sample_count, variant_count, call_count, updated_at FROM dataset"
        " WHERE id = $1",
        dataset_id,
    )
    samples = await db.fetchval("SELECT count(*) FROM sample WHERE dataset_id = $1", dataset_id)
    tables = await db.fetchval("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'variant_%'")
    return rows, tuple(dataset or ()), samples, tables


async def _absent(db: asyncpg.Connection, dataset_id: str) -> bool:
    return not await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM dataset WHERE id = $1)"
        " OR EXISTS (SELECT 1 FROM variant WHERE dataset_id = $1)",
        dataset_id,
    )


def _opts(dataset_id: str, **kw: Any) -> LoadOptions:
    return LoadOptions(dataset_id=dataset_id, assembly="GRCh38", **kw)


@pytest.mark.parametrize(
    ("kind", "how"),
    [("gzip", "flip"), ("gzip", "cut"), ("bgzf", "flip"), ("bgzf", "cut"), ("bcf", "cut")],
)
async def test_a_damaged_file_read_in_process_fails_clearly_and_changes_nothing(
    db: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
    plain: Path,
    positions: list[tuple[str, int]],
    kind: str,
    how: str,
) -> None:
    path = _compressed(kind, plain, tmp_path / f"damaged.{kind}")
    assert path.stat().st_size < loader.PARALLEL_MIN_BYTES  # parsed in-process
    report = await load_vcf(database_url, path, _opts("ds", name="good"))
    assert report.records_read == SITES
    before = await _snapshot(db, "ds")
    _damage(path, kind, how)
    for options in (_opts("ds", name="bad"), _opts("new")):
        with pytest.raises(LoadError) as caught:
            await load_vcf(database_url, path, options)
        _check_where(str(caught.value), path, positions)
    # Under --strict a garbled record the damage let through may be the error reported.
    with pytest.raises(LoadError, match=rf"^{re.escape(str(path))}: (unreadable after )?record"):
        await load_vcf(database_url, path, _opts("ds", strict=True))
    assert await _snapshot(db, "ds") == before
    assert await _absent(db, "new")


async def test_a_malformed_line_fails_with_its_neighbour_named(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "m.vcf"
    path.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "1\t100\t.\tA\tC\t.\tPASS\t.\n1\tabc\t.\tA\tC\t.\tPASS\t.\n"
    )
    with pytest.raises(LoadError, match=r"m\.vcf: unreadable after record 1 \(1:100\): "):
        await load_vcf(database_url, path, _opts("m"))
    assert await _absent(db, "m")


async def test_a_record_without_genotypes_is_malformed(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "g.vcf"
    path.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\n"
        "1\t100\t.\tA\tC\t.\tPASS\t.\tDP\t7\n1\t200\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n"
    )
    report = await load_vcf(database_url, path, _opts("g"))
    assert report.skipped == {SkipReason.MALFORMED: 1}
    assert report.alleles_stored == 1
    with pytest.raises(LoadError, match=r"g\.vcf: record 1 \(1:100\): malformed \(--strict\)"):
        await load_vcf(database_url, path, _opts("g", strict=True))
    assert await db.fetchval("SELECT count(*) FROM variant WHERE dataset_id = 'g'") == 1


@pytest.fixture
def one_reader_process(monkeypatch: pytest.MonkeyPatch) -> list[list[ParsePlan]]:
    """Files of a test's size go to reader processes; returns the plans of each load."""
    monkeypatch.setattr(loader, "PARALLEL_MIN_BYTES", 1024)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    used: list[list[ParsePlan]] = []
    from_readers = loader._batches_from_readers

    def spy(plans: list[ParsePlan], header: FileHeader) -> AsyncIterator[Batch]:
        used.append(plans)
        return from_readers(plans, header)

    monkeypatch.setattr(loader, "_batches_from_readers", spy)
    return used


@pytest.mark.parametrize(
    ("kind", "how", "strict"),
    [("gzip", "flip", False), ("bgzf", "flip", True), ("bcf", "cut", False)],
)
async def test_a_damaged_file_read_by_one_reader_process_fails_clearly(
    db: asyncpg.Connection,
    database_url: str,
    tmp_path: Path,
    plain: Path,
    positions: list[tuple[str, int]],
    one_reader_process: list[list[ParsePlan]],
    kind: str,
    how: str,
    strict: bool,
) -> None:
    path = _compressed(kind, plain, tmp_path / f"damaged.{kind}")
    await load_vcf(database_url, path, _opts("ds", strict=strict))
    before = await _snapshot(db, "ds")
    _damage(path, kind, how)
    for dataset_id in ("ds", "new"):
        with pytest.raises(LoadError) as caught:
            await load_vcf(database_url, path, _opts(dataset_id, strict=strict))
        _check_where(str(caught.value), path, positions)
    # Each load (the good one too) had the whole file parsed by one reader process.
    assert len(one_reader_process) == 3
    assert all(len(p) == 1 and p[0].byte_range is None for p in one_reader_process)
    assert await _snapshot(db, "ds") == before
    assert await _absent(db, "new")


def _beacon_load(
    path: Path, dataset_id: str, database_url: str, *extra: str, parallel_min_bytes: int = 0
) -> Any:
    """``beacon load`` in a process of its own (with ``parallel_min_bytes``, when given, for
    :data:`loader.PARALLEL_MIN_BYTES`)."""
    setup = f"loader.PARALLEL_MIN_BYTES = {parallel_min_bytes}; " if parallel_min_bytes else ""
    code = (
        "import sys; from beacon.ingest import loader; from beacon.cli import main; "
        f"{setup}sys.exit(main())"
    )
    env = {**os.environ, "BEACON_DATABASE_URL": database_url, "BEACON_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-c", code, "load", str(path), "--dataset", dataset_id,
               "--assembly", "GRCh38", *extra]  # fmt: skip
    return subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=120
    )


async def test_beacon_load_of_a_damaged_file_exits_with_one_clear_line(
    db: asyncpg.Connection, database_url: str, tmp_path: Path, plain: Path
) -> None:
    path = _compressed("gzip", plain, tmp_path / "damaged.vcf.gz")
    good = _beacon_load(path, "ds", database_url)
    assert good.returncode == 0, good.stderr
    before = await _snapshot(db, "ds")
    _damage(path, "gzip", "flip")
    runs = [
        _beacon_load(path, "ds", database_url, "--replace"),  # in-process
        _beacon_load(path, "new", database_url, parallel_min_bytes=1024),  # a reader process
    ]
    for run in runs:
        assert run.returncode == 1, run.stderr
        assert f"beacon: {path}: unreadable after record " in run.stderr
        assert "Traceback" not in run.stderr
        assert "stopped unexpectedly" not in run.stderr
        assert run.stdout == ""
    assert await _snapshot(db, "ds") == before
    assert await _absent(db, "new")


def test_a_reader_process_reports_an_unexpected_error(
    tmp_path: Path, plain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(plan: ParsePlan, header: FileHeader) -> Iterator[Batch]:
        yield Batch()
        raise RuntimeError("a bug")

    monkeypatch.setattr(worker, "read_batches", broken)
    header = read_header(str(plain))
    plan = ParsePlan(
        path=str(plain),
        dataset_id="ds",
        assembly="GRCh38",
        samples=None,
        sample_index={},
        count_source=header.count_source(0),
        pass_only=False,
        strict=False,
    )
    out: queue.Queue[tuple[str, Any]] = queue.Queue()
    worker.reader_main(plan, header, out, os.getppid())
    assert out.get_nowait() == ("batch", Batch())
    assert out.get_nowait() == ("error", f"{plain}: the VCF reader failed: RuntimeError: a bug")
    assert out.empty()
