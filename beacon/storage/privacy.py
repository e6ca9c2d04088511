"""Privacy state in the store: query budgets, the audit log, disclosure policies and consent.

Budgets are leased in slices by one atomic locking ``UPDATE`` (:func:`lease_budget`, used by
the web app through :mod:`beacon.budget_leases`) or charged one query at a time by one
atomic ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (:func:`charge_budget`); either way any
number of parallel callers can never take an identity past its limit. Audit rows are
appended one at a time (:func:`record_query`) or in batches by binary COPY
(:func:`write_audit`). Audit rows
hold who asked, when, which datasets at which granularity, and never a token or the queried
allele. Every function raises :class:`beacon.errors.StoreUnavailable` when the database
cannot answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from beacon.errors import NotFound
from beacon.frozen import quick_init
from beacon.model import Consent, Granularity
from beacon.policy import DisclosurePolicy, policy_from_json, policy_to_json
from beacon.storage import audit_copy
from beacon.storage.db import unavailable_as_error

Executor = asyncpg.Connection | asyncpg.Pool

# -- budgets ----------------------------------------------------------------------------------

# $1 identity, $2 window in seconds, $3 limit (>= 1). A row comes back only when the query is
# within budget: the WHERE of DO UPDATE leaves an exhausted row untouched and returns nothing.
# The conflicting row is locked for the statement, so concurrent charges serialise on it.
CHARGE_BUDGET = """
INSERT INTO query_budget AS b (identity, window_start, used)
VALUES ($1, now(), 1)
ON CONFLICT (identity) DO UPDATE SET
    window_start = CASE WHEN b.window_start <= now() - make_interval(secs => $2)
                        THEN now() ELSE b.window_start END,
    used = CASE WHEN b.window_start <= now() - make_interval(secs => $2)
                THEN 1 ELSE b.used + 1 END
WHERE b.window_start <= now() - make_interval(secs => $2) OR b.used < $3
RETURNING used, window_start
"""
SELECT_BUDGET = "SELECT used, window_start FROM query_budget WHERE identity = $1"
DELETE_BUDGET = "DELETE FROM query_budget WHERE identity = $1"
DELETE_ALL_BUDGETS = "DELETE FROM query_budget"


@dataclass(frozen=True, slots=True)
class BudgetCharge:
    """The outcome of charging one query: ``allowed``, queries ``used`` in the window (after
    this one, when allowed), the ``limit``, and when the window ends (``resets_at``, UTC)."""

    allowed: bool
    used: int
    limit: int
    resets_at: datetime | None

    def retry_after_s(self, now: datetime) -> int:
        """Whole seconds until the window ends (at least 1), for a ``Retry-After`` header."""
        if self.resets_at is None:
            return 1
        return max(1, int((self.resets_at - now).total_seconds() + 0.999))


async def charge_budget(db: Executor, identity: str, *, limit: int, window_s: int) -> BudgetCharge:
    """Charge one query to ``identity``'s budget of ``limit`` queries per ``window_s`` seconds.

    Atomic: of N concurrent charges against a fresh budget exactly ``min(N, limit)`` are
    allowed. A ``limit`` of 0 refuses without touching the store. Windows are fixed: they start
    at the first query after the previous window ended.
    """
    if limit <= 0:
        return BudgetCharge(False, 0, limit, None)
    window = timedelta(seconds=window_s)
    async with unavailable_as_error():
        row = await db.fetchrow(CHARGE_BUDGET, identity, float(window_s), limit)
        if row is not None:
            return BudgetCharge(True, row["used"], limit, row["window_start"] + window)
        current = await db.fetchrow(SELECT_BUDGET, identity)
    resets = current["window_start"] + window if current is not None else None
    used = current["used"] if current is not None else limit
    return BudgetCharge(False, used, limit, resets)


# One lease: up to $4 queries of $1's budget ($3 per window of $2 seconds), never more than
# remain, a quarter of what remains when that is less (so that several processes share it).
# The sub-select locks the row and returns its newest version, so the grant is computed from
# the committed state of every other lease; the outer UPDATE writes it. No row comes back
# when the identity has no row yet (see INSERT_LEASE).
LEASE_BUDGET = """
UPDATE query_budget AS b
SET window_start = o.start_at, used = o.base + o.granted
FROM (
    SELECT l.identity, l.start_at, l.base,
           LEAST($4::int, GREATEST(1, ($3::int - l.base) / 4), GREATEST($3::int - l.base, 0))
               AS granted
    FROM (
        SELECT identity,
               CASE WHEN expired THEN now() ELSE window_start END AS start_at,
               CASE WHEN expired THEN 0 ELSE used END AS base
        FROM (
            SELECT identity, used, window_start,
                   window_start <= now() - make_interval(secs => $2) AS expired
            FROM query_budget WHERE identity = $1 FOR UPDATE
        ) AS locked
    ) AS l
) AS o
WHERE b.identity = o.identity
RETURNING o.granted, b.used,
          -- now() is this transaction's start; one that began before a concurrent insert of
          -- the window committed would see more than a whole window left. Never more than
          -- $2: a lease then ends no later than the window does.
          LEAST(extract(epoch FROM b.window_start + make_interval(secs => $2) - now())::float8,
                $2::float8) AS remaining_s
