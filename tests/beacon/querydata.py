"""A small, hand-checked dataset for query tests, loaded through beacon.ingest.load_vcf.

Samples S1..S4 (diploid). Positions below are VCF (1-based); the tests query 0-based.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from beacon.ingest import LoadOptions, load_vcf
from beacon.model import DisclosurePolicy, SecurityLevel
from beacon.policy import OPEN_POLICY
from beacon.storage.privacy import set_policy

HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr17,length=83257441>
##contig=<ID=chr13,length=114364328>
##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">
##INFO=<ID=END,Number=1,Type=Integer,Description="End position">
##INFO=<ID=SVLEN,Number=.,Type=Integer,Description="Length">
##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene:id">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\tS4
"""

RECORDS = [
    # SNP T>C at 0-based 43045711: S1 het, S2 hom -> AC 3, AN 8, carriers 2
    "chr17\t43045712\trs80357906\tT\tC\t.\tPASS\tGENEINFO=BRCA1:672\tGT\t0/1\t1/1\t0/0\t0/0",
    # deletion of AG at 0-based [43045800, 43045802), written padded
    "chr17\t43045800\t.\tCAG\tC\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\t0/0",
    # insertion of TT at the interbase point 43045900, written padded
    "chr17\t43045900\t.\tA\tATT\t.\tPASS\t.\tGT\t0/1\t0/1\t0/0\t0/0",
    # multi-allelic G>A,T at 0-based 43045999
    "chr17\t43046000\t.\tG\tA,T\t.\tPASS\t.\tGT\t1/2\t0/1\t0/0\t0/0",
    # MNP CA>TG at 0-based [43046100, 43046102)
    "chr17\t43046101\t.\tCA\tTG\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\t0/0",
    # long deletion [43050000, 43060000)
    "chr17\t43050000\t.\tA\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=43060000;SVLEN=-10000\tGT\t0/1\t0/0\t0/0\t0/0",
    # short duplication [43070000, 43070500)
    "chr17\t43070000\t.\tA\t<DUP>\t.\tPASS\tSVTYPE=DUP;END=43070500;SVLEN=500\tGT\t0/1\t0/0\t0/0\t0/0",
    # breakend to chr13
    "chr17\t43080000\tbnd1\tG\tG]chr13:123456]\t.\tPASS\tSVTYPE=BND\tGT\t0/1\t0/0\t0/0\t0/0",
]

SNP = {"referenceName": "17", "start": "43045711", "referenceBases": "T", "alternateBases": "C"}


def write_vcf(path: Path, records: list[str] = RECORDS) -> Path:
    path.write_text(HEADER + "\n".join(records) + "\n")
    return path


async def load(
    dsn: str,
    tmp_path: Path,
    dataset_id: str = "ds1",
    *,
    security_level: SecurityLevel = SecurityLevel.PUBLIC,
    records: list[str] = RECORDS,
    policy: DisclosurePolicy | None = OPEN_POLICY,
    assembly: str = "GRCh38",
) -> None:
    """Load ``records`` as ``dataset_id``; give it ``policy`` (anonymous record by default)."""
    vcf = write_vcf(tmp_path / f"{dataset_id}.vcf", records)
    options = LoadOptions(
        dataset_id=dataset_id, assembly=assembly, name=f"Dataset {dataset_id}",
        security_level=security_level,
    )  # fmt: skip
    await load_vcf(dsn, vcf, options)
    if policy is not None:
        conn = await asyncpg.connect(dsn)
        try:
            await set_policy(conn, dataset_id, policy)
        finally:
            await conn.close()
