"""Read queries: the variant lookups behind ``g_variants`` and the dataset catalogue.

Every lookup is ONE SQL statement, built only from the named fragments below (values always
travel as ``$n`` parameters, so asyncpg prepares and caches each shape once), restricted to
the dataset ids the caller may see, and run with a deadline.

Coordinates are 0-based, half-open, as stored. Index use:

* short alleles (``end - start <= 1000``) are found from ``variant_position``
  (``reference_name, start``) with ``start >= q_start - 1000``;
* long alleles (structural variants) from the partial index ``variant_long``
  (``reference_name, end`` where ``end - start > 1000``);
* gene annotations from the GIN index ``variant_genes``.

Raises :class:`beacon.errors.StoreUnavailable` when the database cannot answer in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final

import asyncpg

from beacon.errors import StoreUnavailable
from beacon.model import (
    AlleleTotals,
    Dataset,
    Found,
    Granularity,
    QueryKind,
    VariantQuery,
    VariantRecord,
)
from beacon.storage.coalesce import Coalescer
from beacon.storage.datasets import list_datasets
from beacon.storage.db import unavailable_as_error
from beacon.storage.exact_index import ExactIndex, eligible_carriers_sql, exact_lookup
from beacon.storage.lender import Lender

Reader = Coalescer | Lender | asyncpg.Pool
"""Where the variant queries run: a :class:`Coalescer` on the hot path, or any pool."""

SHORT_SPAN: Final = 1000
"""Alleles spanning more bases than this are 'long' (the ``variant_long`` partial index)."""

RECORD_COLUMNS: Final = (
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
    "gene_ids",
    "filter_pass",
)
"""Columns read for records (never the per-sample carrier arrays)."""

_COLS: Final = ", ".join(f'v."{c}"' for c in RECORD_COLUMNS)


# Allele length in bases: sequence alleles by their span (or inserted length), symbolic and
# breakend alleles by SVLEN when known, else by their span.
_LENGTH: Final = (
    "(CASE WHEN v.alternate_bases ~ '^[ACGTN]*$' "
    'THEN greatest(v."end" - v.start, char_length(v.alternate_bases)) '
    'ELSE coalesce(abs(v.sv_length), v."end" - v.start) END)'
)
_STRUCTURAL: Final = "v.alternate_bases !~ '^[ACGTN]*$'"


class _Sql:
    """Accumulates one statement's conditions and parameters ($1 is always the dataset ids)."""

    def __init__(self, dataset_ids: Sequence[str]) -> None:
        self.args: list[Any] = [list(dataset_ids)]
        self.where: list[str] = ["v.dataset_id = ANY($1::text[])"]

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, condition: str) -> None:
        self.where.append(condition)

    def bases(self, column: str, value: str) -> None:
        """``column`` equals ``value``, where each ``N`` in ``value`` matches one base."""
        self.add(self.same_bases(f"v.{column}", value))

    def same_bases(self, expression: str, value: str) -> str:
        """The condition ``expression`` equals ``value``, each ``N`` matching one base."""
        if "N" in value:
            return f"{expression} LIKE {self.arg(value.replace('N', '_'))}"
        return f"{expression} = {self.arg(value)}"

    def clause(self) -> str:
        return " AND ".join(self.where)


def _filters(sql: _Sql, query: VariantQuery) -> None:
    vt = query.variant_type
    if vt is not None:
        parts = []
        if vt.exact:
            parts.append(f"v.variant_type = ANY({sql.arg(list(vt.exact))}::text[])")
        if vt.families:
            parts.append(
                f"split_part(v.variant_type, ':', 1) = ANY({sql.arg(list(vt.families))}::text[])"
            )
        sql.add("(" + " OR ".join(parts) + ")")
        if vt.structural_only:
            sql.add(_STRUCTURAL)
    if query.variant_min_length is not None:
        sql.add(f"{_LENGTH} >= {sql.arg(query.variant_min_length)}")
    if query.variant_max_length is not None:
        sql.add(f"{_LENGTH} <= {sql.arg(query.variant_max_length)}")
    if query.mate_name is not None:
        sql.add(f"v.mate_name = {sql.arg(query.mate_name)}")
    if query.mate_start is not None:
        sql.add(f"v.mate_start = {sql.arg(query.mate_start)}")


