"""Ingestion benchmark: synthetic VCFs, the cyvcf2 parse floor, and full loads.

    .venv/bin/python bench/ingest.py [--sites 200000] [--samples 500] [--dir DIR]

Writes (once; reused from ``--dir``) a deterministic synthetic VCF with ``--samples``
diploid samples (multi-allelic sites, indels, MNPs; :mod:`beacon.synthetic`) and a
sites-only copy, then for each file measures in this same run:

* the parse floor: cyvcf2 reading every record and its genotypes (``genotype.array()``),
  or its INFO AC for the sites-only file: what any loader built on cyvcf2 must spend;
* the full ``load_vcf`` into PostgreSQL (``BEACON_DATABASE_URL``, else an embedded server
  in a temporary directory), committed;

and prints load time, rows/s and load/parse. Targets: load <= 1.5 x parse for the genotype
file, >= 100,000 rows/s for the sites-only file. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import cyvcf2

from beacon.ingest import LoadOptions, load_vcf
from beacon.storage import db, embedded, migrate
from beacon.synthetic import write_vcf


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


async def measure(dsn: str, path: Path, dataset: str, genotypes: bool) -> None:
    floor = parse_floor(path, genotypes)
    report = await load_vcf(dsn, path, LoadOptions(dataset_id=dataset, assembly="GRCh38"))
    rows_s = report.alleles_stored / report.seconds
    print(
        f"{path.name}: {report.records_read:,} records, {report.alleles_stored:,} rows"
        f" | parse floor {floor:.2f} s | load {report.seconds:.2f} s | {rows_s:,.0f} rows/s"
        f" | load/parse {report.seconds / floor:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "beacon-bench")
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
    dsn = os.environ.get("BEACON_DATABASE_URL") or ""
    if not dsn:
        pg_dir = Path(tempfile.mkdtemp(prefix="beacon-bench-pg-"))
        dsn = await asyncio.to_thread(embedded.ensure_database, pg_dir, "bench")
    conn = await db.connect(dsn)
    try:
        await migrate.upgrade(conn)
    finally:
        await conn.close()
    print(f"machine: {os.cpu_count()} cores (timings are noisy when the machine is shared)")
    await measure(dsn, sites, "bench-sites", genotypes=False)
    await measure(dsn, full, "bench-genotypes", genotypes=True)


if __name__ == "__main__":
    asyncio.run(main())
