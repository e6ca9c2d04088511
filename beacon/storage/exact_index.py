"""An in-memory copy of what exact allele lookups need, so that they never leave the process.

An *exact* lookup is a sequence query with both alleles given in plain bases (no ``N``), no
variant type, length or mate filter, answered at ``boolean`` or ``count`` granularity: the
most common question a beacon is asked ("is chr17:43045711 T>C here, and how often?"). In
SQL it is ``reference_name = .. AND start = .. AND reference_bases = .. AND alternate_bases
= ..`` restricted to the caller's datasets, with k-anonymity for anonymous callers
(:func:`beacon.storage.queries.count_sql`). :class:`ExactIndex` answers the same question
from a dict built from the ``variant`` table, with the same counting rules:

* each stored row that matches counts once for its dataset;
* a dataset named in ``min_carriers`` keeps a row only when its eligible carriers
  (``carriers``, else ``ceil(allele_count / ploidy)``; unknown: never) reach the allele's own
  threshold :func:`beacon.policy.allele_min_carriers`, drawn with the store's
  ``threshold_key``.

Keys are the stored (trimmed, 0-based) allele: ``reference_name``, ``start``, ``reference_bases``
and ``alternate_bases`` joined by tabs, which no chromosome name or allele can hold. Each value
packs the dataset's number in the index and the eligible carriers (+1, 0 = unknown) into one
int, or a tuple of such ints when several rows share the allele. Measured: about 100 bytes per
stored allele (99 MB per worker for the query benchmark's 1,034,818; docs/benchmarks.md).

An index covers whole datasets (:attr:`ExactIndex.covers`); a lookup over a dataset it does
not cover returns ``None`` and the caller asks PostgreSQL. Keeping it current is
:mod:`beacon.storage.index_keeper`'s job; this module only builds and reads it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import asyncpg

from beacon.model import Granularity, QueryKind, VariantQuery
from beacon.policy import allele_draw

_CARRIER_BITS: Final = 32
_CARRIER_MASK: Final = (1 << _CARRIER_BITS) - 1


def eligible_carriers_sql(row: str) -> str:
    """The SQL lower bound on the eligible participants carrying row ``row``'s allele
    (``carriers``, else ``ceil(allele_count / ploidy)``; NULL when neither is known), as
    :func:`beacon.policy.eligible_carriers`. The one definition behind both k-anonymity in
    :func:`beacon.storage.queries.count_sql` and the carriers this index holds."""
    return f"coalesce({row}.carriers, ({row}.allele_count + {row}.ploidy - 1) / {row}.ploidy)"


# The datasets, smallest first; the rows of those that fit, keyed as ExactIndex expects.
SELECT_SIZES: Final = "SELECT id, variant_count FROM dataset ORDER BY variant_count, id"
SELECT_KEY: Final = "SELECT key FROM threshold_key"
SELECT_ROWS: Final = (
    "SELECT v.reference_name || E'\\t' || v.start || E'\\t' || v.reference_bases || E'\\t' || "
    f"v.alternate_bases, {eligible_carriers_sql('v')} FROM variant v WHERE v.dataset_id = $1"
)
FETCH_ROWS: Final = 20_000
"""Rows read per round trip while building (between them the event loop serves requests)."""


def exact_lookup(query: VariantQuery, granularity: Granularity) -> bool:
    """Whether ``query`` at ``granularity`` is an exact lookup :class:`ExactIndex` answers."""
    return (
        query.kind is QueryKind.SEQUENCE
        and granularity is not Granularity.RECORD
        and query.reference_bases is not None
        and query.alternate_bases is not None
        and "N" not in query.reference_bases
        and "N" not in query.alternate_bases
        and query.variant_type is None
        and query.variant_min_length is None
        and query.variant_max_length is None
        and query.mate_name is None
        and query.mate_start is None
    )


def allele_key(reference_name: str, start: int, reference_bases: str, alternate_bases: str) -> str:
    """The index key of a stored allele (0-based start, trimmed bases)."""
    return f"{reference_name}\t{start}\t{reference_bases}\t{alternate_bases}"


class ExactIndex:
    """Exact-lookup answers for the datasets it covers. Immutable once built."""

    __slots__ = ("_entries", "_ids", "_key", "covers")

    def __init__(
        self,
        threshold_key: str,
        datasets: Sequence[str],
        rows: Iterable[tuple[int, str, int | None]] = (),
    ) -> None:
        """``datasets`` are the covered dataset ids; ``rows`` are (position of the dataset in
        ``datasets``, :func:`allele_key`, eligible carriers or ``None``)."""
        self._key = threshold_key
        self._ids: tuple[str, ...] = tuple(datasets)
        self.covers: frozenset[str] = frozenset(self._ids)
        self._entries: dict[str, int | tuple[int, ...]] = {}
        for dataset, key, carriers in rows:
            self.add(dataset, key, carriers)

    def add(self, dataset: int, key: str, carriers: int | None) -> None:
        """Count one stored row (only while building)."""
        code = (dataset << _CARRIER_BITS) | (0 if carriers is None else carriers + 1)
        entries = self._entries
        old = entries.get(key)
        if old is None:
            entries[key] = code
        elif isinstance(old, int):
            entries[key] = (old, code)
        else:
            entries[key] = (*old, code)

    def __len__(self) -> int:
        """The number of distinct alleles indexed."""
        return len(self._entries)

    def counts(
        self,
        query: VariantQuery,
        dataset_ids: Sequence[str],
        min_carriers: Mapping[str, tuple[int, int]] | None = None,
    ) -> dict[str, int] | None:
        """Matching rows per dataset id (absent: none) of an exact lookup, as
        :func:`beacon.storage.queries.count_sql` counts them; ``None`` when a dataset in
        ``dataset_ids`` is not covered (ask PostgreSQL). ``query`` must satisfy
        :func:`exact_lookup`."""
        covers = self.covers
        for dataset_id in dataset_ids:
            if dataset_id not in covers:
                return None
        assert query.reference_name is not None
        assert query.start is not None
        ref, alt = query.reference_bases or "", query.alternate_bases or ""
        entry = self._entries.get(allele_key(query.reference_name, query.start, ref, alt))
        if entry is None:
            return {}
        out: dict[str, int] = {}
        wanted = dataset_ids if len(dataset_ids) <= 4 else set(dataset_ids)
        draw: int | None = None
        for code in (entry,) if isinstance(entry, int) else entry:
            dataset_id = self._ids[code >> _CARRIER_BITS]
            if dataset_id not in wanted:
                continue
            rule = min_carriers.get(dataset_id) if min_carriers else None
            if rule is not None:
                carriers = (code & _CARRIER_MASK) - 1  # -1: unknown
                k, spread = rule
                if carriers < k:
                    continue
                # The allele's own threshold is k + draw % spread, in [k, k + spread - 1]:
                # the keyed draw is only needed for carriers inside that band.
                if spread > 1 and carriers < k + spread - 1:
                    if draw is None:
                        draw = allele_draw(self._key, query.reference_name, query.start, ref, alt)
                    if carriers < k + draw % spread:
                        continue
            out[dataset_id] = out.get(dataset_id, 0) + 1
        return out


async def read_index(
    conn: asyncpg.Connection, *, max_alleles: int, timeout_s: float = 60.0
) -> ExactIndex:
    """Build an index from the store, in one snapshot, of the smallest datasets whose alleles
    add up to at most ``max_alleles``.

    Reads :data:`FETCH_ROWS` rows per round trip, yielding to the event loop between them;
    ``timeout_s`` bounds each round trip. Raises asyncpg's errors (the caller decides).
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        key = await conn.fetchval(SELECT_KEY, timeout=timeout_s)
        chosen: list[str] = []
        total = 0
        for row in await conn.fetch(SELECT_SIZES, timeout=timeout_s):
            size = row["variant_count"] or 0
            if total + size > max_alleles:
                break
            chosen.append(row["id"])
            total += size
        index = ExactIndex(key, chosen)
        for position, dataset_id in enumerate(chosen):
            cursor = await conn.cursor(SELECT_ROWS, dataset_id)
            while True:
                rows = await cursor.fetch(FETCH_ROWS, timeout=timeout_s)
                for key_text, carriers in rows:
                    index.add(position, key_text, carriers)
                if len(rows) < FETCH_ROWS:
                    break
                await asyncio.sleep(0)
    return index
