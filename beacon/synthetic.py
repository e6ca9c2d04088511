"""Deterministic synthetic VCFs for benchmarks, demos and tests (no real people in them).

:func:`write_vcf` writes the same bytes for the same arguments on every machine: sites on
chromosomes in karyotype order with increasing positions; about 80% biallelic SNPs, 6%
multi-allelic sites (2-3 ALTs), 6% insertions, 5% deletions and 3% MNPs; phased diploid
genotypes drawn from per-site allele frequencies; INFO ``AC``/``AN`` computed from those
genotypes, so a sites-only copy (``samples=0``) carries the same counts.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

_BASES = np.array(list("ACGT"))
_BLOCK = 2000


def _header(samples: int, assembly: str, chromosomes: Sequence[str]) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        "##source=beacon.synthetic",
        f"##reference={assembly}",
        *(f"##contig=<ID={c},length=250000000>" for c in chromosomes),
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles called">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    ]
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        cols += ["FORMAT", *(f"S{i:05d}" for i in range(samples))]
    return "\n".join([*lines, "\t".join(cols)]) + "\n"


def _alleles(rng: np.random.Generator, kind: int) -> tuple[str, list[str]]:
    """REF and ALTs for a site kind (0 SNP, 1 multi-allelic, 2 INS, 3 DEL, 4 MNP)."""
    ref = str(rng.choice(_BASES))
    others = [b for b in "ACGT" if b != ref]
    if kind == 0:
        return ref, [others[int(rng.integers(3))]]
    if kind == 1:
        n = int(rng.integers(2, 4))
        return ref, [others[i] for i in rng.permutation(3)[:n]]
    if kind == 2:
        return ref, [ref + "".join(rng.choice(_BASES, int(rng.integers(1, 12))))]
    if kind == 3:
        return ref + "".join(rng.choice(_BASES, int(rng.integers(1, 12)))), [ref]
    length = int(rng.integers(2, 4))
    mref = "".join(rng.choice(_BASES, length))
    alt = "".join("ACGT"[("ACGT".index(b) + 1) % 4] for b in mref)
    return mref, [alt]


def _lines(sites: int, samples: int, seed: int, chromosomes: Sequence[str]) -> Iterator[str]:
    rng = np.random.default_rng(seed)
    per_chrom = -(-sites // len(chromosomes))
    gt_table = np.array([f"{a}|{b}" for a in range(4) for b in range(4)])
    written = 0
    for chrom in chromosomes:
        pos = 10_000
        for block_start in range(0, per_chrom, _BLOCK):
            n = min(_BLOCK, per_chrom - block_start, sites - written)
            if n <= 0:
                return
            kinds = rng.choice(5, size=n, p=[0.80, 0.06, 0.06, 0.05, 0.03])
            freqs = rng.beta(0.4, 4.0, size=(n, 3))
            for i in range(n):
                pos += int(rng.integers(20, 200))
                ref, alts = _alleles(rng, int(kinds[i]))
                k = len(alts)
                info = ""
                gts = ""
                if samples:
                    p = freqs[i, :k] / max(1.0, float(freqs[i, :k].sum()) * 1.25)
                    probs = np.concatenate([[1.0 - p.sum()], p])
                    haps: npt.NDArray[np.int64] = rng.choice(k + 1, size=(samples, 2), p=probs)
                    ac = [int((haps == a + 1).sum()) for a in range(k)]
                    info = f"AC={','.join(map(str, ac))};AN={2 * samples}"
                    gts = "\tGT\t" + "\t".join(gt_table[haps[:, 0] * 4 + haps[:, 1]])
                else:
                    an = 1000
                    ac = [max(1, int(f * an)) for f in freqs[i, :k]]
                    info = f"AC={','.join(map(str, ac))};AN={an}"
                written += 1
                yield f"{chrom}\t{pos}\t.\t{ref}\t{','.join(alts)}\t50\tPASS\t{info}{gts}\n"


def write_vcf(
    path: Path,
    *,
    sites: int,
    samples: int,
    seed: int = 1,
    assembly: str = "GRCh38",
    chromosomes: Sequence[str] = ("1", "2", "3"),
) -> Path:
    """Write a synthetic VCF to ``path`` (gzip-compressed when it ends in ``.gz``).

    ``sites`` records over ``chromosomes`` (1-based positions), ``samples`` diploid samples
    (0 writes a sites-only file whose INFO AC/AN stand in for genotypes). Returns ``path``.
    """
    out: IO[str] = (
        gzip.open(path, "wt", compresslevel=1)  # noqa: SIM115
        if path.suffix == ".gz"
        else path.open("w")
    )
    with out:
        out.write(_header(samples, assembly, chromosomes))
        buf: list[str] = []
        for line in _lines(sites, samples, seed, chromosomes):
            buf.append(line)
            if len(buf) >= 1000:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
    return path