def _matching(query: VariantQuery, dataset_ids: Sequence[str]) -> tuple[str, list[Any]]:
    """A SELECT of every matching row's columns (``v.*`` subset), and its parameters."""
    if query.kind is QueryKind.RANGE:
        return _range(query, dataset_ids)
    if query.kind is QueryKind.GENE:
        return _gene(query, dataset_ids)
    sql = _Sql(dataset_ids)
    sql.add(f"v.reference_name = {sql.arg(query.reference_name)}")
    assert query.start is not None
    if query.kind is QueryKind.SEQUENCE and query.reference_bases is not None:
        sql.add(f"v.start = {sql.arg(query.start)}")
        sql.bases("reference_bases", query.reference_bases)
        sql.bases("alternate_bases", query.alternate_bases or "")
    elif query.kind is QueryKind.SEQUENCE:
        # No reference given: the alternate may be spelled trimmed (at the trimmed start) or
        # as the VCF wrote it (at the VCF position). Trimming moves the start right by at most
        # the alternate's length, so the index range below holds both.
        alt = query.alternate_bases or ""
        start = sql.arg(query.start)
        pattern = sql.arg(alt.replace("N", "_"))
        sql.add(f"v.start >= {start} AND v.start <= {sql.arg(query.start + len(alt))}")
        sql.add(
            f"((v.start = {start} AND v.alternate_bases LIKE {pattern}) OR "
            f"(v.vcf_start = {start} AND v.vcf_alt LIKE {pattern}))"
        )
    elif query.kind is QueryKind.BRACKET and query.vcf_bounds:
        _vcf_bracket(sql, query)
    elif query.kind is QueryKind.BRACKET:
        sql.add(f"v.start BETWEEN {sql.arg(query.start)} AND {sql.arg(query.start_max)}")
        sql.add(f'v."end" BETWEEN {sql.arg(query.end)} AND {sql.arg(query.end_max)}')
        if query.reference_bases is not None:
            sql.bases("reference_bases", query.reference_bases)
        if query.alternate_bases is not None:
            sql.bases("alternate_bases", query.alternate_bases)
    elif query.kind is QueryKind.IDENTIFIER:
        ref = query.reference_bases or ""
        start = sql.arg(query.start)
        sql.add(f"v.start >= {start} AND v.start <= {sql.arg(query.start + len(ref))}")
        sql.add(f"v.vcf_start = {start}")
        # Ids are matched whatever the case the VCF wrote (the query's alleles are upper-case).
        sql.add(f"upper(v.vcf_ref) = {sql.arg(ref)}")
        sql.add(f"upper(v.vcf_alt) = {sql.arg(query.alternate_bases or '')}")
    else:  # pragma: no cover - every kind is handled above
        raise AssertionError(query.kind)
    _filters(sql, query)
    return f"SELECT {_COLS} FROM variant v WHERE {sql.clause()}", sql.args


def _vcf_bracket(sql: _Sql, query: VariantQuery) -> None:
    """A bracket met by the allele as stored (trimmed) or as the VCF wrote it (Beacon v1).

    On the VCF reading the allele starts at ``vcf_start`` and ends at the later of the stored
    end (INFO END of a symbolic allele) and ``vcf_start`` + len(REF). Rows whose stored start
    is their VCF start are found through ``variant_position``, the others (indels, symbolic
    alleles: the padding base) through ``variant_vcf_start``.
    """
    lo, hi = sql.arg(query.start), sql.arg(query.start_max)
    end_lo, end_hi = sql.arg(query.end), sql.arg(query.end_max)
    vcf_end = 'greatest(v."end", v.vcf_start + char_length(v.vcf_ref))'
    stored = [f"v.start BETWEEN {lo} AND {hi}", f'v."end" BETWEEN {end_lo} AND {end_hi}']
    as_vcf = [f"{vcf_end} BETWEEN {end_lo} AND {end_hi}"]
    if query.reference_bases is not None:
        stored.append(sql.same_bases("v.reference_bases", query.reference_bases))
        as_vcf.append(sql.same_bases("upper(v.vcf_ref)", query.reference_bases))
    if query.alternate_bases is not None:
        stored.append(sql.same_bases("v.alternate_bases", query.alternate_bases))
        as_vcf.append(sql.same_bases("upper(v.vcf_alt)", query.alternate_bases))
    same_start = " AND ".join([stored[0], "v.vcf_start = v.start", *as_vcf])
    padded = " AND ".join([f"v.vcf_start BETWEEN {lo} AND {hi}", "v.vcf_start <> v.start", *as_vcf])
    sql.add(f"(({' AND '.join(stored)}) OR ({same_start}) OR ({padded}))")