"""
# The first lease of an identity: nothing comes back when another one inserted it first.
INSERT_LEASE = """
INSERT INTO query_budget (identity, window_start, used)
VALUES ($1, now(), LEAST($4::int, GREATEST(1, $3::int / 4), $3::int))
ON CONFLICT (identity) DO NOTHING
RETURNING used AS granted, used, $2::float8 AS remaining_s
"""


@dataclass(frozen=True, slots=True)
class BudgetLease:
    """Queries granted to one process by :func:`lease_budget`: ``granted`` (0 = spent),
    ``used`` in the window after the grant, and ``remaining_s``, the seconds from the
    statement's start until the window ends (the grant is valid until then, not after)."""

    granted: int
    used: int
    remaining_s: float


async def lease_budget(
    db: Executor, identity: str, *, limit: int, window_s: int, most: int
) -> BudgetLease:
    """Take up to ``most`` queries of ``identity``'s budget (``limit`` per ``window_s``
    seconds) for local spending, atomically: the grants of all concurrent callers, in every
    process, never add up to more than ``limit`` in one window. A grant is at most a quarter
    of what remains (at least 1), so several processes serving one identity each get some.

    A ``limit`` of 0 grants nothing without touching the store. One statement when the
    identity has a row (the usual case), at most three otherwise. Raises
    :class:`beacon.errors.StoreUnavailable` when the database cannot answer.
    """
    if limit <= 0:
        return BudgetLease(0, 0, float(window_s))
    args = (identity, float(window_s), limit, max(1, most))
    async with unavailable_as_error():
        row = await db.fetchrow(LEASE_BUDGET, *args)
        if row is None:
            row = await db.fetchrow(INSERT_LEASE, *args)
        if row is None:  # inserted by a concurrent first lease: it exists now
            row = await db.fetchrow(LEASE_BUDGET, *args)
    if row is None:  # pragma: no cover - deleted between the statements (budget reset)
        return BudgetLease(0, 0, 1.0)
    return BudgetLease(int(row["granted"]), int(row["used"]), float(row["remaining_s"]))


async def reset_budget(db: Executor, identity: str | None = None) -> int:
    """Forget ``identity``'s budget (every identity's when ``None``); return rows removed."""
    async with unavailable_as_error():
        if identity is None:
            status = await db.execute(DELETE_ALL_BUDGETS)
        else:
            status = await db.execute(DELETE_BUDGET, identity)
    return int(status.split()[-1])


# -- audit log --------------------------------------------------------------------------------

INSERT_AUDIT = """
INSERT INTO audit_log (subject, client_address, tier, endpoint, datasets, granularities,
                       returned_granularity, answer_exists, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
SELECT_AUDIT = """
SELECT id, at, subject, client_address, tier, endpoint, datasets, granularities,
       returned_granularity, answer_exists, status
FROM audit_log
WHERE ($1::timestamptz IS NULL OR at >= $1)
  AND ($2::text IS NULL OR subject = $2 OR client_address = $2)
ORDER BY id DESC
LIMIT $3
"""


@quick_init
@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One answered query. ``datasets`` and ``granularities`` are parallel (the granularity
    each dataset answered at); ``returned_granularity`` is the response's. ``at`` is set by
    the store (``None`` before writing)."""

    tier: str
    endpoint: str
    datasets: tuple[str, ...]
    granularities: tuple[Granularity, ...]
    returned_granularity: Granularity
    subject: str | None = None
    client_address: str | None = None
    exists: bool | None = None
    status: int = 200
    at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if len(self.datasets) != len(self.granularities):
            raise ValueError("datasets and granularities must be parallel")


async def record_query(db: Executor, entry: AuditEntry) -> None:
    """Append ``entry`` to the audit log."""
    async with unavailable_as_error():
        await db.execute(
            INSERT_AUDIT,
            entry.subject,
            entry.client_address,
            entry.tier,
            entry.endpoint,
            list(entry.datasets),
            [g.value for g in entry.granularities],
            entry.returned_granularity.value,
            entry.exists,
            entry.status,
        )


