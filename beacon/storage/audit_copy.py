"""PostgreSQL binary COPY encoding of ``audit_log`` rows (pure; no database access).

One row per answered query, :data:`beacon.storage.privacy.AUDIT_COLUMNS` order, given as a
:data:`Row` (what :class:`beacon.audit_writer.AuditWriter` buffers: a plain tuple, cheap to
make on the query path) or as an :class:`~beacon.storage.privacy.AuditEntry`. Nearly every
field repeats from one query to the next (the same caller, endpoint, datasets and outcome),
only the time differs: each row is the encoded time followed by the encoding of the other
nine fields, which is made once per distinct combination and reused (a bounded cache).

Layout: PostgreSQL's documented binary COPY format, with the header, trailer and the text,
``text[]`` and ``boolean`` fields of :mod:`beacon.storage.binary_copy`: per row a field
count, then per field a length (-1 for NULL) and the value in network byte order;
``timestamptz`` as microseconds since 2000-01-01 00:00 UTC, ``smallint`` as two bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from beacon.storage.binary_copy import HEADER, TRAILER, boolean, text, text_array

if TYPE_CHECKING:
    from beacon.model import Granularity
    from beacon.storage.privacy import AuditEntry

_ROW_START: Final = struct.pack(">h", 10)
_TIME: Final = struct.Struct(">iq")
_SMALLINT: Final = struct.Struct(">ih")
_UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_POSTGRES_EPOCH_US: Final = 946_684_800_000_000
"""2000-01-01 00:00 UTC, PostgreSQL's epoch, in microseconds since the Unix epoch."""
_MICROSECOND: Final = timedelta(microseconds=1)

CACHE_SIZE: Final = 4096
"""Distinct field combinations whose encoding is kept (the cache is emptied when full)."""

Fields = tuple[
    str | None,
    str | None,
    str,
    str,
    tuple[str, ...],
    tuple["Granularity", ...],
    "Granularity",
    bool | None,
    int,
]
"""An audit row's fields but its time: ``subject``, ``client_address``, ``tier``, ``endpoint``,
``datasets``, ``granularities``, ``returned_granularity``, ``exists`` and ``status`` as in
:class:`~beacon.storage.privacy.AuditEntry`."""
_cache: dict[Fields, bytes] = {}

Row = tuple[int, Fields]
"""One audit row: the time it records in microseconds since the Unix epoch (UTC), and its
:data:`Fields`."""


def microseconds(at: datetime) -> int:
    """``at`` in microseconds since the Unix epoch; a naive ``at`` is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _UNIX_EPOCH) // _MICROSECOND


def timestamptz(at: datetime) -> bytes:
    """One ``timestamptz`` field; a naive ``at`` is taken as UTC."""
    return _TIME.pack(8, microseconds(at) - _POSTGRES_EPOCH_US)


def row_of(entry: AuditEntry, now_us: int) -> Row:
    """The :data:`Row` of ``entry``; one without ``at`` records ``now_us`` (microseconds
    since the Unix epoch)."""
    return now_us if entry.at is None else microseconds(entry.at), (
        entry.subject,
        entry.client_address,
        entry.tier,
        entry.endpoint,
        entry.datasets,
        entry.granularities,
        entry.returned_granularity,
        entry.exists,
        entry.status,
    )


def _rest(fields: Fields) -> bytes:
    subject, address, tier, endpoint, datasets, granularities, returned, exists, status = fields
    return b"".join(
        (
            text(subject),
            text(address),
            text(tier),
            text(endpoint),
            text_array(datasets),
            text_array([g.value for g in granularities]),
            text(returned.value),
            boolean(exists),
            _SMALLINT.pack(2, status),
        )
    )


def encode_rows(entries: Iterable[AuditEntry], now: datetime) -> bytes:
    """The whole COPY payload (header, rows, trailer) for ``entries``.

    An entry without ``at`` is given ``now``. Raises ``struct.error`` for a status outside
    ``smallint``.
    """
    now_us = microseconds(now)
    return encode([row_of(e, now_us) for e in entries])


def encode(rows: Iterable[Row]) -> bytes:
    """The whole COPY payload (header, rows, trailer) for ``rows``. Raises ``struct.error``
    for a status outside ``smallint``."""
    parts = [HEADER]
    cache = _cache
    append = parts.append
    for at_us, fields in rows:
        rest = cache.get(fields)
        if rest is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            rest = cache[fields] = _rest(fields)
        append(_ROW_START)
        append(_TIME.pack(8, at_us - _POSTGRES_EPOCH_US))
        append(rest)
    append(TRAILER)
    return b"".join(parts)
