"""Allele counts from genotype arrays, vectorised over a batch of records (numpy only).

Input is an ``int16`` array ``gts`` of shape ``(ploidy, records, samples)``: the cyvcf2
per-record arrays, phase column dropped, transposed so that every operation runs over
contiguous memory. Entries are allele indexes ``>= 0``, ``-1`` for a missing allele (``.``)
and ``-2`` for "no such allele" (a haploid call padded to the widest ploidy).

Definitions (per record, per ALT ``a``):

* a sample's *called* alleles are its entries ``>= 0``; ``allele_number`` sums them, so
  ``./.`` adds 0, half-missing ``0/.`` adds 1 and a haploid ``1`` adds 1;
* the site ``ploidy`` is the widest call at the site; samples whose called count differs
  from it are the *called exceptions* (stored with their counts, for exact sample removal);
* ``dosage`` is how many of a sample's called alleles are ``a``; ``allele_count`` sums it;
* a carrier has dosage >= 1; it is *hemizygous* when it has exactly one called allele,
  *homozygous* when all of its two or more called alleles are ``a``, else *heterozygous*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class AlleleCounts:
    """Counts for ALT ``a`` (1-based) of every record in a batch; arrays have one entry per
    record, ``dosage`` has shape ``(records, samples)``."""

    allele_count: IntArray
    carriers: IntArray
    heterozygous: IntArray
    homozygous: IntArray
    hemizygous: IntArray
    dosage: npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class SiteCounts:
    """Per-record facts shared by every ALT: ``allele_number``, ``ploidy`` (one per record),
    ``called`` (records x samples) and the ``exceptions`` mask (called != ploidy)."""

    allele_number: IntArray
    ploidy: IntArray
    called: npt.NDArray[np.int8]
    exceptions: npt.NDArray[np.bool_]


def _count(gts: npt.NDArray[np.int16], test: Any) -> npt.NDArray[np.int8]:
    """Per (record, sample): over the ploidy axis, how many entries pass ``test``."""
    total: npt.NDArray[np.int8] = test(gts[0]).view(np.int8).copy()
    for p in range(1, gts.shape[0]):
        total += test(gts[p]).view(np.int8)
    return total


def site_counts(gts: npt.NDArray[np.int16]) -> SiteCounts:
    """Called-allele facts of a ``(ploidy, records, samples)`` batch."""
    called = _count(gts, lambda g: g >= 0)
    width = _count(gts, lambda g: g != -2)
    records = gts.shape[1]
    ploidy = width.max(axis=1).astype(np.int64) if gts.shape[2] else np.zeros(records, np.int64)
    exceptions = called != ploidy[:, None].astype(np.int8)
    return SiteCounts(called.sum(axis=1, dtype=np.int64), ploidy, called, exceptions)


def allele_counts(
    gts: npt.NDArray[np.int16], allele: int, called: npt.NDArray[np.int8]
) -> AlleleCounts:
    """Counts of allele index ``allele`` (1 = first ALT) in every record of the batch."""
    dosage = _count(gts, lambda g: g == allele)
    carrier = dosage > 0
    hemi = carrier & (called == 1)
    homo = (dosage >= 2) & (dosage == called)
    carriers = np.count_nonzero(carrier, axis=1).astype(np.int64)
    n_hemi = np.count_nonzero(hemi, axis=1).astype(np.int64)
    n_homo = np.count_nonzero(homo, axis=1).astype(np.int64)
    return AlleleCounts(
        allele_count=dosage.sum(axis=1, dtype=np.int64),
        carriers=carriers,
        heterozygous=carriers - n_hemi - n_homo,
        homozygous=n_homo,
        hemizygous=n_hemi,
        dosage=dosage,
    )
