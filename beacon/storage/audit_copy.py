"""PostgreSQL binary COPY encoding of ``audit_log`` rows (pure; no database access).

One row per answered query, :data:`beacon.storage.privacy.AUDIT_COLUMNS` order. Nearly every
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
_POSTGRES_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

CACHE_SIZE: Final = 4096
"""Distinct field combinations whose encoding is kept (the cache is emptied when full)."""

_Fields = tuple[
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
_cache: dict[_Fields, bytes] = {}


def timestamptz(at: datetime) -> bytes:
    """One ``timestamptz`` field; a naive ``at`` is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return _TIME.pack(8, (at - _POSTGRES_EPOCH) // _MICROSECOND)


def _rest(fields: _Fields) -> bytes:
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
    parts = [HEADER]
    cache = _cache
    for e in entries:
        fields: _Fields = (
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
        rest = cache.get(fields)
        if rest is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            rest = cache[fields] = _rest(fields)
        parts.append(_ROW_START)
        parts.append(timestamptz(e.at or now))
        parts.append(rest)
    parts.append(TRAILER)
    return b"".join(parts)
