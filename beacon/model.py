"""Pure, frozen domain objects shared by storage, ingestion, the query API and the aggregator.

Coordinates are 0-based, half-open (see :mod:`beacon.normalize`). Nothing here does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class SecurityLevel(enum.StrEnum):
    """Who may see a dataset at all (Beacon v2 ``securityLevel``)."""

    PUBLIC = "PUBLIC"
    REGISTERED = "REGISTERED"
    CONTROLLED = "CONTROLLED"


class Granularity(enum.StrEnum):
    """How much an answer may say, ordered: boolean < count < record."""

    BOOLEAN = "boolean"
    COUNT = "count"
    RECORD = "record"

    @property
    def rank(self) -> int:
        return _GRANULARITY_RANK[self]

    def at_most(self, other: Granularity) -> Granularity:
        """The lower of the two granularities."""
        return self if self.rank <= other.rank else other


_GRANULARITY_RANK = {Granularity.BOOLEAN: 0, Granularity.COUNT: 1, Granularity.RECORD: 2}


class CountSource(enum.StrEnum):
    """Where a dataset's allele counts come from."""

    GENOTYPES = "genotypes"  # computed from per-sample GT calls
    INFO = "info"  # taken from INFO AC/AN (sites-only files)
    PRESENCE = "presence"  # neither: the allele is known to exist, counts are unknown


class Consent(enum.StrEnum):
    """What a participant allows their sample to contribute to."""

    ALL = "all"  # every kind of answer, records included
    AGGREGATE = "aggregate"  # existence and counts, never as an individual record
    NONE = "none"  # nothing at all


@dataclass(frozen=True, slots=True)
class Dataset:
    """One dataset as stored. Counts are kept current by loads and sample removals."""

    id: str
    name: str
    assembly: str
    security_level: SecurityLevel = SecurityLevel.PUBLIC
    description: str = ""
    version: str = "1"
    external_url: str | None = None
    data_use_conditions: dict[str, Any] = field(default_factory=dict)
    count_source: CountSource = CountSource.GENOTYPES
    sample_count: int = 0
    variant_count: int = 0
    call_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VariantRecord:
    """One allele of one dataset, as stored (one row of the ``variant`` table).

    ``start``/``end`` are 0-based half-open. For sequence alleles ``reference_bases`` and
    ``alternate_bases`` are in the trimmed canonical form of :func:`beacon.normalize.trim`;
    for structural variants ``alternate_bases`` is the symbolic allele (``<DEL>``), or the
    breakend string for BND, and ``reference_bases`` the VCF REF.

    ``vcf_start``/``vcf_ref``/``vcf_alt`` keep the allele as the VCF wrote it (after splitting
    multi-allelic records) so VCF-style responses can be given.

    Counts are ``None`` when unknown (``count_source`` = presence). ``allele_number`` counts
    called alleles only. ``carrier_samples`` are indexes into the dataset's sample list with the
    parallel ``carrier_dosage`` (copies of this allele each carries); ``called_exceptions`` are
    the samples whose number of called alleles differs from ``ploidy`` at this site, with the
    parallel ``called_exception_counts``. Together they let a sample be removed exactly.
    """

    dataset_id: str
    reference_name: str
    start: int
    end: int
    reference_bases: str
    alternate_bases: str
    variant_type: str
    vcf_start: int
    vcf_ref: str
    vcf_alt: str
    variant_id: str | None = None
    sv_length: int | None = None
    mate_name: str | None = None
    mate_start: int | None = None
    allele_count: int | None = None
    allele_number: int | None = None
    carriers: int | None = None
    heterozygous: int | None = None
    homozygous: int | None = None
    hemizygous: int | None = None
    ploidy: int = 2
    carrier_samples: tuple[int, ...] = ()
    carrier_dosage: tuple[int, ...] = ()
    called_exceptions: tuple[int, ...] = ()
    called_exception_counts: tuple[int, ...] = ()
    gene_ids: tuple[str, ...] = ()
    filter_pass: bool = True

    @property
    def frequency(self) -> float | None:
        """Allele frequency AC/AN, or ``None`` when either is unknown or AN is 0."""
        if self.allele_count is None or not self.allele_number:
            return None
        return self.allele_count / self.allele_number