AUDIT_COLUMNS = (
    "at",
    "subject",
    "client_address",
    "tier",
    "endpoint",
    "datasets",
    "granularities",
    "returned_granularity",
    "answer_exists",
    "status",
)


async def write_audit(db: Executor, entries: Sequence[AuditEntry], *, timeout_s: float) -> None:
    """Append ``entries`` to the audit log in one binary COPY (one transaction: all or none),
    encoded by :mod:`beacon.storage.audit_copy`.

    An entry's ``at`` is kept when set (the time the query was answered), else the time of
    this call. Raises :class:`beacon.errors.StoreUnavailable` when the database cannot take
    them within ``timeout_s`` seconds.
    """
    if entries:
        await _copy_audit(db, audit_copy.encode_rows(entries, datetime.now(UTC)), timeout_s)


async def write_audit_rows(
    db: Executor, rows: Sequence[audit_copy.Row], *, timeout_s: float
) -> None:
    """:func:`write_audit` for rows as :class:`beacon.audit_writer.AuditWriter` buffers them
    (:data:`beacon.storage.audit_copy.Row`, each with its own time)."""
    if rows:
        await _copy_audit(db, audit_copy.encode(rows), timeout_s)


async def _copy_audit(db: Executor, payload: bytes, timeout_s: float) -> None:
    async with unavailable_as_error():
        await db.copy_to_table(
            "audit_log",
            source=_chunks(payload),  # not bytes: asyncpg would take them for a file name
            columns=AUDIT_COLUMNS,
            format="binary",
            timeout=timeout_s,
        )