def _range(query: VariantQuery, dataset_ids: Sequence[str]) -> tuple[str, list[Any]]:
    # Any overlap with [start, end). An insertion (start == end) overlaps when its point lies
    # in [start, end). Short and long alleles are found through different indexes.
    sql = _Sql(dataset_ids)
    chrom = sql.arg(query.reference_name)
    q_start = sql.arg(query.start)
    q_end = sql.arg(query.end)
    # A literal, not a parameter: the planner must see "end - start > 1000" to use the
    # partial index variant_long, also in generic plans.
    span = str(SHORT_SPAN)
    assert query.start is not None
    lowest = sql.arg(max(query.start - SHORT_SPAN, 0))
    sql.add(f"v.reference_name = {chrom}")
    if query.alternate_bases is not None:
        sql.bases("alternate_bases", query.alternate_bases)
    _filters(sql, query)
    common = sql.clause()
    short = (
        f"SELECT {_COLS} FROM variant v WHERE {common} "
        f"AND v.start >= {lowest} AND v.start < {q_end} "
        f'AND v."end" - v.start <= {span} AND greatest(v."end", v.start + 1) > {q_start}'
    )
    long = (
        f"SELECT {_COLS} FROM variant v WHERE {common} "
        f'AND v."end" - v.start > {span} AND v."end" > {q_start} AND v.start < {q_end}'
    )
    return f"{short} UNION ALL {long}", sql.args


def _gene(query: VariantQuery, dataset_ids: Sequence[str]) -> tuple[str, list[Any]]:
    # Alleles annotated with the gene at load time, plus alleles overlapping the gene's
    # coordinates when the operator loaded a gene table (for the dataset's assembly).
    sql = _Sql(dataset_ids)
    gene = sql.arg(query.gene_id)
    if query.alternate_bases is not None:
        sql.bases("alternate_bases", query.alternate_bases)
    _filters(sql, query)
    common = sql.clause()
    annotated = (
        f"SELECT {_COLS} FROM variant v "
        f"WHERE {common} AND v.gene_ids && ARRAY[{gene}::text, upper({gene}::text)]"
    )
    located = (
        f"SELECT {_COLS} FROM gene g JOIN dataset d ON d.assembly = g.assembly "
        f"JOIN variant v ON v.dataset_id = d.id AND v.reference_name = g.reference_name "
        f'AND v.start < g."end" AND greatest(v."end", v.start + 1) > g.start '
        f"WHERE {common} AND upper(g.symbol) = upper({gene}::text)"
    )
    return f"{annotated} UNION {located}", sql.args


# Each allele's keyed draw (beacon.policy.allele_draw): the first 4 bytes of SHA-256 over
# "key:reference_name:start:reference_bases:alternate_bases", as an unsigned integer.
_DRAW: Final = (
    "('x' || encode(substring(sha256(convert_to((SELECT t.key FROM threshold_key t) || ':' || "
    "h.reference_name || ':' || h.start || ':' || h.reference_bases || ':' || h.alternate_bases,"
    " 'UTF8')) FROM 1 FOR 4), 'hex'))::bit(32)::bigint"
)


