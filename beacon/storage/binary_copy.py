"""PostgreSQL binary COPY encoding of ``variant`` rows (pure; no database access).

The reader process encodes its rows here so that the loading process only streams bytes to
PostgreSQL. The layout is PostgreSQL's documented binary COPY format: a signature header,
then per row a field count and, per field, a length (-1 for NULL) and the value in network
byte order; arrays as ``ndim, has_null, element oid, length, lower bound`` followed by
length-prefixed elements.

A row (:data:`beacon.storage.load.VARIANT_COLUMNS` order) is built from three pieces so
that each is made where its inputs are known, and as few Python calls per row as possible:

* the *head*, fields ``dataset_id`` .. ``mate_start`` (the allele; :class:`RowHeads`);
* the *counts*, fields ``allele_count`` .. ``called_exception_counts``
  (:func:`info_counts` for rows without genotypes; :func:`genotype_counts`,
  :func:`int4_arrays` and :func:`int2_arrays` vectorised over a batch of rows with them);
* the *tail*, fields ``gene_ids`` and ``filter_pass`` (:func:`row_tail`).

:func:`encode_row` encodes one whole row tuple (the reference the pieces are tested against).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER: Final = struct.pack(">h", -1)

_INT4_OID, _INT2_OID, _TEXT_OID = 23, 21, 25
_NULL = struct.pack(">i", -1)
_I8 = struct.Struct(">iq")
_I8I8 = struct.Struct(">iqiq")
_I4 = struct.Struct(">ii")
_I4I4 = struct.Struct(">iiii")
_I2 = struct.Struct(">ih")
_LEN = struct.Struct(">i")
_ARRAY_HEAD = struct.Struct(">iiiIii")
_TRUE = struct.pack(">ib", 1, 1)
_FALSE = struct.pack(">ib", 1, 0)
_EMPTY = {oid: struct.pack(">iiiI", 12, 0, 0, oid) for oid in (_INT4_OID, _INT2_OID, _TEXT_OID)}
_ROW_START = struct.pack(">h", 27)
_SNP = b"\x00\x00\x00\x03SNP"
_NULL3 = _NULL * 3
_NO_GENOTYPES: Final = (
    _NULL * 4
    + _I2.pack(2, 2)
    + _EMPTY[_INT4_OID]
    + _EMPTY[_INT2_OID]
    + _EMPTY[_INT4_OID]
    + _EMPTY[_INT2_OID]
)
_TAILS = {True: _EMPTY[_TEXT_OID] + _TRUE, False: _EMPTY[_TEXT_OID] + _FALSE}
# Fields allele_count .. ploidy for rows with genotypes: six int4 and one int2, each with
# its length prefix (54 bytes).
_COUNTS_DTYPE = np.dtype(
    [(f"{name}{part}", ">i4") for name in ("ac", "an", "c", "het", "hom", "hemi") for part in "lv"]
    + [("pl", ">i4"), ("pv", ">i2")]
)
_INT4_ELEMENT = np.dtype([("l", ">i4"), ("v", ">i4")])
_INT2_ELEMENT = np.dtype([("l", ">i4"), ("v", ">i2")])


def text(value: str | None) -> bytes:
    """One text field (``None`` -> NULL)."""
    if value is None:
        return _NULL
    raw = value.encode()
    return _LEN.pack(len(raw)) + raw


def text_array(values: Sequence[str]) -> bytes:
    """One ``text[]`` field (one dimension, lower bound 1, no NULL elements)."""
    if not values:
        return _EMPTY[_TEXT_OID]
    elements = b"".join(text(v) for v in values)
    return _ARRAY_HEAD.pack(20 + len(elements), 1, 0, _TEXT_OID, len(values), 1) + elements


def boolean(value: bool | None) -> bytes:
    """One ``boolean`` field (``None`` -> NULL)."""
    if value is None:
        return _NULL
    return _TRUE if value else _FALSE


def _int8(value: int | None) -> bytes:
    return _NULL if value is None else _I8.pack(8, value)


def _int4(value: int | None) -> bytes:
    return _NULL if value is None else _I4.pack(4, value)


class RowHeads:
    """Heads (fields ``dataset_id`` .. ``mate_start``) of one dataset's rows.

    Caches the encoded dataset id and chromosome names; :meth:`snp` is the fast path for the
    common single-base substitution (one uppercase base each side).
    """

    __slots__ = ("_bases", "_prefix", "_prefixes")

    def __init__(self, dataset_id: str) -> None:
        self._prefix = _ROW_START + text(dataset_id)
        self._prefixes: dict[str, bytes] = {}
        # (REF, ALT) -> (reference_bases, alternate_bases, 'SNP'), (vcf_ref, vcf_alt)
        self._bases: dict[tuple[str, str], tuple[bytes, bytes]] = {}

    def _chrom(self, reference_name: str) -> bytes:
        prefix = self._prefixes.get(reference_name)
        if prefix is None:
            prefix = self._prefixes[reference_name] = self._prefix + text(reference_name)
        return prefix

    def snp(
        self, reference_name: str, pos: int, ref: str, alt: str, variant_id: str | None
    ) -> bytes:
        """Head of a SNP at 1-based ``pos`` (stored ``[pos - 1, pos)``)."""
        pair = self._bases.get((ref, alt))
        if pair is None:
            both = text(ref) + text(alt)
            pair = self._bases[ref, alt] = (both + _SNP, both)
        return b"".join(
            (
                self._chrom(reference_name),
                _I8I8.pack(8, pos - 1, 8, pos),
                pair[0],
                _I8.pack(8, pos - 1),
                pair[1],
                _NULL if variant_id is None else text(variant_id),
                _NULL3,
            )
        )

    def head(  # noqa: PLR0917
        self,
        reference_name: str,
        start: int,
        end: int,
        reference_bases: str,
        alternate_bases: str,
        variant_type: str,
        vcf_start: int,
        vcf_ref: str,
        vcf_alt: str,
        variant_id: str | None,
        sv_length: int | None,
        mate_name: str | None,
        mate_start: int | None,
    ) -> bytes:
        """Head of any allele (coordinates 0-based, half-open, as stored)."""
        return b"".join(
            (
                self._chrom(reference_name),
                _I8I8.pack(8, start, 8, end),
                text(reference_bases),
                text(alternate_bases),
                text(variant_type),
                _I8.pack(8, vcf_start),
                text(vcf_ref),
                text(vcf_alt),
                text(variant_id),
                _int8(sv_length),
                text(mate_name),
                _int8(mate_start),
            )
        )


def info_counts(allele_count: int | None, allele_number: int | None) -> bytes:
    """Counts of a row without genotypes: AC and AN (or NULL), no carrier facts, ploidy 2."""
    if allele_count is not None and allele_number is not None:
        return _I4I4.pack(4, allele_count, 4, allele_number) + _NO_GENOTYPES
    return _int4(allele_count) + _int4(allele_number) + _NO_GENOTYPES


def genotype_counts(  # noqa: PLR0917
    allele_count: npt.ArrayLike,
    allele_number: npt.ArrayLike,
    carriers: npt.ArrayLike,
    heterozygous: npt.ArrayLike,
    homozygous: npt.ArrayLike,
    hemizygous: npt.ArrayLike,
    ploidy: npt.ArrayLike,
) -> list[bytes]:
    """Fields ``allele_count`` .. ``ploidy`` of rows with genotypes, one ``bytes`` per row
    (all arguments are equally long integer arrays)."""
    ac = np.asarray(allele_count)
    out = np.empty(len(ac), dtype=_COUNTS_DTYPE)
    for name, values in (
        ("ac", ac),
        ("an", allele_number),
        ("c", carriers),
        ("het", heterozygous),
        ("hom", homozygous),
        ("hemi", hemizygous),
    ):
        out[name + "l"] = 4
        out[name + "v"] = values
    out["pl"] = 2
    out["pv"] = ploidy
    raw = out.tobytes()
    size = _COUNTS_DTYPE.itemsize
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def _arrays(values: npt.ArrayLike, lengths: Sequence[int], oid: int) -> list[bytes]:
    element = _INT4_ELEMENT if oid == _INT4_OID else _INT2_ELEMENT
    flat = np.asarray(values)
    body = np.empty(len(flat), dtype=element)
    body["l"] = element["v"].itemsize
    body["v"] = flat
    raw = body.tobytes()
    size = element.itemsize
    empty = _EMPTY[oid]
    head = _ARRAY_HEAD.pack
    out: list[bytes] = []
    offset = 0
    for n in lengths:
        if n:
            end = offset + n * size
            out.append(head(20 + n * size, 1, 0, oid, n, 1) + raw[offset:end])
            offset = end
        else:
            out.append(empty)
    return out


def int4_arrays(values: npt.ArrayLike, lengths: Sequence[int]) -> list[bytes]:
    """``int4[]`` fields: row ``i`` holds the next ``lengths[i]`` of the concatenated
    ``values``."""
    return _arrays(values, lengths, _INT4_OID)


def int2_arrays(values: npt.ArrayLike, lengths: Sequence[int]) -> list[bytes]:
    """``int2[]`` fields, as :func:`int4_arrays`."""
    return _arrays(values, lengths, _INT2_OID)


def row_tail(gene_ids: Sequence[str], filter_pass: bool) -> bytes:
    """Fields ``gene_ids`` and ``filter_pass``."""
    if not gene_ids:
        return _TAILS[bool(filter_pass)]
    return text_array(gene_ids) + boolean(bool(filter_pass))


def encode_row(row: Sequence[Any]) -> bytes:
    """One whole ``variant`` row in :data:`beacon.storage.load.VARIANT_COLUMNS` order.

    Integer array columns may be numpy arrays or sequences of ``int``; the count columns
    ``allele_count`` .. ``hemizygous`` may be ``None``.
    """
    head = RowHeads(row[0]).head(*row[1:14])
    counts = b"".join(_int4(v) for v in row[14:20]) + _I2.pack(2, row[20])
    arrays = b"".join(
        _arrays(row[i], [len(row[i])], oid)[0]
        for i, oid in ((21, _INT4_OID), (22, _INT2_OID), (23, _INT4_OID), (24, _INT2_OID))
    )
    return head + counts + arrays + row_tail(row[25], row[26])
