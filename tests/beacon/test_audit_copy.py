"""The audit log's binary COPY encoding, read back from a real PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from beacon.model import Granularity
from beacon.storage import audit_copy, privacy

AT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def entry(**fields: object) -> privacy.AuditEntry:
    base: dict[str, object] = {
        "tier": "anonymous",
        "endpoint": "/g_variants",
        "datasets": ("d1",),
        "granularities": (Granularity.BOOLEAN,),
        "returned_granularity": Granularity.BOOLEAN,
        "client_address": "127.0.0.1",
        "exists": True,
        "at": AT,
    }
    base.update(fields)
    return privacy.AuditEntry(**base)  # type: ignore[arg-type]


VARIED = [
    entry(),
    entry(exists=False, status=429, at=AT + timedelta(microseconds=1)),
    entry(exists=None, client_address=None, subject="ödön@example.org", tier="registered"),
    entry(datasets=(), granularities=(), endpoint="/api/v1/query"),
    entry(
        datasets=("a", "b,c", 'q"uote', "sp ace", "{brace}"),
        granularities=(
            Granularity.RECORD,
            Granularity.COUNT,
            Granularity.BOOLEAN,
            Granularity.COUNT,
            Granularity.COUNT,
        ),
        returned_granularity=Granularity.RECORD,
        subject="",
    ),
    entry(at=datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    entry(at=datetime(2026, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))),
    entry(status=500, exists=None),
]


def comparable(e: privacy.AuditEntry) -> tuple[object, ...]:
    return (
        e.at,
        e.subject,
        e.client_address,
        e.tier,
        e.endpoint,
        e.datasets,
        e.granularities,
        e.returned_granularity,
        e.exists,
        e.status,
    )


async def written_back(
    db: asyncpg.Connection, entries: list[privacy.AuditEntry]
) -> list[tuple[object, ...]]:
    await privacy.write_audit(db, entries, timeout_s=10)
    got = await privacy.read_audit(db, limit=1000)
    return [comparable(e) for e in sorted(got, key=lambda e: e.id or 0)]


async def test_every_field_reads_back_as_written(db: asyncpg.Connection) -> None:
    assert await written_back(db, VARIED) == [comparable(e) for e in VARIED]


async def test_repeated_entries_reuse_one_encoding_and_stay_exact(
    db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_copy, "_cache", {})
    monkeypatch.setattr(audit_copy, "CACHE_SIZE", 3)  # forces the cache to be emptied
    entries = [VARIED[i % 4] for i in range(11)]
    entries = [dataclasses.replace(e, at=AT + timedelta(seconds=i)) for i, e in enumerate(entries)]
    assert await written_back(db, entries) == [comparable(e) for e in entries]
    assert len(audit_copy._cache) <= 3


async def test_an_entry_without_a_time_gets_the_time_of_the_write(
    db: asyncpg.Connection,
) -> None:
    before = datetime.now(UTC)
    await privacy.write_audit(db, [entry(at=None)], timeout_s=10)
    (got,) = await privacy.read_audit(db)
    assert got.at is not None
    assert before <= got.at <= datetime.now(UTC)


def test_a_naive_time_is_taken_as_utc() -> None:
    naive = AT.replace(tzinfo=None)
    assert audit_copy.timestamptz(naive) == audit_copy.timestamptz(AT)


async def test_a_bad_row_writes_nothing_of_its_batch(db: asyncpg.Connection) -> None:
    # The table's own check (as many granularities as datasets) refuses the second row.
    bad = entry(datasets=("a",), granularities=(Granularity.COUNT,))
    object.__setattr__(bad, "datasets", ("a", "b"))  # past the entry's own check
    with pytest.raises(asyncpg.CheckViolationError):
        await privacy.write_audit(db, [entry(), bad], timeout_s=10)
    assert await privacy.read_audit(db) == []


async def test_rows_read_back_as_the_entries_they_were_made_from(db: asyncpg.Connection) -> None:
    rows = [audit_copy.row_of(e, 0) for e in VARIED]
    assert [r[0] for r in rows] == [audit_copy.microseconds(e.at) for e in VARIED if e.at]
    await privacy.write_audit_rows(db, rows, timeout_s=10)
    got = await privacy.read_audit(db, limit=1000)
    assert [comparable(e) for e in sorted(got, key=lambda e: e.id or 0)] == [
        comparable(e) for e in VARIED
    ]
    assert audit_copy.encode(rows) == audit_copy.encode_rows(VARIED, AT)


def test_microseconds_since_the_unix_epoch() -> None:
    assert audit_copy.microseconds(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert audit_copy.microseconds(datetime(2000, 1, 1, tzinfo=UTC)) == 946_684_800_000_000
    assert audit_copy.microseconds(AT) == int(AT.timestamp()) * 1_000_000 + 891011
    assert audit_copy.microseconds(AT.replace(tzinfo=None)) == audit_copy.microseconds(AT)
    an_hour_east = AT.replace(tzinfo=timezone(timedelta(hours=1)))
    assert audit_copy.microseconds(an_hour_east) == audit_copy.microseconds(AT) - 3_600_000_000
    assert audit_copy.row_of(entry(at=None), 42)[0] == 42
    assert audit_copy.row_of(entry(), 0)[1] == audit_copy.row_of(entry(at=None), 1)[1]
