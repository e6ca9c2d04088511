"""``beacon load``, ``beacon datasets``, ``beacon remove``, ``beacon remove-samples``.

Each opens the configured store (``BEACON_DATABASE_URL`` or the embedded PostgreSQL), brings
its schema up to date, and reports one line (or a table) on stdout; failures go to stderr
with a non-zero exit (see :mod:`beacon.cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TextIO

from beacon.cli import command
from beacon.config import Settings
from beacon.errors import LoadError
from beacon.ingest.loader import load_vcf
from beacon.ingest.options import LoadOptions
from beacon.model import SecurityLevel


async def _dsn(settings: Settings) -> str:
    from beacon.storage import db, migrate

    dsn = await asyncio.to_thread(db.resolve_dsn, settings)
    conn = await db.connect(dsn)
    try:
        await migrate.upgrade(conn)
    finally:
        await conn.close()
    return dsn


def _names(value: str | None) -> tuple[str, ...] | None:
    """Sample ids from a file (one per line, ``#`` comments) or a comma-separated list."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        lines = path.read_text().splitlines()
        return tuple(s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#"))
    return tuple(s.strip() for s in value.split(",") if s.strip())


class ProgressBar:
    """Records read and records/s on one rewritten terminal line (only on a TTY)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, records: int, alleles: int) -> None:
        now = time.perf_counter()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = records / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r  {records:>12,} records  {alleles:>12,} alleles  {rate:>10,.0f} rec/s"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + " " * 70 + "\r")
        self.stream.flush()


def _configure_load(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="VCF or BCF (plain, gzip or bgzip; sorted or not)")
    p.add_argument("--dataset", required=True, help="dataset id")
    p.add_argument("--assembly", required=True, help="GRCh37 or GRCh38 (hg19, hg38 accepted)")
    p.add_argument("--name", help="dataset name (default: kept, or the id)")
    p.add_argument("--description", help="dataset description")
    p.add_argument(
        "--security-level",
        default="PUBLIC",
        type=str.upper,
        choices=[s.value for s in SecurityLevel],
        help="who may see the dataset (default PUBLIC)",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--samples", help="load only these samples: a file (one per line) or a,b,c")
    who.add_argument("--exclude-samples", help="leave these samples out: a file or a,b,c")
    p.add_argument("--pass-only", action="store_true", help="skip records whose FILTER is not PASS")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--replace",
        dest="mode",
        action="store_const",
        const="replace",
        help="replace the dataset's variants (default)",
    )
    mode.add_argument(
        "--append",
        dest="mode",
        action="store_const",
        const="append",
        help="add the file's chromosomes (same samples), replacing those chromosomes' rows",
    )
    p.set_defaults(mode="replace")
    p.add_argument(
        "--strict", action="store_true", help="fail on the first record that cannot be used"
    )


@command("load", "load a VCF/BCF into a dataset (one transaction)", _configure_load)
def _load(args: argparse.Namespace, settings: Settings) -> int:
    options = LoadOptions(
        dataset_id=args.dataset,
        assembly=args.assembly,
        name=args.name,
        description=args.description,
        security_level=SecurityLevel(args.security_level),
        samples=_names(args.samples),
        exclude_samples=_names(args.exclude_samples),
        pass_only=args.pass_only,
        mode=args.mode,
        strict=args.strict,
    )
    if not args.file.is_file():
        raise LoadError(f"{args.file}: no such file")
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None

    async def run() -> int:
        dsn = await _dsn(settings)
        try:
            report = await load_vcf(dsn, args.file, options, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        print(report.summary())
        return 0

    return asyncio.run(run())


def _configure_datasets(p: argparse.ArgumentParser) -> None:
    del p


@command("datasets", "list datasets with their counts", _configure_datasets)
def _datasets(args: argparse.Namespace, settings: Settings) -> int:
    from beacon.storage import datasets, db

    async def run() -> int:
        conn = await db.connect(await _dsn(settings))
        try:
            found = await datasets.list_datasets(conn)
        finally:
            await conn.close()
        header = ("id", "assembly", "security", "counts", "samples", "variants", "calls", "name")
        rows = [
            (
                d.id,
                d.assembly,
                d.security_level.value,
                d.count_source.value,
                f"{d.sample_count:,}",
                f"{d.variant_count:,}",
                f"{d.call_count:,}",
                d.name,
            )
            for d in found
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        numeric = {4, 5, 6}
        for r in [header, *rows]:
            cells = [
                str(c).rjust(w) if i in numeric else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ]
            print("  ".join(cells).rstrip())
        if not rows:
            print("(no datasets)")
        return 0

    return asyncio.run(run())


def _configure_remove(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset id")


@command("remove", "delete a dataset with its variants and samples", _configure_remove)
def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from beacon.storage import datasets, db

    async def run() -> int:
        conn = await db.connect(await _dsn(settings))
        try:
            removed = await datasets.remove_dataset(conn, args.dataset)
        finally:
            await conn.close()
        if not removed:
            print(f"beacon: no dataset {args.dataset!r}", file=sys.stderr)
            return 1
        print(f"removed dataset {args.dataset}")
        return 0

    return asyncio.run(run())


def _configure_remove_samples(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset id")
    p.add_argument("samples", nargs="+", metavar="SAMPLE", help="sample ids to remove")


@command(
    "remove-samples",
    "take samples out of every count of a dataset (one transaction)",
    _configure_remove_samples,
)
def _remove_samples(args: argparse.Namespace, settings: Settings) -> int:
    from beacon.storage import datasets, db

    async def run() -> int:
        conn = await db.connect(await _dsn(settings))
        try:
            n = await datasets.remove_samples(conn, args.dataset, args.samples)
            d = await datasets.get_dataset(conn, args.dataset)
        finally:
            await conn.close()
        assert d is not None
        print(
            f"removed {n} sample(s) from {args.dataset}: {d.sample_count:,} samples,"
            f" {d.variant_count:,} variants, {d.call_count:,} calls remain"
        )
        return 0

    return asyncio.run(run())
