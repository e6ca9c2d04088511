"""Pure, frozen domain objects shared by storage, ingestion, the query API and the aggregator.

Coordinates are 0-based, half-open (see :mod:`beacon.normalize`). Nothing here does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from beacon.errors import InvalidRequest
from beacon.frozen import quick_init


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


class CountMode(enum.StrEnum):
    """How low counts are reported to callers below record granularity (:mod:`beacon.policy`)."""

    EXACT = "exact"  # as they are
    FLOOR = "floor"  # 0 < n < t reported as t
    ROUND = "round"  # n > 0 rounded up to a multiple of t


MAX_CARRIER_SPREAD: Final = 1000
"""Largest ``publicMinCarriersSpread`` accepted."""


@dataclass(frozen=True, slots=True)
class DisclosurePolicy:
    """Per-dataset disclosure limits (decisions in :mod:`beacon.policy`). Defaults protect.

    ``anonymous``/``registered``/``controlled`` are the highest granularity per access tier
    (visibility itself comes from the security level); they never decrease with the tier.
    ``count_mode``/``count_threshold`` adjust low counts; ``count_threshold`` is at least 1.
    ``public_min_carriers`` is k: anonymous callers learn nothing about an allele carried by
    fewer than k eligible participants (0 or 1 disables it). ``public_min_carriers_spread``
    (s) raises each allele's own threshold above k by a keyed pseudo-random whole number in
    ``[0, s)`` (:func:`beacon.policy.allele_min_carriers`), so that the answer for an allele
    carried by about k participants does not follow from the published k; 0 or 1 = exactly k.

    Raises :class:`InvalidRequest` (naming the camelCase field) for inconsistent values.
    """

    anonymous: Granularity = Granularity.BOOLEAN
    registered: Granularity = Granularity.COUNT
    controlled: Granularity = Granularity.RECORD
    count_mode: CountMode = CountMode.FLOOR
    count_threshold: int = 5
    public_min_carriers: int = 20
    public_min_carriers_spread: int = 20

    def __post_init__(self) -> None:
        if self.registered.rank < self.anonymous.rank:
            raise InvalidRequest(
                "registered granularity may not be lower than anonymous", parameter="registered"
            )
        if self.controlled.rank < self.registered.rank:
            raise InvalidRequest(
                "controlled granularity may not be lower than registered", parameter="controlled"
            )
        if self.count_threshold < 1:
            raise InvalidRequest("countThreshold must be at least 1", parameter="countThreshold")
        if self.public_min_carriers < 0:
            raise InvalidRequest(
                "publicMinCarriers must not be negative", parameter="publicMinCarriers"
            )
        if not 0 <= self.public_min_carriers_spread <= MAX_CARRIER_SPREAD:
            raise InvalidRequest(
                f"publicMinCarriersSpread must be between 0 and {MAX_CARRIER_SPREAD}",
                parameter="publicMinCarriersSpread",
            )


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
    policy: DisclosurePolicy = DisclosurePolicy()
    """What each access tier may learn from this dataset."""


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


# --- Queries -----------------------------------------------------------------------------


class QueryKind(enum.StrEnum):
    """The shape of a genomic variant query (Beacon v2 ``g_variants``)."""

    SEQUENCE = "sequence"  # start (+ referenceBases) + alternateBases: one allele
    RANGE = "range"  # any allele overlapping [start, end)
    BRACKET = "bracket"  # start in [start_min, start_max] and end in [end_min, end_max]
    GENE = "gene"  # alleles annotated with, or lying in, a gene
    IDENTIFIER = "identifier"  # one variant by its variantInternalId


class IncludeResultsets(enum.StrEnum):
    """Which per-dataset result sets a response lists (``includeResultsetResponses``)."""

    HIT = "HIT"
    MISS = "MISS"
    ALL = "ALL"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class VariantTypeMatch:
    """Stored ``variant_type`` values a queried variantType stands for.

    A stored type matches when it is one of ``exact``, or its family (the part before the first
    ``:``, so ``DEL:ME:ALU`` is in family ``DEL``) is one of ``families``. ``structural_only``
    restricts the match to symbolic / breakend alleles (copy-number terms never match a
    one-base sequence deletion).
    """

    query_term: str
    exact: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    structural_only: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class VariantQuery:
    """One normalised genomic variant query. Coordinates are 0-based, half-open.

    ``reference_name`` is canonical (``17``, ``X``, ``MT``); ``assembly`` is ``GRCh37``,
    ``GRCh38`` or ``None`` (any). For SEQUENCE queries ``start``/``end`` and the bases are the
    allele in the trimmed form of :func:`beacon.normalize.trim` (``N`` in the bases matches
    exactly one base); ``reference_bases`` is ``None`` when the caller gave none, and then the
    allele is matched on its trimmed *or* its VCF spelling at ``start`` (``vcf_start``).
    For RANGE, ``[start, end)`` is the window. For BRACKET, ``start``..``start_max`` and
    ``end``..``end_max`` are inclusive bounds on the allele's start and end.
    ``variant_min_length``/``variant_max_length`` bound the allele length in bases.

    ``vcf_bounds`` (BRACKET only; set for Beacon v1 requests) lets the bounds also be met by
    the allele as the VCF wrote it: its start is ``vcf_start`` (the padding base before an
    indel or a symbolic allele) and its end the later of the stored end and ``vcf_start`` plus
    the length of the VCF REF; ``reference_bases``/``alternate_bases`` are then compared with
    the VCF REF/ALT on that reading. ``mate_start`` is the 0-based position of a breakend's
    mate (Beacon v1.1 ``end`` beside ``mateName``).
    """

    kind: QueryKind
    reference_name: str | None = None
    assembly: str | None = None
    start: int | None = None
    end: int | None = None
    start_max: int | None = None
    end_max: int | None = None
    reference_bases: str | None = None
    alternate_bases: str | None = None
    variant_type: VariantTypeMatch | None = None
    variant_min_length: int | None = None
    variant_max_length: int | None = None
    mate_name: str | None = None
    gene_id: str | None = None
    variant_id: str | None = None
    vcf_bounds: bool = False
    mate_start: int | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class BeaconRequest:
    """A parsed, validated Beacon v2 ``g_variants`` request.

    ``requested_granularity`` is what the caller asked for (the answer may be lower);
    ``dataset_ids`` is ``None`` for "every dataset the caller may see". ``skip``/``limit``
    page the records of each result set (``limit`` is at least 1). ``received`` is the
    ``receivedRequestSummary`` to echo (camelCase JSON, as the caller sent it), and
    ``requested_schemas`` the schema ids the caller asked for.
    """

    query: VariantQuery
    requested_granularity: Granularity = Granularity.BOOLEAN
    include_resultset_responses: IncludeResultsets = IncludeResultsets.HIT
    skip: int = 0
    limit: int = 10
    dataset_ids: tuple[str, ...] | None = None
    filters: tuple[str, ...] = ()
    test_mode: bool = False
    api_version: str = "v2.0.0"
    requested_schemas: tuple[str, ...] = ()
    received: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@quick_init
@dataclass(frozen=True, slots=True)
class Found:
    """What one dataset holds for one query: every matching allele counted, one page read.

    ``total`` counts the matching alleles; ``records`` is the requested page (empty unless
    records were asked for).
    """

    total: int
    records: tuple[VariantRecord, ...] = ()

    @property
    def exists(self) -> bool:
        return self.total > 0


@dataclass(frozen=True, slots=True)
class AlleleTotals:
    """Sums over the alleles of one dataset matching a query (Beacon v1 dataset responses).

    ``variants`` counts matching alleles; the other sums are ``None`` when no matching allele
    has that count known. ``max_frequency`` is the highest AC/AN among them.
    """

    variants: int
    allele_count: int | None = None
    allele_number: int | None = None
    carriers: int | None = None
    max_frequency: float | None = None
