"""Deterministic synthetic VCFs for benchmarks, demos and tests (no real people in them).

:func:`write_vcf` writes the same bytes for the same arguments on every machine: sites on
chromosomes in karyotype order with increasing positions; about 80% biallelic SNPs, 6%
multi-allelic sites (2-3 ALTs), 6% insertions, 5% deletions and 3% MNPs; phased diploid
genotypes drawn from per-site allele frequencies; INFO ``AC``/``AN`` computed from those
genotypes, so a sites-only copy (``samples=0``) carries the same counts.

:func:`write_bgzf` compresses a file as ``bgzip`` does (BGZF blocks), for machines without
``bgzip``.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

_BASES = np.array(list("ACGT"))
_BLOCK = 2000
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
"""The empty block that ends a BGZF file (SAM/BAM specification, section 4.1.2)."""
_BGZF_HEADER = struct.Struct("<4BI2BH2BHH")  # gzip header with the BC subfield (BSIZE)


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


def write_bgzf(src: Path, dst: Path, block_size: int = 65280, level: int = 6) -> Path:
    """Compress ``src`` into ``dst`` as BGZF, as ``bgzip`` does: one gzip member per
    ``block_size`` bytes of ``src`` (at most 65,280, so that a block compresses into 64 KiB
    even when it does not shrink), each with the ``BC`` extra subfield giving its size
    (BSIZE, the block's size minus 1), then the standard 28-byte empty EOF block. Raises
    :class:`ValueError` for a ``block_size`` out of range. Returns ``dst``.
    """
    if not 0 < block_size <= 65280:
        raise ValueError(f"block_size must be 1-65280, not {block_size}")
    with src.open("rb") as inp, dst.open("wb") as out:
        while chunk := inp.read(block_size):
            deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
            payload = deflate.compress(chunk) + deflate.flush()
            size = _BGZF_HEADER.size + len(payload) + 8
            # ID1 ID2 CM FLG(FEXTRA) MTIME XFL OS(unknown) XLEN, then B C SLEN BSIZE
            out.write(_BGZF_HEADER.pack(31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, size - 1))
            out.write(payload)
            out.write(struct.pack("<II", zlib.crc32(chunk), len(chunk)))
        out.write(_BGZF_EOF)
    return dst
