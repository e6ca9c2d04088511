"""Writes of a VCF load: a staging partition filled by binary COPY, swapped in atomically.

Every function here runs inside one transaction on one connection, opened by
:func:`transaction`; rows arrive already encoded for binary COPY
(:mod:`beacon.storage.binary_copy`) and are streamed in as one COPY. Because the staging
table is created, filled and attached inside that one transaction, a load that fails or is
killed (even with SIGKILL) leaves nothing behind: PostgreSQL rolls the whole transaction
back and the dataset is exactly as before.

Replace: the dataset's partition is dropped and the staging table, renamed, attached in its
place (indexes are built on the staging table first, so ATTACH only adopts them).
Append: rows of the chromosomes the new file contains are deleted from the partition and the
staged rows inserted (rerunning the same append is therefore idempotent).

Dataset counts: ``variant_count`` is the number of stored alleles (rows), ``call_count`` the
number of sample x allele calls carrying a variant (sum of ``carriers``; 0 when counts come
from INFO or presence only), ``sample_count`` the samples not removed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from beacon.errors import LoadError
from beacon.model import CountSource, SecurityLevel
from beacon.storage import binary_copy, changes, db

VARIANT_COLUMNS: Final = (
    "dataset_id",
    "reference_name",
    "start",
    "end",
    "reference_bases",
    "alternate_bases",
    "variant_type",
    "vcf_start",
    "vcf_ref",
    "vcf_alt",
    "variant_id",
    "sv_length",
    "mate_name",
    "mate_start",
    "allele_count",
    "allele_number",
    "carriers",
    "heterozygous",
    "homozygous",
    "hemizygous",
    "ploidy",
    "carrier_samples",
    "carrier_dosage",
    "called_exceptions",
    "called_exception_counts",
    "gene_ids",
    "filter_pass",
)
"""Column order of the rows (see :mod:`beacon.storage.binary_copy`)."""

# Statistics for every column but the per-sample arrays, which no query filters on and whose
# sampling (detoasting thousands of large arrays) cost more than the rest of ANALYZE.
_SAMPLE_ARRAYS: Final = frozenset(
    {"carrier_samples", "carrier_dosage", "called_exceptions", "called_exception_counts"}
)
_ANALYZED_COLUMNS: Final = ", ".join(f'"{c}"' for c in VARIANT_COLUMNS if c not in _SAMPLE_ARRAYS)

# The partition indexes mirror the parent's (migrations 0001 and 0004) so that ATTACH adopts
# them.
_STAGING_INDEXES: Final = (
    "CREATE INDEX ON {t} (reference_name, start)",
    'CREATE INDEX ON {t} (reference_name, "end") WHERE "end" - start > 1000',
    "CREATE INDEX ON {t} USING gin (gene_ids)",
    "CREATE INDEX ON {t} (reference_name, vcf_start) WHERE vcf_start <> start",
)

LOCK_DATASET = "SELECT pg_advisory_xact_lock(hashtextextended('beacon.load:' || $1, 0))"
SELECT_DATASET_ROW = "SELECT assembly, count_source FROM dataset WHERE id = $1"
SELECT_SAMPLES = (
    "SELECT sample_index, sample_id, removed_at IS NOT NULL AS removed FROM sample"
    " WHERE dataset_id = $1 ORDER BY sample_index"
)
UPSERT_DATASET = """
INSERT INTO dataset (id, name, description, assembly, security_level, count_source)
VALUES ($1, coalesce($2, $1), coalesce($3, ''), $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET
    name = coalesce($2, dataset.name),
    description = coalesce($3, dataset.description),
    assembly = $4,
    security_level = $5,
    count_source = $6,
    updated_at = now()
"""
DELETE_SAMPLES = "DELETE FROM sample WHERE dataset_id = $1"
DELETE_CHROMOSOMES = "DELETE FROM {t} WHERE reference_name = ANY($1::text[])"
UPDATE_COUNTS = """
UPDATE dataset SET
    sample_count = (SELECT count(*) FROM sample WHERE dataset_id = $1 AND removed_at IS NULL),
    variant_count = (SELECT count(*) FROM variant WHERE dataset_id = $1),
    call_count = (SELECT coalesce(sum(carriers), 0) FROM variant WHERE dataset_id = $1),
    updated_at = now()
WHERE id = $1
"""
PARTITION_EXISTS = "SELECT to_regclass($1) IS NOT NULL"
# Participants who withdrew (consent 'none') stay withdrawn across reloads.
SELECT_WITHDRAWN = "SELECT sample_id FROM consent_record WHERE dataset_id = $1 AND consent = 'none'"
APPLY_CONSENT = """
UPDATE sample AS s SET consent = c.consent
FROM consent_record AS c
WHERE s.dataset_id = $1 AND c.dataset_id = $1 AND c.sample_id = s.sample_id
"""


@dataclass(frozen=True, slots=True)
class ExistingDataset:
    """What the store holds for a dataset before a load (for append compatibility checks)."""

    assembly: str
    count_source: CountSource
    samples: tuple[str, ...]
    removed: frozenset[str]


def partition_name(dataset_id: str) -> str:
    """Deterministic, safe table name of a dataset's ``variant`` partition (unquoted)."""
    readable = re.sub(r"[^a-z0-9]+", "_", dataset_id.lower())[:32].strip("_")
    digest = hashlib.sha1(dataset_id.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"variant_{readable}_{digest}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def lock_dataset(conn: asyncpg.Connection, dataset_id: str) -> ExistingDataset | None:
    """Serialise loads of one dataset (until the transaction ends); return what exists."""
    await conn.execute(LOCK_DATASET, dataset_id)
    row = await conn.fetchrow(SELECT_DATASET_ROW, dataset_id)
    if row is None:
        return None
    samples = await conn.fetch(SELECT_SAMPLES, dataset_id)
    return ExistingDataset(
        assembly=row["assembly"],
        count_source=CountSource(row["count_source"]),
        samples=tuple(r["sample_id"] for r in samples),
        removed=frozenset(r["sample_id"] for r in samples if r["removed"]),
    )


async def create_staging(conn: asyncpg.Connection, dataset_id: str) -> str:
    """Create the empty staging table for ``dataset_id``; return its (unquoted) name.

    It carries the partition constraint as a CHECK, so ATTACH needs no validation scan.
    """
    name = partition_name(dataset_id) + "_new"
    await conn.execute(f"DROP TABLE IF EXISTS {_ident(name)}")
    await conn.execute(
        f"CREATE TABLE {_ident(name)} (LIKE variant INCLUDING DEFAULTS INCLUDING CONSTRAINTS,"
        f" CHECK (dataset_id = {_literal(dataset_id)}))"
    )
    return name


async def publish(
    conn: asyncpg.Connection,
    *,
    staging: str,
    dataset_id: str,
    name: str | None,
    description: str | None,
    assembly: str,
    security_level: SecurityLevel,
    count_source: CountSource,
    samples: Sequence[str] | None,
    append: bool,
    chromosomes: Iterable[str],
) -> None:
    """Make the staged rows the dataset's (see the module docstring); update counts.

    ``samples`` replaces the dataset's sample list (indexes are positions), ``None`` keeps
    it. Must run in the transaction that created ``staging``.
    """
    await conn.execute(
        UPSERT_DATASET,
        dataset_id,
        name,
        description,
        assembly,
        security_level.value,
        count_source.value,
    )
    if samples is not None:
        await conn.execute(DELETE_SAMPLES, dataset_id)
        await conn.copy_records_to_table(
            "sample",
            records=[(dataset_id, i, s) for i, s in enumerate(samples)],
            columns=("dataset_id", "sample_index", "sample_id"),
        )
        await conn.execute(APPLY_CONSENT, dataset_id)
    part = partition_name(dataset_id)
    exists = await conn.fetchval(PARTITION_EXISTS, part)
    if append and exists:
        await conn.execute(DELETE_CHROMOSOMES.format(t=_ident(part)), sorted(set(chromosomes)))
        await conn.execute(f"INSERT INTO {_ident(part)} SELECT * FROM {_ident(staging)}")
        await conn.execute(f"DROP TABLE {_ident(staging)}")
    else:
        await conn.execute(f"ANALYZE {_ident(staging)} ({_ANALYZED_COLUMNS})")
        for statement in _STAGING_INDEXES:
            await conn.execute(statement.format(t=_ident(staging)))
        if exists:
            await conn.execute(f"DROP TABLE {_ident(part)}")
        await conn.execute(f"ALTER TABLE {_ident(staging)} RENAME TO {_ident(part)}")
        await conn.execute(
            f"ALTER TABLE variant ATTACH PARTITION {_ident(part)}"
            f" FOR VALUES IN ({_literal(dataset_id)})"
        )
    await conn.execute(UPDATE_COUNTS, dataset_id)
    await changes.announce(conn, dataset_id)


@dataclass(frozen=True, slots=True)
class LoadTransaction:
    """An open load of one dataset: its lock is held and its staging table exists.

    ``existing`` is the dataset as stored before this load (``None`` when new);
    ``withdrawn`` the sample ids whose participants withdrew consent (never loaded).
    """

    conn: asyncpg.Connection
    dataset_id: str
    staging: str
    existing: ExistingDataset | None
    withdrawn: frozenset[str]

    async def copy_encoded(self, chunks: AsyncIterable[bytes]) -> None:
        """Stream rows already in binary COPY tuple form (:mod:`beacon.storage.binary_copy`)
        into the staging table, as one COPY. Exceptions raised by ``chunks`` abort it and
        propagate; PostgreSQL refusing a row raises :class:`LoadError`."""

        async def framed() -> AsyncIterator[bytes]:
            yield binary_copy.HEADER
            async for chunk in chunks:
                if chunk:
                    yield chunk
            yield binary_copy.TRAILER

        try:
            await self.conn.copy_to_table(
                self.staging, source=framed(), columns=VARIANT_COLUMNS, format="binary"
            )
        except asyncpg.PostgresError as exc:
            raise LoadError(f"the store refused a row of {self.dataset_id}: {exc}") from exc

    async def publish(self, **kwargs: Any) -> None:
        """:func:`publish` the staged rows (see there for the arguments)."""
        try:
            await publish(self.conn, staging=self.staging, dataset_id=self.dataset_id, **kwargs)
        except asyncpg.PostgresError as exc:
            raise LoadError(f"could not publish {self.dataset_id}: {exc}") from exc


@asynccontextmanager
async def transaction(dsn: str, dataset_id: str) -> AsyncIterator[LoadTransaction]:
    """Connect, begin, lock ``dataset_id`` and create its staging table.

    Commits when the block ends normally, rolls back (leaving the store exactly as it was)
    when it raises. Raises :class:`beacon.errors.StoreUnavailable` when the store cannot be
    reached.
    """
    conn = await db.connect(dsn)
    try:
        async with db.unavailable_as_error(), conn.transaction():
            existing = await lock_dataset(conn, dataset_id)
            withdrawn = frozenset(r[0] for r in await conn.fetch(SELECT_WITHDRAWN, dataset_id))
            staging = await create_staging(conn, dataset_id)
            yield LoadTransaction(conn, dataset_id, staging, existing, withdrawn)
    finally:
        await conn.close()