async def _chunks(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


async def read_audit(
    db: Executor, *, since: datetime | None = None, who: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest ``limit`` audit entries, newest first; ``who`` matches subject or address."""
    async with unavailable_as_error():
        rows = await db.fetch(SELECT_AUDIT, since, who, limit)
    return [
        AuditEntry(
            id=r["id"],
            at=r["at"],
            subject=r["subject"],
            client_address=r["client_address"],
            tier=r["tier"],
            endpoint=r["endpoint"],
            datasets=tuple(r["datasets"]),
            granularities=tuple(Granularity(g) for g in r["granularities"]),
            returned_granularity=Granularity(r["returned_granularity"]),
            exists=r["answer_exists"],
            status=r["status"],
        )
        for r in rows
    ]


# -- disclosure policies ----------------------------------------------------------------------

SELECT_POLICIES = "SELECT id, disclosure_policy FROM dataset"
SELECT_POLICY = "SELECT disclosure_policy FROM dataset WHERE id = $1"
UPDATE_POLICY = "UPDATE dataset SET disclosure_policy = $2::jsonb, updated_at = now() WHERE id = $1"


def _json_object(raw: Any) -> Mapping[str, Any]:
    # asyncpg returns jsonb as text unless a codec is set; accept both.
    value = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return value if isinstance(value, Mapping) else {}


async def dataset_policies(db: Executor) -> dict[str, DisclosurePolicy]:
    """Dataset id -> its disclosure policy (stored values over the defaults)."""
    async with unavailable_as_error():
        rows = await db.fetch(SELECT_POLICIES)
    return {r["id"]: policy_from_json(_json_object(r["disclosure_policy"])) for r in rows}


async def get_policy(db: Executor, dataset_id: str) -> DisclosurePolicy:
    """The disclosure policy of ``dataset_id``. Raises :class:`NotFound` for an unknown id."""
    async with unavailable_as_error():
        row = await db.fetchrow(SELECT_POLICY, dataset_id)
    if row is None:
        raise NotFound(f"unknown dataset {dataset_id!r}", parameter="dataset")
    return policy_from_json(_json_object(row["disclosure_policy"]))


async def set_policy(db: Executor, dataset_id: str, policy: DisclosurePolicy) -> None:
    """Store ``policy`` for ``dataset_id`` (in full, so later default changes do not alter it).

    Raises :class:`NotFound` for an unknown id.
    """
    async with unavailable_as_error():
        status = await db.execute(
            UPDATE_POLICY, dataset_id, orjson.dumps(policy_to_json(policy)).decode()
        )
    if status.split()[-1] == "0":
        raise NotFound(f"unknown dataset {dataset_id!r}", parameter="dataset")


# -- consent ----------------------------------------------------------------------------------

UPSERT_CONSENT_RECORD = """
INSERT INTO consent_record (dataset_id, sample_id, consent, updated_at)
SELECT $1, s.sample_id, s.consent, now()
FROM unnest($2::text[], $3::text[]) AS s (sample_id, consent)
ON CONFLICT (dataset_id, sample_id) DO UPDATE SET consent = excluded.consent, updated_at = now()
"""
UPDATE_SAMPLE_CONSENT = """
UPDATE sample AS t SET consent = s.consent, consent_updated_at = now()
FROM unnest($2::text[], $3::text[]) AS s (sample_id, consent)
WHERE t.dataset_id = $1 AND t.sample_id = s.sample_id AND t.consent <> s.consent
"""
SELECT_CONSENT_RECORDS = (
    "SELECT sample_id, consent FROM consent_record WHERE dataset_id = $1 ORDER BY sample_id"
)
SELECT_WITHDRAWN = (
    "SELECT sample_id FROM consent_record WHERE dataset_id = $1 AND consent = 'none'"
    " ORDER BY sample_id"
)
SELECT_SAMPLE_CONSENT = """
SELECT sample_index, sample_id, consent, removed_at IS NOT NULL AS removed
FROM sample WHERE dataset_id = $1 ORDER BY sample_index
"""
MARK_WITHDRAWN = """
UPDATE sample SET withdrawn_at = coalesce(withdrawn_at, now())
WHERE dataset_id = $1 AND sample_id = ANY($2::text[])
"""
UPDATE_DATA_USE = """
UPDATE dataset SET data_use_conditions = $2::jsonb, updated_at = now() WHERE id = $1
"""
DATASET_EXISTS = "SELECT EXISTS (SELECT 1 FROM dataset WHERE id = $1)"
LOCK_DATASET = "SELECT pg_advisory_xact_lock(hashtextextended('beacon.load:' || $1, 0))"


@dataclass(frozen=True, slots=True)
class SampleConsent:
    """A stored sample's consent; ``removed`` when its contribution is no longer counted."""

    sample_index: int
    sample_id: str
    consent: Consent
    removed: bool


async def lock_dataset(conn: asyncpg.Connection, dataset_id: str) -> None:
    """Serialise with loads of ``dataset_id`` until the transaction ends (the loader's lock).

    Raises :class:`NotFound` for an unknown dataset.
    """
    await conn.execute(LOCK_DATASET, dataset_id)
    if not await conn.fetchval(DATASET_EXISTS, dataset_id):
        raise NotFound(f"unknown dataset {dataset_id!r}", parameter="dataset")


async def record_consent(
    conn: asyncpg.Connection, dataset_id: str, consents: Mapping[str, Consent]
) -> int:
    """Record ``consents`` (sample id -> scope) for ``dataset_id``, in the persistent register
    and on the stored samples; return how many stored samples changed.

    Must run inside the caller's transaction. It does not remove contributions: a change to
    :attr:`Consent.NONE` must be followed by the removal (see :mod:`beacon.consent`).
    """
    ids = list(consents)
    scopes = [consents[s].value for s in ids]
    await conn.execute(UPSERT_CONSENT_RECORD, dataset_id, ids, scopes)
    status = await conn.execute(UPDATE_SAMPLE_CONSENT, dataset_id, ids, scopes)
    return int(status.split()[-1])


async def mark_withdrawn(
    conn: asyncpg.Connection, dataset_id: str, sample_ids: Sequence[str]
) -> None:
    """Stamp ``withdrawn_at`` on the stored samples (kept; their consent is ``none``)."""
    await conn.execute(MARK_WITHDRAWN, dataset_id, list(sample_ids))


async def consent_records(db: Executor, dataset_id: str) -> dict[str, Consent]:
    """The consent register of ``dataset_id`` (sample id -> scope), as recorded."""
    async with unavailable_as_error():
        rows = await db.fetch(SELECT_CONSENT_RECORDS, dataset_id)
    return {r["sample_id"]: Consent(r["consent"]) for r in rows}


async def withdrawn_samples(db: Executor, dataset_id: str) -> tuple[str, ...]:
    """Ids of the samples of ``dataset_id`` whose participants withdrew (consent ``none``).

    A load must exclude them: they may contribute nothing to any answer.
    """
    async with unavailable_as_error():
        rows = await db.fetch(SELECT_WITHDRAWN, dataset_id)
    return tuple(r["sample_id"] for r in rows)


async def sample_consents(db: Executor, dataset_id: str) -> list[SampleConsent]:
    """Every stored sample of ``dataset_id`` with its consent, in sample-index order."""
    async with unavailable_as_error():
        rows = await db.fetch(SELECT_SAMPLE_CONSENT, dataset_id)
    return [
        SampleConsent(r["sample_index"], r["sample_id"], Consent(r["consent"]), r["removed"])
        for r in rows
    ]


async def set_data_use_conditions(
    conn: asyncpg.Connection, dataset_id: str, conditions: Mapping[str, Any]
) -> None:
    """Replace ``dataset_id``'s Beacon ``dataUseConditions`` object."""
    await conn.execute(UPDATE_DATA_USE, dataset_id, orjson.dumps(dict(conditions)).decode())
