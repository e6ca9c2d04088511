"""Datasets as stored: listing, reading, removing a dataset, removing samples exactly.

:func:`remove_samples` takes samples out of every stored count of a dataset without reading
the VCF again: each row keeps its carriers (``carrier_samples`` with ``carrier_dosage``) and
the samples whose called-allele count differs from the site ploidy (``called_exceptions``
with ``called_exception_counts``), so a removed sample's dosage, called alleles and zygosity
are known exactly. Rows that nobody carries any more are deleted, like a load never stores
them. Everything happens in one transaction under the dataset's load lock.

Every function raises :class:`beacon.errors.StoreUnavailable` when the store cannot answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from beacon.errors import NotFound
from beacon.model import CountSource, Dataset, SecurityLevel
from beacon.policy import policy_from_json
from beacon.storage import changes
from beacon.storage.db import unavailable_as_error
from beacon.storage.load import LOCK_DATASET, UPDATE_COUNTS, partition_name

SELECT_DATASETS = """
SELECT id, name, description, assembly, security_level, version, created_at, updated_at,
       count_source, sample_count, variant_count, call_count, external_url,
       data_use_conditions, disclosure_policy
FROM dataset
"""
DATASET_BY_ID = SELECT_DATASETS + " WHERE id = $1"
ALL_DATASETS = SELECT_DATASETS + " ORDER BY id"
DELETE_DATASET = "DELETE FROM dataset WHERE id = $1"
SELECT_SAMPLE_INDEXES = """
SELECT sample_id, sample_index, removed_at IS NOT NULL AS removed
FROM sample WHERE dataset_id = $1 AND sample_id = ANY($2::text[])
"""
MARK_REMOVED = """
UPDATE sample SET removed_at = now() WHERE dataset_id = $1 AND sample_index = ANY($2::int[])
"""

# $1 dataset id, $2 indexes of the samples to remove. A removed sample's called alleles are
# its exception count where it has one, else the site ploidy; a removed carrier is
# hemizygous with one called allele, homozygous when all its (>= 2) called alleles are this
# one, heterozygous otherwise (the same rules as beacon.ingest.genotypes).
REMOVE_FROM_ROWS = """
UPDATE variant AS v SET
    (allele_count, allele_number, carriers, heterozygous, homozygous, hemizygous,
     carrier_samples, carrier_dosage, called_exceptions, called_exception_counts) = (
    SELECT
        v.allele_count - coalesce(sum(c.d) FILTER (WHERE c.gone), 0),
        v.allele_number - (
            SELECT coalesce(sum(coalesce(e.n, v.ploidy)), 0)
            FROM unnest($2::int[]) AS x (s)
            LEFT JOIN unnest(v.called_exceptions, v.called_exception_counts) AS e (s, n)
                ON e.s = x.s),
        v.carriers - count(*) FILTER (WHERE c.gone),
        v.heterozygous - count(*) FILTER (WHERE c.gone AND c.called <> 1
                                          AND NOT (c.d >= 2 AND c.d = c.called)),
        v.homozygous - count(*) FILTER (WHERE c.gone AND c.d >= 2 AND c.d = c.called),
        v.hemizygous - count(*) FILTER (WHERE c.gone AND c.called = 1),
        coalesce(array_agg(c.s ORDER BY c.o) FILTER (WHERE NOT c.gone), '{}'),
        coalesce(array_agg(c.d ORDER BY c.o) FILTER (WHERE NOT c.gone), '{}'),
        ARRAY(SELECT e.s FROM unnest(v.called_exceptions, v.called_exception_counts)
                  WITH ORDINALITY AS e (s, n, o)
              WHERE e.s <> ALL($2::int[]) ORDER BY e.o),
        ARRAY(SELECT e.n FROM unnest(v.called_exceptions, v.called_exception_counts)
                  WITH ORDINALITY AS e (s, n, o)
              WHERE e.s <> ALL($2::int[]) ORDER BY e.o)
    FROM (
        SELECT u.s, u.d, u.o, u.s = ANY($2::int[]) AS gone,
               coalesce((SELECT e.n FROM unnest(v.called_exceptions, v.called_exception_counts)
                             AS e (s, n) WHERE e.s = u.s LIMIT 1), v.ploidy) AS called
        FROM unnest(v.carrier_samples, v.carrier_dosage) WITH ORDINALITY AS u (s, d, o)
    ) AS c
)
WHERE v.dataset_id = $1 AND v.allele_number IS NOT NULL
"""
DELETE_UNCARRIED = """
DELETE FROM variant WHERE dataset_id = $1 AND allele_number IS NOT NULL AND allele_count = 0
"""


def _json(raw: Any) -> dict[str, Any]:
    value = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return dict(value) if isinstance(value, dict) else {}


def _dataset(row: asyncpg.Record) -> Dataset:
    return Dataset(
        id=row["id"],
        name=row["name"],
        assembly=row["assembly"],
        security_level=SecurityLevel(row["security_level"]),
        description=row["description"],
        version=row["version"],
        external_url=row["external_url"],
        data_use_conditions=_json(row["data_use_conditions"]),
        count_source=CountSource(row["count_source"]),
        sample_count=row["sample_count"],
        variant_count=row["variant_count"],
        call_count=row["call_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        policy=policy_from_json(_json(row["disclosure_policy"])),
    )


async def list_datasets(conn: asyncpg.Connection | asyncpg.Pool) -> list[Dataset]:
    """Every dataset, ordered by id."""
    async with unavailable_as_error():
        rows = await conn.fetch(ALL_DATASETS)
    return [_dataset(r) for r in rows]


async def get_dataset(conn: asyncpg.Connection | asyncpg.Pool, dataset_id: str) -> Dataset | None:
    """The dataset ``dataset_id``, or ``None`` when there is none."""
    async with unavailable_as_error():
        row = await conn.fetchrow(DATASET_BY_ID, dataset_id)
    return None if row is None else _dataset(row)


async def remove_dataset(conn: asyncpg.Connection, dataset_id: str) -> bool:
    """Delete a dataset with its variants and samples; ``False`` when it did not exist.

    The consent register (``consent_record``) is kept: it outlives any one load.
    """
    part = '"' + partition_name(dataset_id) + '"'
    async with unavailable_as_error(), conn.transaction():
        await conn.execute(LOCK_DATASET, dataset_id)
        await conn.execute(f"DROP TABLE IF EXISTS {part}")
        status = await conn.execute(DELETE_DATASET, dataset_id)
        await changes.announce(conn, dataset_id)
    return bool(status.split()[-1] != "0")


async def remove_samples(
    conn: asyncpg.Connection, dataset_id: str, sample_ids: Sequence[str]
) -> int:
    """Remove samples from every count of ``dataset_id``; return how many were removed now.

    Samples already removed are skipped (so a repeat changes nothing). Raises
    :class:`NotFound` (naming the parameter ``samples``) for an unknown dataset or sample id,
    before changing anything.
    """
    async with unavailable_as_error(), conn.transaction():
        await conn.execute(LOCK_DATASET, dataset_id)
        if await conn.fetchval("SELECT 1 FROM dataset WHERE id = $1", dataset_id) is None:
            raise NotFound(f"unknown dataset {dataset_id!r}", parameter="dataset")
        rows = await conn.fetch(SELECT_SAMPLE_INDEXES, dataset_id, list(sample_ids))
        unknown = sorted(set(sample_ids) - {r["sample_id"] for r in rows})
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise NotFound(
                f"{len(unknown)} sample(s) not in dataset {dataset_id}: {shown}",
                parameter="samples",
            )
        indexes = sorted(r["sample_index"] for r in rows if not r["removed"])
        if indexes:
            await conn.execute(REMOVE_FROM_ROWS, dataset_id, indexes)
            await conn.execute(DELETE_UNCARRIED, dataset_id)
            await conn.execute(MARK_REMOVED, dataset_id, indexes)
            await conn.execute(UPDATE_COUNTS, dataset_id)
            await changes.announce(conn, dataset_id)
    return len(indexes)
