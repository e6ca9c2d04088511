"""``load_vcf``: one VCF into one dataset, in one transaction.

The file is parsed (by :mod:`beacon.ingest.reader`) while the rows already parsed are sent
to PostgreSQL by binary COPY; large files are parsed in reader processes so that every core
works: an uncompressed or BGZF-compressed VCF is cut into one range of whole lines per core,
and a BCF into one range of whole records per core (:mod:`beacon.ingest.split`; BGZF between
block boundaries, no index needed), while a plain gzip file is parsed by one reader process.
The rows go into a staging table that is swapped in when the whole file has been read
(:mod:`beacon.storage.load`): a failed or killed load changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import queue
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from beacon.errors import LoadError
from beacon.ingest import split, worker
from beacon.ingest.options import LoadOptions, LoadReport
from beacon.ingest.reader import Batch, FileHeader, ParsePlan, read_batches, read_header
from beacon.model import CountSource
from beacon.storage import load as store

Progress = Callable[[int, int], None]
"""Called after each batch with (records read so far, alleles stored so far)."""

PARALLEL_MIN_BYTES = 4 * 1024 * 1024
"""Files smaller than this are parsed in-process: starting a reader process costs more."""

MAX_READERS = 4
"""At most this many reader processes share one file."""

MIN_PART_BYTES = 1 << 20
"""A file is only cut into parts of at least this many bytes (compressed, for BGZF)."""

_QUEUE_BATCHES = 8
_POLL_S = 0.5


def select_samples(file_samples: tuple[str, ...], options: LoadOptions) -> tuple[str, ...]:
    """The file's samples to load, in file order; raises :class:`LoadError` for names that
    the file does not have."""
    wanted = options.samples if options.samples is not None else options.exclude_samples
    if wanted is None:
        return file_samples
    unknown = sorted(set(wanted) - set(file_samples))
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise LoadError(f"{len(unknown)} sample(s) not in the file: {shown}")
    chosen = set(wanted)
    if options.samples is not None:
        return tuple(s for s in file_samples if s in chosen)
    return tuple(s for s in file_samples if s not in chosen)


def plan_samples(
    selected: tuple[str, ...],
    options: LoadOptions,
    existing: store.ExistingDataset | None,
    withdrawn: frozenset[str] = frozenset(),
) -> tuple[tuple[str, ...], dict[str, int], tuple[str, ...] | None]:
    """Decide (samples to read, sample id -> dataset index, new sample list or ``None``).

    Samples whose participants ``withdrawn`` consent are never read. Replace (or a new
    dataset): the other selected samples become the dataset's, in file order. Append: the
    file must hold the dataset's samples (removed ones are skipped), so that every stored
    count covers the same people; raises :class:`LoadError` otherwise.
    """
    if options.mode == "replace" or existing is None:
        kept = tuple(s for s in selected if s not in withdrawn)
        return kept, {s: i for i, s in enumerate(kept)}, kept
    if existing.assembly != options.assembly:
        raise LoadError(
            f"dataset {options.dataset_id} is on {existing.assembly}, not {options.assembly}"
        )
    gone = existing.removed | withdrawn
    reading = tuple(s for s in selected if s not in gone)
    active = [s for s in existing.samples if s not in gone]
    if set(reading) != set(active):
        raise LoadError(
            f"cannot append to {options.dataset_id}: the file's samples differ from the"
            f" dataset's ({len(reading)} vs {len(active)}); load it as its own dataset or"
            " use --replace"
        )
    index = {s: i for i, s in enumerate(existing.samples)}
    return reading, {s: index[s] for s in reading}, None


async def _batches_in_process(plan: ParsePlan, header: FileHeader) -> AsyncIterator[Batch]:
    for batch in read_batches(plan, header):
        yield batch
        await asyncio.sleep(0)


async def _batches_from_readers(plans: list[ParsePlan], header: FileHeader) -> AsyncIterator[Batch]:
    """Batches from one reader process per plan, in the order they come."""
    ctx = multiprocessing.get_context("spawn")
    q: Any = ctx.Queue(maxsize=_QUEUE_BATCHES * len(plans))
    procs = [
        ctx.Process(
            target=worker.reader_main, args=(plan, header, q, os.getpid()), name="beacon-vcf-reader"
        )
        for plan in plans
    ]
    for proc in procs:
        proc.daemon = True
        proc.start()
    loop = asyncio.get_running_loop()

    def get() -> tuple[str, Any] | None:
        try:
            item: tuple[str, Any] = q.get(timeout=_POLL_S)
        except queue.Empty:
            return None
        return item

    running = len(procs)
    try:
        while running:
            item = await loop.run_in_executor(None, get)
            if item is None:
                for proc in procs:
                    if proc.exitcode not in (None, 0):
                        raise LoadError(
                            f"the VCF reader stopped unexpectedly (exit {proc.exitcode})"
                        )
                if all(proc.exitcode is not None for proc in procs) and q.empty():
                    raise LoadError("the VCF readers stopped before finishing")
                continue
            kind, payload = item
            if kind == "batch":
                yield payload
            elif kind == "error":
                raise LoadError(payload)
            else:
                running -= 1
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            await loop.run_in_executor(None, proc.join, 5.0)
        q.close()
        for proc in procs:
            with contextlib.suppress(ValueError):
                proc.close()


def reader_plans(plan: ParsePlan, size_bytes: int, strict: bool) -> list[ParsePlan]:
    """One plan per reader process: an uncompressed or BGZF-compressed VCF, or a BCF, of at
    least :data:`PARALLEL_MIN_BYTES` (``size_bytes``, compressed for BGZF and BCF) is cut into
    one range of whole lines (records) per core (not under ``strict``, whose error names the
    record's number in the whole file); else one plan. Raises :class:`LoadError` when the
    file cannot be read."""
    cores = os.cpu_count() or 1
    if strict or cores < 2 or size_bytes < PARALLEL_MIN_BYTES:
        return [plan]
    readers = min(cores, MAX_READERS)
    parts: tuple[split.FileRange, ...]
    try:
        parts = split.split_plain_vcf(plan.path, readers, MIN_PART_BYTES)
        if not parts:
            parts = split.split_bgzf_vcf(plan.path, readers, MIN_PART_BYTES)
        if not parts:
            parts = split.split_bgzf_bcf(plan.path, readers, MIN_PART_BYTES)
    except OSError as exc:
        raise LoadError(f"{plan.path}: cannot be read ({exc})") from exc
    return [dataclasses.replace(plan, byte_range=part) for part in parts] or [plan]


async def load_vcf(
    dsn: str, path: Path, options: LoadOptions, *, progress: Progress | None = None
) -> LoadReport:
    """Load the VCF/BCF at ``path`` into dataset ``options.dataset_id``; see
    :class:`LoadOptions` for the modes. Coordinates are stored 0-based, half-open.

    Raises :class:`LoadError` (the store unchanged) for an unreadable file, unknown
    samples, an incompatible append, or under ``strict`` the first problem record;
    :class:`beacon.errors.StoreUnavailable` when PostgreSQL cannot be reached.
    """
    started = time.perf_counter()
    file = str(path)
    header = read_header(file)
    selected = select_samples(header.samples, options)
    records = alleles = 0
    skipped: dict[str, int] = {}
    chromosomes: set[str] = set()
    async with store.transaction(dsn, options.dataset_id) as txn:
        reading, index, new_samples = plan_samples(selected, options, txn.existing, txn.withdrawn)
        source = header.count_source(len(reading))
        if (
            options.mode == "append"
            and txn.existing is not None
            and txn.existing.count_source is not source
        ):
            raise LoadError(
                f"cannot append to {options.dataset_id}: its counts come from"
                f" {txn.existing.count_source.value}, this file's from {source.value}"
            )
        plan = ParsePlan(
            path=file,
            dataset_id=options.dataset_id,
            assembly=options.assembly,
            samples=reading if reading != header.samples else None,
            sample_index=index,
            count_source=source,
            pass_only=options.pass_only,
            strict=options.strict,
        )
        parallel = header.size_bytes >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1
        if parallel:
            plans = reader_plans(plan, header.size_bytes, options.strict)
            batches = _batches_from_readers(plans, header)
        else:
            batches = _batches_in_process(plan, header)

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal records, alleles
            async for batch in batches:
                records += batch.records
                alleles += batch.stored
                chromosomes.update(batch.chromosomes)
                for reason, n in batch.skipped.items():
                    skipped[reason] = skipped.get(reason, 0) + n
                if progress is not None:
                    progress(records, alleles)
                yield batch.data

        await txn.copy_encoded(chunks())
        await txn.publish(
            name=options.name,
            description=options.description,
            assembly=options.assembly,
            security_level=options.security_level,
            count_source=source,
            samples=new_samples,
            append=options.mode == "append",
            chromosomes=chromosomes,
        )
    return LoadReport(
        dataset_id=options.dataset_id,
        records_read=records,
        alleles_stored=alleles,
        samples=len(reading) if source is CountSource.GENOTYPES else 0,
        count_source=source,
        skipped=skipped,
        seconds=time.perf_counter() - started,
        mode=options.mode,
    )