def _hide_rare(
    matching: tuple[str, list[Any]], min_carriers: Mapping[str, tuple[int, int]] | None
) -> tuple[str, list[Any]]:
    """k-anonymity (:mod:`beacon.policy`): keep rows of a dataset named in ``min_carriers``
    (dataset id -> (k, spread)) only when at least :func:`beacon.policy.allele_min_carriers`
    eligible participants carry them (``carriers``, else the lower bound
    ``ceil(allele_count / ploidy)``; unknown both ways: hidden)."""
    inner, args = matching
    if not min_carriers:
        return inner, args
    ids = list(min_carriers)
    args = [*args, ids, [min_carriers[i][0] for i in ids], [min_carriers[i][1] for i in ids]]
    a, b, c = f"${len(args) - 2}", f"${len(args) - 1}", f"${len(args)}"
    return (
        f"SELECT h.* FROM ({inner}) h LEFT JOIN unnest({a}::text[], {b}::int[], {c}::int[])"
        " AS k (id, k, s) ON k.id = h.dataset_id WHERE k.k IS NULL"
        f" OR {eligible_carriers_sql('h')}"
        f" >= k.k + CASE WHEN k.s > 1 THEN {_DRAW} % k.s ELSE 0 END",
        args,
    )


def count_sql(
    query: VariantQuery,
    dataset_ids: Sequence[str],
    min_carriers: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[str, list[Any]]:
    """Statement giving ``(dataset_id, total)`` per dataset with at least one hit."""
    inner, args = _hide_rare(_matching(query, dataset_ids), min_carriers)
    return f"SELECT m.dataset_id, count(*) AS total FROM ({inner}) m GROUP BY 1", args


def record_sql(
    query: VariantQuery,
    dataset_ids: Sequence[str],
    skip: int,
    limit: int,
    min_carriers: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[str, list[Any]]:
    """Statement giving one page of rows per dataset, each with its dataset's total.

    The first row of every dataset is always returned (so that its total is known even when
    the page lies beyond the end); callers drop rows whose ``rn`` is ``<= skip``.
    """
    inner, args = _hide_rare(_matching(query, dataset_ids), min_carriers)
    args = [*args, skip, skip + limit]
    lo, hi = f"${len(args) - 1}", f"${len(args)}"
    return (
        "SELECT * FROM (SELECT m.*, count(*) OVER w AS total, row_number() OVER "
        '(PARTITION BY m.dataset_id ORDER BY m.start, m."end", m.reference_bases, '
        f"m.alternate_bases) AS rn FROM ({inner}) m WINDOW w AS (PARTITION BY m.dataset_id)) r "
        f"WHERE r.rn = 1 OR (r.rn > {lo} AND r.rn <= {hi}) ORDER BY r.dataset_id, r.rn",
        args,
    )


def totals_sql(
    query: VariantQuery,
    dataset_ids: Sequence[str],
    min_carriers: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[str, list[Any]]:
    """Statement giving, per dataset with a hit, the sums of :class:`AlleleTotals`."""
    inner, args = _hide_rare(_matching(query, dataset_ids), min_carriers)
    return (
        "SELECT m.dataset_id, count(*) AS variants, sum(m.allele_count) AS allele_count, "
        "sum(m.allele_number) AS allele_number, sum(m.carriers) AS carriers, "
        "max(m.allele_count::float8 / nullif(m.allele_number, 0)) AS max_frequency "
        f"FROM ({inner}) m GROUP BY 1",
        args,
    )


def _record(row: asyncpg.Record) -> VariantRecord:
    values = {c: row[c] for c in RECORD_COLUMNS}
    values["gene_ids"] = tuple(values["gene_ids"] or ())
    return VariantRecord(**values)


async def _fetch(db: Reader, sql: str, args: Sequence[Any], timeout_s: float) -> list[Any]:
    if isinstance(db, Coalescer | Lender):
        return await db.fetch(sql, args, timeout_s=timeout_s)
    async with unavailable_as_error(), db.acquire(timeout=timeout_s) as conn:
        rows: list[Any] = await conn.fetch(sql, *args, timeout=timeout_s)
    return rows


async def find_variants(
    pool: Reader,
    query: VariantQuery,
    dataset_ids: Sequence[str],
    *,
    granularity: Granularity,
    skip: int = 0,
    limit: int = 10,
    timeout_s: float,
    min_carriers: Mapping[str, tuple[int, int]] | None = None,
    index: ExactIndex | None = None,
) -> dict[str, Found]:
    """Matching alleles per dataset id (datasets without a hit are absent).

    ``min_carriers`` (dataset id -> (k, spread)) leaves out those datasets' alleles carried by
    fewer than each allele's own threshold, k to k + spread - 1 (k-anonymity for anonymous
    callers, see :func:`beacon.policy.allele_min_carriers`).

    Only ``dataset_ids`` are searched (an empty sequence searches nothing). Records are read
    only at ``Granularity.RECORD`` (``skip``/``limit`` page them per dataset); otherwise only
    totals. ``timeout_s`` bounds the whole call, connection wait included. Raises
    :class:`StoreUnavailable` when the database is down or does not answer in time.

    An exact lookup (:func:`beacon.storage.exact_index.exact_lookup`) is answered from
    ``index`` without a round trip when the index covers every dataset searched.
    """
    if not dataset_ids:
        return {}
    if index is not None and exact_lookup(query, granularity):
        counts = index.counts(query, dataset_ids, min_carriers)
        if counts is not None:
            return {dataset_id: Found(total) for dataset_id, total in counts.items()}
    if granularity is Granularity.RECORD:
        sql, args = record_sql(query, dataset_ids, skip, limit, min_carriers)
    else:
        sql, args = count_sql(query, dataset_ids, min_carriers)
    rows = await _fetch(pool, sql, args, timeout_s)
    found: dict[str, Found] = {}
    if granularity is not Granularity.RECORD:
        for row in rows:
            found[row["dataset_id"]] = Found(int(row["total"]))
        return found
    pages: dict[str, list[VariantRecord]] = {}
    for row in rows:
        dataset_id = row["dataset_id"]
        page = pages.setdefault(dataset_id, [])
        found[dataset_id] = Found(int(row["total"]))
        if row["rn"] > skip:
            page.append(_record(row))
    return {k: Found(v.total, tuple(pages[k])) for k, v in found.items()}


async def allele_totals(
    pool: Reader,
    query: VariantQuery,
    dataset_ids: Sequence[str],
    *,
    timeout_s: float,
    min_carriers: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, AlleleTotals]:
    """Per dataset id with at least one matching allele, the sums of its counts.

    Only ``dataset_ids`` are searched; ``min_carriers`` as in :func:`find_variants`. Raises
    :class:`StoreUnavailable` as :func:`find_variants`.
    """
    if not dataset_ids:
        return {}
    sql, args = totals_sql(query, dataset_ids, min_carriers)
    rows = await _fetch(pool, sql, args, timeout_s)

    def optional(value: Any) -> int | None:
        return None if value is None else int(value)

    return {
        row["dataset_id"]: AlleleTotals(
            variants=int(row["variants"]),
            allele_count=optional(row["allele_count"]),
            allele_number=optional(row["allele_number"]),
            carriers=optional(row["carriers"]),
            max_frequency=row["max_frequency"],
        )
        for row in rows
    }


async def fetch_datasets(pool: asyncpg.Pool, *, timeout_s: float) -> list[Dataset]:
    """Every stored dataset, ordered by id (:func:`beacon.storage.datasets.list_datasets`),
    within ``timeout_s`` seconds. Raises :class:`StoreUnavailable`."""
    async with unavailable_as_error():
        return await asyncio.wait_for(list_datasets(pool), timeout_s)


async def ping(pool: asyncpg.Pool, *, timeout_s: float) -> None:
    """Check that the database answers; raises :class:`StoreUnavailable` otherwise."""
    async with unavailable_as_error(), pool.acquire(timeout=timeout_s) as conn:
        value = await conn.fetchval("SELECT 1", timeout=timeout_s)
    if value != 1:  # pragma: no cover - a server that answers 1 with anything else is broken
        raise StoreUnavailable("the variant store gave an unexpected answer")
