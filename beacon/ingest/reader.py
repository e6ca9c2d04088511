"""VCF/BCF reading with cyvcf2: header facts, then batches of ``variant`` rows.

Reads VCF (plain, gzip or BGZF) and BCF, sorted or not. Each record is split into its ALT
alleles; each allele becomes one row tuple in :data:`beacon.storage.load.VARIANT_COLUMNS`
order (shapes from :mod:`beacon.ingest.alleles`, counts from
:mod:`beacon.ingest.genotypes`, vectorised over a batch of records). Anything not stored is
counted by :class:`SkipReason`; under ``strict`` a problem raises :class:`LoadError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from beacon import normalize
from beacon.errors import InvalidRequest, LoadError
from beacon.ingest import alleles, genes, genotypes
from beacon.ingest.options import SkipReason
from beacon.model import CountSource
from beacon.storage.binary_copy import encode_row

BATCH_RECORDS = 2000
_BASES = frozenset("ACGTN")
_NO_INTS: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class FileHeader:
    """What a VCF header says: samples (file order), INFO ids, contig lengths; and the
    file's size in bytes."""

    samples: tuple[str, ...]
    info: dict[str, str]
    contig_lengths: dict[str, int]
    size_bytes: int = 0

    def count_source(self, selected_samples: int) -> CountSource:
        """Genotypes when samples are loaded, else INFO AC when declared, else presence."""
        if selected_samples:
            return CountSource.GENOTYPES
        if "AC" in self.info:
            return CountSource.INFO
        return CountSource.PRESENCE


@dataclass(frozen=True, slots=True)
class ParsePlan:
    """Everything a reader process needs (picklable). ``sample_index`` maps each loaded
    sample id to its index in the dataset's sample list."""

    path: str
    dataset_id: str
    assembly: str
    samples: tuple[str, ...] | None
    sample_index: dict[str, int]
    count_source: CountSource
    pass_only: bool
    strict: bool
    batch_records: int = BATCH_RECORDS


