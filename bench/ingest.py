"""Ingestion benchmark: synthetic VCFs, the cyvcf2 parse floor, and full loads.

    .venv/bin/python bench/ingest.py [--sites 200000] [--samples 500] [--dir DIR] [--repeat 3]

Writes (once; reused from ``--dir``) a deterministic synthetic VCF with ``--samples``
diploid samples (multi-allelic sites, indels, MNPs; :mod:`beacon.synthetic`), a sites-only
copy, a BGZF-compressed copy of the first (``.vcf.gz``, as bgzip writes it) and a BCF copy
(``.bcf``, as htslib writes it), then for each file measures in this same run:

* the parse floor: cyvcf2 reading every record and its genotypes (``genotype.array()``),
  or its INFO AC for the sites-only file, single-threaded (decompressing too, for the
  ``.vcf.gz`` and the ``.bcf``): what any loader built on cyvcf2 must spend;
* the full ``load_vcf`` into PostgreSQL (``BEACON_DATABASE_URL``, else an embedded server
  in a temporary directory), committed;

and prints load time, rows/s and load/parse for each of ``--repeat`` rounds (a load
replaces the previous round's), then the best floor and the best load: on a shared machine
the least disturbed round is the closest to the code's own cost. Targets: load <= 1.5 x
parse for the genotype file, >= 100,000 rows/s for the sites-only file. Never part of the
test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

import cyvcf2

from beacon.ingest import LoadOptions, load_vcf
from beacon.storage import db, embedded, migrate
from beacon.synthetic import write_bgzf, write_vcf


def write_bcf(src: Path, dst: Path) -> None:
    """Every record of ``src`` written to ``dst`` as BCF by htslib (cyvcf2's Writer)."""
    reader = cyvcf2.VCF(str(src))
    writer = cyvcf2.Writer(str(dst), reader, mode="wb")
    for record in reader:
        writer.write_record(record)
    writer.close()
    reader.close()


def parse_floor(path: Path, genotypes: bool) -> float:
    started = time.perf_counter()
    vcf = cyvcf2.VCF(str(path))
    for v in vcf:
        if genotypes:
            v.genotype.array()
        else:
            v.INFO.get("AC")
    vcf.close()
    return time.perf_counter() - started


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the reader processes; not
    PostgreSQL's)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def measure(dsn: str, path: Path, dataset: str, genotypes: bool, repeat: int) -> None:
    """``repeat`` rounds of (parse floor, full load), printed each; then the best of each
    (the least disturbed by other work on a shared machine) and their ratio."""
    floors, loads = [], []
    for _ in range(repeat):
        floor = parse_floor(path, genotypes)
        cpu = _cpu()
        report = await load_vcf(dsn, path, LoadOptions(dataset_id=dataset, assembly="GRCh38"))
        cpu = _cpu() - cpu
        floors.append(floor)
        loads.append(report.seconds)
        print(
            f"  {path.name}: parse floor {floor:.2f} s | load {report.seconds:.2f} s"
            f" ({cpu:.2f} s CPU in the loader and its readers)"
            f" | {report.alleles_stored / report.seconds:,.0f} rows/s"
            f" | load/parse {report.seconds / floor:.2f} | load average {_load()}"
        )
    best_floor, best_load = min(floors), min(loads)
    print(
        f"{path.name}: {report.records_read:,} records, {report.alleles_stored:,} rows"
        f" | best of {repeat}: parse floor {best_floor:.2f} s | load {best_load:.2f} s"
        f" | {report.alleles_stored / best_load:,.0f} rows/s"
        f" | load/parse {best_load / best_floor:.2f}"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "beacon-bench")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per file (best is kept)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    full = args.dir / f"synthetic_{args.sites}x{args.samples}.vcf"
    sites = args.dir / f"synthetic_{args.sites}_sites_only.vcf"
    for path, samples in ((full, args.samples), (sites, 0)):
        if not path.exists():
            started = time.perf_counter()
            tmp = path.with_suffix(".tmp")
            write_vcf(tmp, sites=args.sites, samples=samples, seed=2024)
            tmp.rename(path)
            print(f"wrote {path} in {time.perf_counter() - started:.1f} s")
    bgzf = full.with_name(full.name + ".gz")
    if not bgzf.exists():
        started = time.perf_counter()
        tmp = bgzf.with_suffix(".tmp")
        write_bgzf(full, tmp)
        tmp.rename(bgzf)
        print(f"wrote {bgzf} in {time.perf_counter() - started:.1f} s")
    bcf = full.with_suffix(".bcf")
    if not bcf.exists():
        started = time.perf_counter()
        tmp = bcf.with_name(bcf.name + ".tmp")
        write_bcf(full, tmp)
        tmp.rename(bcf)
        print(f"wrote {bcf} in {time.perf_counter() - started:.1f} s")
    dsn = os.environ.get("BEACON_DATABASE_URL") or ""
    if not dsn:
        pg_dir = Path(tempfile.mkdtemp(prefix="beacon-bench-pg-"))
        dsn = await asyncio.to_thread(embedded.ensure_database, pg_dir, "bench")
    conn = await db.connect(dsn)
    try:
        await migrate.upgrade(conn)
    finally:
        await conn.close()
    print(
        f"machine: {os.cpu_count()} cores, load average {_load()}"
        " (timings are noisy when the machine is shared)"
    )
    await measure(dsn, sites, "bench-sites", genotypes=False, repeat=args.repeat)
    await measure(dsn, full, "bench-genotypes", genotypes=True, repeat=args.repeat)
    await measure(dsn, bgzf, "bench-genotypes-bgzf", genotypes=True, repeat=args.repeat)
    await measure(dsn, bcf, "bench-genotypes-bcf", genotypes=True, repeat=args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
