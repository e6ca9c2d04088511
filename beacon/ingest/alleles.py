"""Pure conversion of one VCF ALT allele into its stored shape (no cyvcf2 here).

Coordinates out are 0-based, half-open:

* **Sequence alleles** (``REF``/``ALT`` made of A, C, G, T, N) are trimmed with
  :func:`beacon.normalize.trim`; the type is SNP, MNP, INS, DEL or INDEL.
* **Symbolic structural variants** (``<DEL>``, ``<DUP>``, ``<DUP:TANDEM>``, ``<INV>``,
  ``<CNV>``, ``<INS>``, ``<DEL:ME:ALU>``, ``<CN0>``...) store ``start = POS`` (0-based), the
  first affected base: VCF ``POS`` is the padding base before the event, so the event begins
  at 1-based ``POS + 1``. ``end`` is INFO ``END`` (1-based inclusive, hence also the 0-based
  exclusive end), else ``start + |SVLEN|``; an insertion has ``end = start`` (the interbase
  point after the padding base) and its length in ``sv_length``. ``reference_bases`` is the
  VCF REF, ``alternate_bases`` the symbolic allele.
* **Breakends** (``G]17:198982]``, ``]13:123456]T``, ``C[2:321682[``, ``G.``) store the
  breakend base itself, ``[POS - 1, POS)``, type ``BND``, and the mate's canonical chromosome
  and 0-based position (``None`` for single breakends or unplaced mates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from beacon import normalize
from beacon.ingest.options import SkipReason

MAX_SPAN: Final = 250_000_000
"""No allele on GRCh37/38 spans more bases than the longest chromosome (chr1, 249 Mb)."""

_SEQ_RE: Final = re.compile(r"^[ACGTN]+$")
_BND_RE: Final = re.compile(r"^(?:[ACGTN]*)([\[\]])([^\[\]:\s]+):(\d+)([\[\]])(?:[ACGTN]*)$")
_SINGLE_BND_RE: Final = re.compile(r"^(?:\.[ACGTN]+|[ACGTN]+\.)$")
_CNV_RE: Final = re.compile(r"^CN\d+$")
_SV_TYPES: Final = frozenset({"DEL", "DUP", "INV", "CNV", "INS"})


@dataclass(frozen=True, slots=True)
class Shape:
    """Where an allele lies and what it is; see the module docstring for the coordinates."""

    start: int
    end: int
    reference_bases: str
    alternate_bases: str
    variant_type: str
    sv_length: int | None = None
    mate_name: str | None = None
    mate_start: int | None = None


def sv_type(symbol: str) -> str | None:
    """Variant type of a symbolic allele's inner text (``DUP:TANDEM`` -> ``DUP:TANDEM``,
    ``DEL:ME:ALU`` -> ``DEL``, ``CN0`` -> ``CNV``); ``None`` when it is not a variant."""
    upper = symbol.upper()
    if upper == "DUP:TANDEM":
        return "DUP:TANDEM"
    head = upper.split(":", 1)[0]
    if head in _SV_TYPES:
        return head
    if _CNV_RE.match(head):
        return "CNV"
    return None


def shape(
    pos: int,
    ref: str,
    alt: str,
    *,
    end_info: int | None = None,
    svlen: int | None = None,
    contig_length: int | None = None,
) -> Shape | str:
    """Shape of ``alt`` at 1-based VCF ``pos`` with ``ref``, or the :class:`SkipReason` value.

    ``end_info`` is INFO END (1-based inclusive), ``svlen`` INFO SVLEN for this allele;
    both matter only for symbolic alleles. Pure; never raises for bad input.
    """
    if pos < 1:
        return SkipReason.MALFORMED
    ref_u = ref.upper()
    alt_u = alt.upper()
    if alt_u in (".", ""):
        return SkipReason.NO_ALT
    if alt_u == "*":
        return SkipReason.SPANNING_DELETION
    result: Shape | str
    if alt_u.startswith("<") and alt_u.endswith(">"):
        result = _symbolic(pos, ref_u, alt_u, end_info, svlen)
    elif "[" in alt_u or "]" in alt_u or "." in alt_u:
        result = _breakend(pos, ref_u, alt_u)
    else:
        if not _SEQ_RE.match(ref_u) or not _SEQ_RE.match(alt_u):
            return SkipReason.MALFORMED
        t = normalize.trim(pos - 1, ref_u, alt_u)
        result = Shape(
            t.start,
            t.end,
            t.reference,
            t.alternate,
            normalize.sequence_variant_type(t.reference, t.alternate),
        )
    if isinstance(result, str):
        return result
    if result.end - result.start > MAX_SPAN or (
        contig_length is not None and result.end > contig_length
    ):
        return SkipReason.ABSURD_LENGTH
    return result


def _symbolic(pos: int, ref: str, alt: str, end_info: int | None, svlen: int | None) -> Shape | str:
    kind = sv_type(alt[1:-1])
    if kind is None:
        return SkipReason.UNSUPPORTED_ALLELE
    if ref and not _SEQ_RE.match(ref):
        return SkipReason.MALFORMED
    start = pos
    length = abs(svlen) if svlen is not None else None
    if kind == "INS":
        end = start
    elif end_info is not None:
        end = end_info
    elif length is not None:
        end = start + length
    else:
        return SkipReason.UNKNOWN_EXTENT
    if end < start:
        return SkipReason.MALFORMED
    if length is None:
        length = end - start
    if length > MAX_SPAN:
        return SkipReason.ABSURD_LENGTH
    return Shape(start, end, ref, alt, kind, sv_length=length)


def _breakend(pos: int, ref: str, alt: str) -> Shape | str:
    if ref and not _SEQ_RE.match(ref):
        return SkipReason.MALFORMED
    if _SINGLE_BND_RE.match(alt):
        return Shape(pos - 1, pos, ref, alt, "BND")
    m = _BND_RE.match(alt)
    if m is None or m.group(1) != m.group(4):
        return SkipReason.MALFORMED
    mate_pos = int(m.group(3))
    if mate_pos < 1:
        return SkipReason.MALFORMED
    mate = normalize.try_chromosome(m.group(2))
    return Shape(
        pos - 1,
        pos,
        ref,
        alt,
        "BND",
        mate_name=mate,
        mate_start=mate_pos - 1 if mate is not None else None,
    )
