"""What a load is asked to do (:class:`LoadOptions`) and what it did (:class:`LoadReport`).

Both are frozen and parsed at the edge: :class:`LoadOptions` validates the dataset id and
canonicalises the assembly on construction, raising :class:`beacon.errors.InvalidRequest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from beacon import normalize
from beacon.errors import InvalidRequest
from beacon.model import CountSource, SecurityLevel

LoadMode = Literal["replace", "append"]

DATASET_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class SkipReason:
    """Why a record or allele was not stored. Problems are fatal under ``strict``."""

    MALFORMED = "malformed"  # unparseable position, bases or breakend
    UNPLACED_CONTIG = "unplaced_contig"  # not 1..22, X, Y, MT (decoys, alts, unlocalised)
    ASSEMBLY_MISMATCH = "assembly_mismatch"  # a RefSeq accession of the other assembly
    ABSURD_LENGTH = "absurd_length"  # span longer than a chromosome or past the contig end
    UNSUPPORTED_ALLELE = "unsupported_allele"  # <*>, <NON_REF>, unknown symbolic alleles
    UNKNOWN_EXTENT = "unknown_extent"  # symbolic SV with neither END nor SVLEN
    NOT_PASS = "not_pass"  # noqa: S105 # FILTER not PASS under pass_only
    NOT_CARRIED = "not_carried"  # genotypes (or INFO AC) say nobody carries the ALT
    SPANNING_DELETION = "spanning_deletion"  # ALT '*': described by another record
    NO_ALT = "no_alt"  # ALT '.': a reference-only site
    DUPLICATE = "duplicate"  # an allele an earlier record at the same position already gave

    PROBLEMS: Final = frozenset(
        {
            MALFORMED,
            UNPLACED_CONTIG,
            ASSEMBLY_MISMATCH,
            ABSURD_LENGTH,
            UNSUPPORTED_ALLELE,
            UNKNOWN_EXTENT,
        }
    )


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How to load one VCF into one dataset.

    ``samples`` keeps only the named samples, ``exclude_samples`` drops the named ones (not
    both). ``mode="replace"`` swaps the dataset's variants for the file's; ``"append"`` adds
    the file's chromosomes, replacing rows of any chromosome the file contains (so running
    the same append twice changes nothing). ``strict`` makes any record counted under a
    problem reason (:attr:`SkipReason.PROBLEMS`) abort the load.
    """

    dataset_id: str
    assembly: str
    name: str | None = None
    description: str | None = None
    security_level: SecurityLevel = SecurityLevel.PUBLIC
    samples: tuple[str, ...] | None = None
    exclude_samples: tuple[str, ...] | None = None
    pass_only: bool = False
    mode: LoadMode = "replace"
    strict: bool = False

    def __post_init__(self) -> None:
        if not DATASET_ID_RE.match(self.dataset_id):
            raise InvalidRequest(
                f"invalid dataset id {self.dataset_id!r}: use letters, digits and . _ : -"
                " (at most 128, starting with a letter or digit)",
                parameter="dataset",
            )
        object.__setattr__(
            self, "assembly", normalize.assembly(self.assembly, parameter="assembly")
        )
        object.__setattr__(self, "security_level", SecurityLevel(self.security_level))
        if self.samples is not None and self.exclude_samples is not None:
            raise InvalidRequest(
                "give either samples or exclude_samples, not both", parameter="samples"
            )
        if self.mode not in ("replace", "append"):
            raise InvalidRequest(f"unknown load mode {self.mode!r}", parameter="mode")


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one load did. ``skipped`` maps a :class:`SkipReason` value to how many records
    (or, for per-allele reasons, alleles) it covered; ``seconds`` is wall time."""

    dataset_id: str
    records_read: int
    alleles_stored: int
    samples: int
    count_source: CountSource
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    mode: LoadMode = "replace"

    @property
    def problems(self) -> int:
        """Records skipped for a problem reason (malformed, unplaced, absurd, unsupported)."""
        return sum(n for reason, n in self.skipped.items() if reason in SkipReason.PROBLEMS)

    def summary(self) -> str:
        """One line for operators: counts, skip reasons, time and rate."""
        rate = self.records_read / self.seconds if self.seconds > 0 else 0.0
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()) if v) or "none"
        return (
            f"{self.dataset_id}: {self.records_read} records read, {self.alleles_stored} alleles"
            f" stored, {self.samples} samples, counts from {self.count_source.value};"
            f" skipped: {skipped}; {self.seconds:.1f} s ({rate:,.0f} records/s)"
        )