@dataclass(slots=True)
class Batch:
    """Up to ``batch_records`` records: their rows as binary COPY tuples (``data``, ``stored``
    of them; see :mod:`beacon.storage.binary_copy`), and what was read and skipped."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    chromosomes: set[str] = field(default_factory=set)
    data: bytes = b""
    stored: int = 0

    def seal(self) -> Batch:
        """Encode the rows into ``data`` (and drop them): what crosses process boundaries."""
        self.data = b"".join(map(encode_row, self.rows))
        self.stored = len(self.rows)
        self.rows = []
        return self


def _open(path: str, samples: list[str] | None = None) -> Any:
    import cyvcf2

    if not Path(path).is_file():
        raise LoadError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if samples is None:
                return cyvcf2.VCF(path, lazy=True, threads=1)
            return cyvcf2.VCF(path, samples=samples, lazy=True, threads=1)
    except (OSError, ValueError, TypeError) as exc:
        raise LoadError(f"{path}: not a readable VCF or BCF file ({exc})") from exc


def read_header(path: str) -> FileHeader:
    """Header facts of ``path``; raises :class:`LoadError` when it is not a VCF/BCF."""
    vcf = _open(path)
    try:
        info: dict[str, str] = {}
        contigs: dict[str, int] = {}
        for h in vcf.header_iter():
            kind = h.type
            if kind not in ("INFO", "CONTIG"):
                continue
            fields = h.info()
            ident = fields.get("ID")
            if not ident:
                continue
            if kind == "INFO":
                info[ident] = fields.get("Description", "").strip('"')
            elif str(fields.get("length", "")).isdigit():
                contigs[ident] = int(fields["length"])
        return FileHeader(tuple(vcf.samples), info, contigs, Path(path).stat().st_size)
    finally:
        vcf.close()


class _Skips:
    __slots__ = ("counts", "strict")

    def __init__(self, strict: bool) -> None:
        self.counts: dict[str, int] = {}
        self.strict = strict

    def add(self, reason: str, record: int, chrom: str, pos: int) -> None:
        if self.strict and reason in SkipReason.PROBLEMS:
            raise LoadError(
                f"record {record} ({chrom}:{pos}): {reason.replace('_', ' ')} (--strict)"
            )
        self.counts[reason] = self.counts.get(reason, 0) + 1


def _chromosome(raw: str, assembly: str) -> str:
    try:
        name, implied = normalize.chromosome_and_assembly(raw)
    except InvalidRequest:
        return SkipReason.UNPLACED_CONTIG
    if implied is not None and implied != assembly:
        return SkipReason.ASSEMBLY_MISMATCH
    return name


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    return None


def _per_allele(value: Any, i: int) -> int | None:
    """The ``i``-th value of a Number=A INFO field (cyvcf2 gives a scalar for one ALT)."""
    if isinstance(value, tuple | list):
        return _int_or_none(value[i]) if i < len(value) else None
    return _int_or_none(value) if i == 0 else None


@dataclass(slots=True)
class _Pending:
    chrom: str
    pos: int
    ref: str
    variant_id: str | None
    filter_pass: bool
    gene_ids: list[str]
    shapes: list[tuple[int, str, alleles.Shape]]  # (1-based allele index, ALT, shape)
    info_ac: Any
    info_an: Any


def read_batches(plan: ParsePlan, header: FileHeader) -> Iterator[Batch]:
    """Yield batches of rows for every record of ``plan.path``.

    Raises :class:`LoadError` for an unreadable file and, under ``strict``, for the first
    problem record (naming its position).
    """
    vcf = _open(plan.path, list(plan.samples) if plan.samples is not None else None)
    try:
        yield from _read(vcf, plan, header)
    finally:
        vcf.close()


def _read(vcf: Any, plan: ParsePlan, header: FileHeader) -> Iterator[Batch]:
    use_gt = plan.count_source is CountSource.GENOTYPES
    use_info = plan.count_source is CountSource.INFO
    file_samples = list(vcf.samples) if use_gt else []
    smap = np.array([plan.sample_index[s] for s in file_samples], dtype=np.int64)
    gene_fields = genes.gene_fields(header.info)
    want_genes = gene_fields.any
    contig_lengths = header.contig_lengths
    chrom_cache: dict[str, str] = {}
    pending: list[_Pending] = []
    gt_arrays: list[npt.NDArray[np.int16]] = []
    batch = Batch()
    skips = _Skips(plan.strict)
    problems = SkipReason.PROBLEMS
    shape = alleles.shape
    n = 0
    for v in vcf:
        n += 1
        batch.records += 1
        raw_chrom = v.CHROM
        chrom = chrom_cache.get(raw_chrom)
        if chrom is None:
            chrom = chrom_cache[raw_chrom] = _chromosome(raw_chrom, plan.assembly)
        pos = v.POS
        if chrom in problems:
            skips.add(chrom, n, raw_chrom, pos)
            continue
        filter_pass = v.FILTER is None
        if plan.pass_only and not filter_pass:
            skips.add(SkipReason.NOT_PASS, n, raw_chrom, pos)
            continue
        ref = v.REF
        alts = v.ALT
        if not alts:
            skips.add(SkipReason.NO_ALT, n, raw_chrom, pos)
            continue
        info = v.INFO
        contig_length = contig_lengths.get(raw_chrom)
        shapes: list[tuple[int, str, alleles.Shape]] = []
        for i, alt in enumerate(alts):
            if alt[0] == "<":
                shp = shape(
                    pos,
                    ref,
                    alt,
                    end_info=_int_or_none(info.get("END")),
                    svlen=_per_allele(info.get("SVLEN"), i),
                    contig_length=contig_length,
                )
            elif len(alt) == 1 and len(ref) == 1 and alt in _BASES and ref in _BASES:
                shp = alleles.Shape(pos - 1, pos, ref, alt, "SNP")
            else:
                shp = shape(pos, ref, alt, contig_length=contig_length)
            if type(shp) is str:
                skips.add(shp, n, raw_chrom, pos)
            else:
                shapes.append((i + 1, alt, shp))  # type: ignore[arg-type]
        if not shapes:
            continue
        if use_gt:
            gt = v.genotype
            if gt is None:
                skips.add(SkipReason.MALFORMED, n, raw_chrom, pos)
                continue
            gt_arrays.append(gt.array())
        pending.append(
            _Pending(
                chrom,
                pos,
                ref,
                v.ID,
                filter_pass,
                list(
                    genes.gene_ids(
                        gene_fields, info.get("GENEINFO"), info.get("CSQ"), info.get("ANN")
                    )
                )
                if want_genes
                else [],
                shapes,
                info.get("AC") if use_info else None,
                info.get("AN") if use_info else None,
            )
        )
        if len(pending) >= plan.batch_records:
            _flush(
                batch=batch,
                pending=pending,
                gt_arrays=gt_arrays,
                smap=smap,
                dataset_id=plan.dataset_id,
                source=plan.count_source,
                skips=skips,
            )
            batch.skipped = skips.counts
            yield batch.seal()
            batch, pending, gt_arrays = Batch(), [], []
            skips = _Skips(plan.strict)
    _flush(
        batch=batch,
        pending=pending,
        gt_arrays=gt_arrays,
        smap=smap,
        dataset_id=plan.dataset_id,
        source=plan.count_source,
        skips=skips,
    )
    batch.skipped = skips.counts
    yield batch.seal()


def _stack(arrays: list[npt.NDArray[np.int16]]) -> npt.NDArray[np.int16]:
    """``(ploidy, records, samples)`` from per-record cyvcf2 ``(samples, ploidy + 1)`` arrays
    (the phase column dropped; narrower records padded with -2)."""
    width = max(a.shape[1] for a in arrays) - 1
    out = np.full((width, len(arrays), arrays[0].shape[0]), -2, dtype=np.int16)
    for i, a in enumerate(arrays):
        out[: a.shape[1] - 1, i, :] = a[:, :-1].T
    return out


def _flush(
    *,
    batch: Batch,
    pending: list[_Pending],
    gt_arrays: list[npt.NDArray[np.int16]],
    smap: npt.NDArray[np.int64],
    dataset_id: str,
    source: CountSource,
    skips: _Skips,
) -> None:
    if not pending:
        return
    if source is CountSource.GENOTYPES:
        _flush_genotypes(batch, pending, _stack(gt_arrays), smap, dataset_id, skips)
        return
    rows = batch.rows
    for p in pending:
        an_value = _int_or_none(p.info_an)
        for a, alt, s in p.shapes:
            ac_value = _per_allele(p.info_ac, a - 1) if source is CountSource.INFO else None
            if ac_value == 0:
                skips.add(SkipReason.NOT_CARRIED, 0, p.chrom, p.pos)
                continue
            batch.chromosomes.add(p.chrom)
            rows.append(
                (
                    dataset_id, p.chrom, s.start, s.end, s.reference_bases, s.alternate_bases,
                    s.variant_type, p.pos - 1, p.ref, alt, p.variant_id, s.sv_length,
                    s.mate_name, s.mate_start, ac_value, an_value, None, None, None, None, 2,
                    [], [], [], [], p.gene_ids, p.filter_pass,
                )
            )  # fmt: skip


def _flush_genotypes(  # noqa: PLR0917
    batch: Batch,
    pending: list[_Pending],
    gts: npt.NDArray[np.int16],
    smap: npt.NDArray[np.int64],
    dataset_id: str,
    skips: _Skips,
) -> None:
    rows = batch.rows
    monotonic = bool(np.all(np.diff(smap) > 0))
    site = genotypes.site_counts(gts)
    an = site.allele_number.tolist()
    ploidy = site.ploidy.tolist()
    n_alleles = np.array([p.shapes[-1][0] for p in pending])
    # Allele a of record b is at position where[a][b] of the counts for a (computed only over
    # the records that have an allele a: most have one ALT).
    counted: list[tuple[dict[int, int], genotypes.AlleleCounts, list[list[int]]]] = []
    for a in range(1, int(n_alleles.max()) + 1):
        members = np.flatnonzero(n_alleles >= a)
        if len(members) == len(pending):
            c = genotypes.allele_counts(gts, a, site.called)
            where = {b: b for b in range(len(pending))}
        else:
            c = genotypes.allele_counts(gts[:, members, :], a, site.called[members])
            where = {int(b): j for j, b in enumerate(members)}
        stats = [
            c.allele_count.tolist(),
            c.carriers.tolist(),
            c.heterozygous.tolist(),
            c.homozygous.tolist(),
            c.hemizygous.tolist(),
        ]
        counted.append((where, c, stats))
    exceptions_any: list[bool] = np.asarray(site.exceptions.any(axis=1)).tolist()
    for b, p in enumerate(pending):
        if exceptions_any[b]:
            ex_idx = np.flatnonzero(site.exceptions[b])
            ex_ids, ex_counts = smap[ex_idx], site.called[b, ex_idx]
            if not monotonic:
                order = np.argsort(ex_ids)
                ex_ids, ex_counts = ex_ids[order], ex_counts[order]
            exceptions, exception_counts = ex_ids, ex_counts
        else:
            exceptions, exception_counts = _NO_INTS, _NO_INTS
        for a, alt, s in p.shapes:
            where, c, (ac, carriers, het, hom, hemi) = counted[a - 1]
            j = where[b]
            if not ac[j]:
                skips.add(SkipReason.NOT_CARRIED, 0, p.chrom, p.pos)
                continue
            dosage = c.dosage[j]
            idx = dosage.nonzero()[0]
            carrier_ids = smap[idx]
            carrier_dosage = dosage[idx]
            if not monotonic:  # the file lists the dataset's samples in another order
                order = np.argsort(carrier_ids)
                carrier_ids, carrier_dosage = carrier_ids[order], carrier_dosage[order]
            batch.chromosomes.add(p.chrom)
            rows.append(
                (
                    dataset_id, p.chrom, s.start, s.end, s.reference_bases, s.alternate_bases,
                    s.variant_type, p.pos - 1, p.ref, alt, p.variant_id, s.sv_length,
                    s.mate_name, s.mate_start, ac[j], an[b], carriers[j], het[j], hom[j],
                    hemi[j], ploidy[b], carrier_ids, carrier_dosage, exceptions,
                    exception_counts, p.gene_ids, p.filter_pass,
                )
            )  # fmt: skip
