"""Normalisation shared by ingestion and queries, so that both sides speak one canonical form.

Conventions (the contract every other module relies on):

* **Assemblies** are ``GRCh37`` or ``GRCh38``. Aliases: hg19, b37, hs37d5, GRCh37.p13 ->
  GRCh37; hg38, GRCh38.p14 -> GRCh38 (case-insensitive).
* **Chromosomes** are ``1``..``22``, ``X``, ``Y``, ``MT``. Accepted spellings: with or without a
  ``chr`` prefix, ``M``/``chrM``/``chrMT``, ``23``/``24`` for X/Y, and RefSeq accessions
  (``NC_000017.11``). An accession also names its assembly (``NC_000017.10`` is GRCh37).
* **Coordinates** are 0-based, half-open: a base at VCF ``POS`` has ``start = POS - 1`` and
  ``end = POS``.
* **Alleles** (sequence variants) are stored and queried in a *trimmed* form: first the shared
  suffix of reference and alternate is removed, then the shared prefix, and ``start`` moves
  right by the prefix length. An insertion therefore has ``reference = ""`` and
  ``start == end`` (the interbase point where the sequence goes); a deletion has
  ``alternate = ""``. Trimming the suffix first left-aligns an indel within the reference
  context the record carries (``CAAA>CAA`` becomes the first ``A`` deleted); no reference
  genome is consulted, so shifts beyond that context are not made. ``N`` is never trimmed,
  because it stands for an unknown base.
* **Structural variants** with a symbolic ALT (``<DEL>``, ``<DUP>``, ``<INS>``...) are stored
  from the first affected base: ``start = POS`` (0-based), because VCF ``POS`` is the padding
  base before the event; ``end = END`` (INFO, 1-based inclusive), else ``start + |SVLEN|``;
  an ``<INS>`` has ``start == end``. A breakend (BND) is its own base, ``[POS - 1, POS)``.
  See :mod:`beacon.ingest.alleles`.

Every function here is pure and raises :class:`beacon.errors.InvalidRequest` (naming the
parameter) for input it cannot interpret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from beacon.errors import InvalidRequest

ASSEMBLIES: Final = ("GRCh37", "GRCh38")

ASSEMBLY_ALIASES: Final[dict[str, str]] = {
    "grch37": "GRCh37",
    "hg19": "GRCh37",
    "b37": "GRCh37",
    "hs37d5": "GRCh37",
    "grch37.p13": "GRCh37",
    "ncbi37": "GRCh37",
    "grch38": "GRCh38",
    "hg38": "GRCh38",
    "b38": "GRCh38",
    "grch38.p13": "GRCh38",
    "grch38.p14": "GRCh38",
    "ncbi38": "GRCh38",
}

CHROMOSOMES: Final = (*(str(i) for i in range(1, 23)), "X", "Y", "MT")
"""Canonical chromosome names, in karyotype order."""

_CHROM_ORDER: Final = {name: i for i, name in enumerate(CHROMOSOMES)}

# RefSeq accession versions of the primary assembly; GRCh38's are one above GRCh37's for the
# nuclear chromosomes. The mitochondrion is NC_012920.1 (rCRS) in both.
_GRCH37_VERSIONS: Final = (
    10,
    11,
    11,
    11,
    9,
    11,
    13,
    10,
    11,
    10,
    9,
    11,
    10,
    8,
    9,
    9,
    10,
    9,
    9,
    10,
    8,
    10,
    10,
    9,
)
_REFSEQ: Final[dict[str, tuple[str, str | None]]] = {}
for _i, _v in enumerate(_GRCH37_VERSIONS, start=1):
    _name = CHROMOSOMES[_i - 1]
    _REFSEQ[f"NC_{_i:06d}.{_v}"] = (_name, "GRCh37")
    _REFSEQ[f"NC_{_i:06d}.{_v + 1}"] = (_name, "GRCh38")
_REFSEQ["NC_012920.1"] = ("MT", None)

CHROMOSOME_ALIASES: Final[dict[str, str]] = {
    **{name.lower(): name for name in CHROMOSOMES},
    "m": "MT",
    "23": "X",
    "24": "Y",
    "25": "MT",
}

_BASES_RE: Final = re.compile(r"[ACGTN]+")


def try_assembly(value: str) -> str | None:
    """The canonical assembly name for ``value``, or ``None`` where :func:`assembly` raises."""
    return ASSEMBLY_ALIASES.get(value.strip().lower())


def assembly(value: str, *, parameter: str = "assemblyId") -> str:
    """Return the canonical assembly name for ``value`` or raise :class:`InvalidRequest`."""
    canonical = try_assembly(value)
    if canonical is None:
        raise InvalidRequest(
            f"unknown assembly {value!r}; use GRCh37 or GRCh38", parameter=parameter
        )
    return canonical


def chromosome(value: str, *, parameter: str = "referenceName") -> str:
    """Return the canonical chromosome name (``1``..``22``, ``X``, ``Y``, ``MT``).

    Raises :class:`InvalidRequest` for anything else (unplaced contigs, decoys, typos).
    """
    name, _ = chromosome_and_assembly(value, parameter=parameter)
    return name


def chromosome_and_assembly(
    value: str, *, parameter: str = "referenceName"
) -> tuple[str, str | None]:
    """Like :func:`chromosome`, also returning the assembly a RefSeq accession implies.

    The assembly is ``None`` for plain names (``chr17``) and for the mitochondrion.
    """
    raw = value.strip()
    refseq = _REFSEQ.get(raw.upper())
    if refseq is not None:
        return refseq
    key = raw.lower()
    if key.startswith("chr"):
        key = key[3:]
    name = CHROMOSOME_ALIASES.get(key)
    if name is None:
        raise InvalidRequest(f"unknown reference name {value!r}", parameter=parameter)
    return name, None


def try_chromosome(value: str) -> str | None:
    """Canonical chromosome name, or ``None`` where :func:`chromosome` would raise."""
    try:
        return chromosome(value)
    except InvalidRequest:
        return None


def chromosome_order(name: str) -> int:
    """Position of a canonical chromosome in karyotype order (``1`` is 0, ``MT`` is 24)."""
    return _CHROM_ORDER[name]


def bases(value: str, *, parameter: str) -> str:
    """Upper-case a base string and check it holds only A, C, G, T and N.

    The empty string is allowed (it is how trimmed insertions and deletions are written).
    """
    upper = value.strip().upper()
    if upper and not _BASES_RE.fullmatch(upper):
        raise InvalidRequest(
            f"{parameter} must contain only the bases A, C, G, T and N", parameter=parameter
        )
    return upper


@dataclass(frozen=True, slots=True)
class TrimmedAllele:
    """A sequence allele in canonical trimmed form; 0-based half-open ``[start, end)``."""

    start: int
    end: int
    reference: str
    alternate: str


def trimmable(reference: str, alternate: str) -> bool:
    """Whether :func:`trim` could shorten these bases: both non-empty, and they share their
    last or their first base. ``False`` means they are already in trimmed form."""
    return bool(reference and alternate) and (
        reference[-1] == alternate[-1] or reference[0] == alternate[0]
    )


def trim(start: int, reference: str, alternate: str) -> TrimmedAllele:
    """Trim shared suffix, then shared prefix, of two upper-case base strings.

    ``start`` is the 0-based position of ``reference[0]``. ``N`` is never treated as shared.
    Identical inputs (no change) are returned untrimmed.
    """
    new_start, ref, alt = trim_bases(start, reference, alternate)
    return TrimmedAllele(new_start, new_start + len(ref), ref, alt)


def trim_bases(start: int, reference: str, alternate: str) -> tuple[int, str, str]:
    """:func:`trim`'s ``(start, reference, alternate)``, without building a
    :class:`TrimmedAllele` (the end is ``start + len(reference)``)."""
    if reference == alternate or not trimmable(reference, alternate):
        return start, reference, alternate
    ref, alt = reference, alternate
    while ref and alt and ref[-1] == alt[-1] and ref[-1] != "N":
        ref, alt = ref[:-1], alt[:-1]
    prefix = 0
    limit = min(len(ref), len(alt))
    while prefix < limit and ref[prefix] == alt[prefix] and ref[prefix] != "N":
        prefix += 1
    return start + prefix, ref[prefix:], alt[prefix:]


def sequence_variant_type(reference: str, alternate: str) -> str:
    """Beacon variant type of a *trimmed* sequence allele: SNP, MNP, INS, DEL or INDEL.

    INDEL is a replacement whose reference and alternate differ in length (``AC>T``).
    """
    if not reference:
        return "INS"
    if not alternate:
        return "DEL"
    if len(reference) == len(alternate):
        return "SNP" if len(reference) == 1 else "MNP"
    return "INDEL"
