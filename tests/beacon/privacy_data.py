"""A small multi-sample VCF for the consent and withdrawal tests (written by the tests)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = ("P1", "P2", "P3", "P4", "P5", "P6")

# chrom, pos (1-based), ref, alt, genotypes of P1..P6. Chosen so that withdrawing P3 matters
# in every way: P3 is the only carrier of 1:1000 (the allele must vanish), a homozygote at
# 1:2000, a partly missing call at 1:3000 (allele number), a hemizygous X call, and a
# carrier of one ALT of a multi-allelic site.
RECORDS = (
    ("1", 1000, "A", "G", ("0/0", "0/0", "0/1", "0/0", "0/0", "0/0")),
    ("1", 2000, "C", "T", ("0/1", "0/0", "1/1", "0/1", "0/0", "1/1")),
    ("1", 3000, "G", "A", ("0/1", "./.", "./1", "1/1", "0/0", "0/1")),
    ("1", 4000, "T", "C", ("0/1", "0/1", "0/0", "0/1", "0/1", "0/1")),
    ("1", 5000, "AT", "A", ("1/1", "0/0", "0/1", "0/0", "0/0", "0/0")),
    ("1", 6000, "G", "C,T", ("0/1", "0/2", "1/2", "0/0", "0/0", "0/0")),
    ("X", 7000, "C", "G", ("1", "0/1", "1", "0", "0/0", "1/1")),
    ("2", 8000, "A", "C", ("0/0", "0/0", "0/0", "0/1", "0/1", "0/1")),
)


def write_vcf(path: Path, samples: tuple[str, ...] = SAMPLES) -> Path:
    """Write the test VCF (plain text) at ``path``; return it."""
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=248956422>",
        "##contig=<ID=2,length=242193529>",
        "##contig=<ID=X,length=156040895>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    keep = [SAMPLES.index(s) for s in samples]
    for chrom, pos, ref, alt, gts in RECORDS:
        calls = "\t".join(gts[i] for i in keep)
        lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\t.\tGT\t{calls}")
    path.write_text("\n".join(lines) + "\n")
    return path
