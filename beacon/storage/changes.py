"""Announcing changes to the stored alleles, so that in-memory copies drop what they hold.

Every write to the ``variant`` table made by the project (a load's publish, removing a
dataset, removing samples after a withdrawal of consent) calls :func:`announce` inside its
transaction. PostgreSQL delivers the notification on ``CHANNEL`` to every listening session
when, and only when, that transaction commits (:mod:`beacon.storage.index_keeper` listens).
A change made by hand in SQL must be followed by ``NOTIFY beacon_variants``.
"""

from __future__ import annotations

from typing import Final

import asyncpg

CHANNEL: Final = "beacon_variants"


async def announce(conn: asyncpg.Connection, dataset_id: str) -> None:
    """Queue the change notification of ``dataset_id`` (sent when the transaction commits)."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, dataset_id)
