"""VCF/BCF reading with cyvcf2: header facts, then batches of ``variant`` rows.

Reads VCF (plain, gzip or BGZF) and BCF, sorted or not. Each record is split into its ALT
alleles; each allele becomes one row in :data:`beacon.storage.load.VARIANT_COLUMNS` order,
encoded for binary COPY (:mod:`beacon.storage.binary_copy`): its head when the record is
read (shapes from :mod:`beacon.ingest.alleles`), its counts from INFO at once or from the
genotypes of a whole batch of records with a few vectorised calls
(:mod:`beacon.ingest.genotypes`). Anything not stored is counted by :class:`SkipReason`;
under ``strict`` a problem raises :class:`LoadError`.
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
from beacon.ingest.split import FileRange, RangeFeed
from beacon.model import CountSource
from beacon.storage import binary_copy

BATCH_RECORDS = 2000
_BASES = frozenset("ACGTN")


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
    sample id to its index in the dataset's sample list; ``byte_range``, when set, is the
    part of the file to read (:mod:`beacon.ingest.split`)."""

    path: str
    dataset_id: str
    assembly: str
    samples: tuple[str, ...] | None
    sample_index: dict[str, int]
    count_source: CountSource
    pass_only: bool
    strict: bool
    batch_records: int = BATCH_RECORDS
    byte_range: FileRange | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Up to ``batch_records`` records: ``stored`` rows encoded for binary COPY (``data``;
    see :mod:`beacon.storage.binary_copy`), and what was read and skipped."""

    data: bytes = b""
    stored: int = 0
    records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    chromosomes: frozenset[str] = frozenset()


def _open(source: str | int, samples: list[str] | None = None, name: str = "") -> Any:
    """cyvcf2 reader of a path, or of a file descriptor (``name`` names it in errors)."""
    import cyvcf2

    name = name or str(source)
    if isinstance(source, str) and not Path(source).is_file():
        raise LoadError(f"{name}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if samples is None:
                return cyvcf2.VCF(source, lazy=True, threads=1)
            return cyvcf2.VCF(source, samples=samples, lazy=True, threads=1)
    except (OSError, ValueError, TypeError) as exc:
        raise LoadError(f"{name}: not a readable VCF or BCF file ({exc})") from exc


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
    __slots__ = ("counts", "path", "strict")

    def __init__(self, strict: bool, path: str) -> None:
        self.counts: dict[str, int] = {}
        self.strict = strict
        self.path = path

    def add(self, reason: str, record: int, chrom: str, pos: int) -> None:
        if self.strict and reason in SkipReason.PROBLEMS:
            raise LoadError(
                f"{self.path}: record {record} ({chrom}:{pos}): {reason.replace('_', ' ')}"
                " (--strict)"
            )
        self.counts[reason] = self.counts.get(reason, 0) + 1

    def tally(self, reason: str, n: int = 1) -> None:
        """Count ``n`` skips that are never a problem (such as an ALT nobody carries)."""
        self.counts[reason] = self.counts.get(reason, 0) + n


def _chromosome(raw: str, assembly: str) -> str:
    try:
        name, implied = normalize.chromosome_and_assembly(raw)
    except InvalidRequest:
        return SkipReason.UNPLACED_CONTIG
    if implied is not None and implied != assembly:
        return SkipReason.ASSEMBLY_MISMATCH
    return name


def _int_or_none(value: Any) -> int | None:
    if type(value) is int:  # the common case, first
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    return None


def _per_allele(value: Any, i: int) -> int | None:
    """The ``i``-th value of a Number=A INFO field (cyvcf2 gives a scalar for one ALT)."""
    if type(value) is int:  # the common case, first
        return value if i == 0 else None
    if isinstance(value, tuple | list):
        return _int_or_none(value[i]) if i < len(value) else None
    return _int_or_none(value) if i == 0 else None


class _Genotyped:
    """Records of a batch waiting for their genotype counts: per record its genotype
    array, its alleles as ``(1-based allele index, row head)`` and its row tail."""

    __slots__ = ("alleles", "chroms", "gts", "tails")

    def __init__(self) -> None:
        self.gts: list[npt.NDArray[np.int16]] = []
        self.alleles: list[list[tuple[int, bytes]]] = []
        self.tails: list[bytes] = []
        self.chroms: list[str] = []


def read_batches(plan: ParsePlan, header: FileHeader) -> Iterator[Batch]:
    """Yield batches of rows for every record of ``plan.path`` (of ``plan.byte_range`` only,
    when set).

    Raises :class:`LoadError` for an unreadable file, for a file that htslib stops reading
    part way (damaged, cut short or malformed; the error names the last record read), for a
    range that could not be delivered whole (the file ended early or a BGZF block is
    damaged; this error replaces the parser's when the parser failed on the shortened
    input) and, under ``strict``, for the first problem record (naming its position).
    """
    samples = list(plan.samples) if plan.samples is not None else None
    if plan.byte_range is None:
        vcf = _open(plan.path, samples)
        try:
            yield from _read(vcf, plan, header)
        finally:
            vcf.close()
        return
    feed = RangeFeed(plan.path, plan.byte_range)
    try:
        try:
            vcf = _open(feed.start(), samples, name=plan.path)
            try:
                yield from _read(vcf, plan, header)
            finally:
                vcf.close()
        except Exception:
            feed.close()  # the feed stops if it has not failed already ...
            feed.check()  # ... and when it has, its error is the cause of the parser's
            raise
        feed.check()
    finally:
        feed.close()


def _read(vcf: Any, plan: ParsePlan, header: FileHeader) -> Iterator[Batch]:
    use_gt = plan.count_source is CountSource.GENOTYPES
    use_info = plan.count_source is CountSource.INFO
    file_samples = list(vcf.samples) if use_gt else []
    smap = np.array([plan.sample_index[s] for s in file_samples], dtype=np.int64)
    gene_fields = genes.gene_fields(header.info)
    want_genes = gene_fields.any
    contig_lengths = header.contig_lengths
    heads = binary_copy.RowHeads(plan.dataset_id)
    snp_head, any_head = heads.snp, heads.head
    info_counts = binary_copy.info_counts
    row_tail = binary_copy.row_tail
    tails = {True: row_tail((), True), False: row_tail((), False)}
    no_counts = info_counts(None, None)
    chrom_cache: dict[str, str] = {}
    problems = SkipReason.PROBLEMS
    shape = alleles.shape
    bases = _BASES
    pass_only = plan.pass_only
    limit = plan.batch_records
    skips = _Skips(plan.strict, plan.path)
    parts: list[bytes] = []  # rows without genotypes, as pieces
    pending = _Genotyped()
    chromosomes: set[str] = set()
    stored = records = kept = n = 0
    raw_chrom, pos = "", 0  # the last record read, for an error
    # The alleles (stored form) of the records read so far at this position: a record that
    # repeats one of them (a line written twice, or two callers' records of one sample) is
    # not stored again. A sorted VCF keeps every record of a position together.
    site: tuple[str, int] = ("", 0)
    site_alleles: set[tuple[int, int, str, str]] = set()
    it = iter(vcf)
    while True:
        try:
            v = next(it)
        except StopIteration:
            break
        except Exception as exc:  # cyvcf2 raises a bare Exception when htslib fails
            raise _unreadable(plan, n, raw_chrom, pos, exc) from exc
        n += 1
        records += 1
        raw_chrom = v.CHROM
        chrom = chrom_cache.get(raw_chrom)
        if chrom is None:
            chrom = chrom_cache[raw_chrom] = _chromosome(raw_chrom, plan.assembly)
        pos = v.POS
        if chrom in problems:
            skips.add(chrom, n, raw_chrom, pos)
            continue
        filter_pass = v.FILTER is None
        if pass_only and not filter_pass:
            skips.add(SkipReason.NOT_PASS, n, raw_chrom, pos)
            continue
        ref = v.REF
        alts = v.ALT
        if not alts:
            skips.add(SkipReason.NO_ALT, n, raw_chrom, pos)
            continue
        variant_id = v.ID
        info = v.INFO
        if site != (chrom, pos):
            site = (chrom, pos)
            site_alleles = set()
        shaped: list[tuple[int, bytes]] = []
        for i, alt in enumerate(alts):
            if len(alt) == 1 and len(ref) == 1 and alt in bases and ref in bases:
                key = (pos - 1, pos, ref, alt)
                if key in site_alleles:
                    skips.tally(SkipReason.DUPLICATE)
                    continue
                site_alleles.add(key)
                shaped.append((i + 1, snp_head(chrom, pos, ref, alt, variant_id)))
                continue
            if alt.startswith("<"):
                shp = shape(
                    pos,
                    ref,
                    alt,
                    end_info=_int_or_none(info.get("END")),
                    svlen=_per_allele(info.get("SVLEN"), i),
                    contig_length=contig_lengths.get(raw_chrom),
                )
            else:
                shp = shape(pos, ref, alt, contig_length=contig_lengths.get(raw_chrom))
            if isinstance(shp, str):
                skips.add(shp, n, raw_chrom, pos)
                continue
            key = (shp.start, shp.end, shp.reference_bases, shp.alternate_bases)
            if key in site_alleles:
                skips.tally(SkipReason.DUPLICATE)
                continue
            site_alleles.add(key)
            shaped.append(
                (
                    i + 1,
                    any_head(
                        chrom, shp.start, shp.end, shp.reference_bases, shp.alternate_bases,
                        shp.variant_type, pos - 1, ref, alt, variant_id, shp.sv_length,
                        shp.mate_name, shp.mate_start,
                    ),
                )
            )  # fmt: skip
        if not shaped:
            continue
        if want_genes:
            tail = row_tail(
                genes.gene_ids(gene_fields, info.get("GENEINFO"), info.get("CSQ"), info.get("ANN")),
                filter_pass,
            )
        else:
            tail = tails[filter_pass]
        if use_gt:
            try:
                gt = v.genotype
            except Exception:  # cyvcf2 raises a bare Exception for a record without GT
                gt = None
            if gt is None:
                skips.add(SkipReason.MALFORMED, n, raw_chrom, pos)
                continue
            pending.gts.append(gt.array())
            pending.alleles.append(shaped)
            pending.tails.append(tail)
            pending.chroms.append(chrom)
        else:
            if use_info:
                info_ac = info.get("AC")
                an = _int_or_none(info.get("AN"))
                carried = 0
                for a, head in shaped:
                    ac = _per_allele(info_ac, a - 1)
                    if ac == 0:
                        skips.tally(SkipReason.NOT_CARRIED)
                        continue
                    parts += (head, info_counts(ac, an), tail)
                    carried += 1
            else:
                for _, head in shaped:
                    parts += (head, no_counts, tail)
                carried = len(shaped)
            if carried:
                stored += carried
                chromosomes.add(chrom)
        kept += 1
        if kept >= limit:
            if use_gt:
                stored = _flush_genotypes(pending, smap, parts, chromosomes, skips)
                pending = _Genotyped()
            yield Batch(b"".join(parts), stored, records, skips.counts, frozenset(chromosomes))
            parts, chromosomes, skips = [], set(), _Skips(plan.strict, plan.path)
            stored = records = kept = 0
    if use_gt:
        stored = _flush_genotypes(pending, smap, parts, chromosomes, skips)
    yield Batch(b"".join(parts), stored, records, skips.counts, frozenset(chromosomes))


def _unreadable(plan: ParsePlan, n: int, chrom: str, pos: int, exc: Exception) -> LoadError:
    """The error for a file that htslib could not read past its ``n``-th record (at
    ``chrom:pos``; counted from the start of ``plan.byte_range`` when set)."""
    if not n:
        where = "at its first record" if plan.byte_range is None else "at the start of a part"
    elif plan.byte_range is None:
        where = f"after record {n} ({chrom}:{pos})"
    else:
        where = f"after {chrom}:{pos} (record {n} of its part)"
    reason = str(exc) or type(exc).__name__
    return LoadError(
        f"{plan.path}: unreadable {where}: {reason} (is the file damaged, cut short or malformed?)"
    )


def _stack(arrays: list[npt.NDArray[np.int16]]) -> npt.NDArray[np.int16]:
    """``(ploidy, records, samples)`` from per-record cyvcf2 ``(samples, ploidy + 1)`` arrays
    (the phase column dropped; narrower records padded with -2)."""
    first = arrays[0].shape
    if all(a.shape == first for a in arrays):
        return np.ascontiguousarray(np.stack(arrays)[:, :, :-1].transpose(2, 0, 1))
    width = max(a.shape[1] for a in arrays) - 1
    out = np.full((width, len(arrays), first[0]), -2, dtype=np.int16)
    for i, a in enumerate(arrays):
        out[: a.shape[1] - 1, i, :] = a[:, :-1].T
    return out


def _sample_fields(
    mask: npt.NDArray[np.bool_],
    values: npt.NDArray[np.int8],
    smap: npt.NDArray[np.int64],
    monotonic: bool,
) -> tuple[list[bytes], list[bytes]]:
    """Encoded array fields ``(sample indexes, values)`` per row of ``mask`` (records x
    samples): the dataset indexes of the samples set in the row, ascending, and their
    ``values``."""
    rec, col = np.nonzero(mask)
    ids = smap[col]
    picked = values[rec, col]
    if not monotonic:  # the file lists the dataset's samples in another order
        order = np.lexsort((ids, rec))
        ids, picked = ids[order], picked[order]
    lengths = np.bincount(rec, minlength=mask.shape[0]).tolist()
    return binary_copy.int4_arrays(ids, lengths), binary_copy.int2_arrays(picked, lengths)


def _flush_genotypes(
    pending: _Genotyped,
    smap: npt.NDArray[np.int64],
    parts: list[bytes],
    chromosomes: set[str],
    skips: _Skips,
) -> int:
    """Encode the rows of ``pending`` into ``parts``; return how many were stored."""
    records = len(pending.gts)
    if not records:
        return 0
    gts = _stack(pending.gts)
    monotonic = bool(np.all(np.diff(smap) > 0))
    site = genotypes.site_counts(gts)
    if site.exceptions.any():
        ex_ids, ex_counts = _sample_fields(site.exceptions, site.called, smap, monotonic)
        exceptions = [a + b for a, b in zip(ex_ids, ex_counts, strict=True)]
    else:
        exceptions = [binary_copy.int4_arrays((), [0])[0] + binary_copy.int2_arrays((), [0])[0]]
        exceptions *= records
    n_alleles = np.array([shaped[-1][0] for shaped in pending.alleles])
    # Per ALT index a: the records that have it, their counts and carrier fields.
    fields: list[tuple[list[int], list[int], list[bytes], list[bytes], list[bytes]]] = []
    for a in range(1, int(n_alleles.max()) + 1):
        if a == 1:
            members = np.arange(records)
            c = genotypes.allele_counts(gts, a, site.called)
        else:
            members = np.flatnonzero(n_alleles >= a)
            c = genotypes.allele_counts(gts[:, members, :], a, site.called[members])
        where = np.full(records, -1, dtype=np.int64)
        where[members] = np.arange(len(members))
        counts = binary_copy.genotype_counts(
            c.allele_count,
            site.allele_number[members],
            c.carriers,
            c.heterozygous,
            c.homozygous,
            c.hemizygous,
            site.ploidy[members],
        )
        ids, dosage = _sample_fields(c.dosage != 0, c.dosage, smap, monotonic)
        fields.append((where.tolist(), c.allele_count.tolist(), counts, ids, dosage))
    stored = 0
    chroms, tails = pending.chroms, pending.tails
    for b, shaped in enumerate(pending.alleles):
        carried = False
        for a, head in shaped:
            where_a, ac, counts, ids, dosage = fields[a - 1]
            j = where_a[b]
            if not ac[j]:
                skips.tally(SkipReason.NOT_CARRIED)
                continue
            parts += (head, counts[j], ids[j], dosage[j], exceptions[b], tails[b])
            stored += 1
            carried = True
        if carried:
            chromosomes.add(chroms[b])
    return stored
