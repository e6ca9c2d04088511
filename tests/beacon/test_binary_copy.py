"""Rows encoded by beacon.storage.binary_copy read back from PostgreSQL as they were meant."""

from __future__ import annotations

from typing import Any

import asyncpg
import numpy as np

from beacon.storage import binary_copy
from beacon.storage.load import VARIANT_COLUMNS

_SNP_ROW: tuple[Any, ...] = (
    "ds", "1", 99, 100, "A", "G", "SNP", 99, "A", "G", "rs1", None, None, None,
    3, 6, 2, 1, 1, 0, 2, [0, 7], [1, 2], [], [], [], True,
)  # fmt: skip
_SV_ROW: tuple[Any, ...] = (
    "ds", "X", 1000, 5000, "N", "<DEL>", "DEL", 999, "N", "<DEL>", None, 4000, None, None,
    None, None, None, None, None, None, 1, [], [], [], [], ["BRCA1", "TP53"], False,
)  # fmt: skip


async def _copy(db: asyncpg.Connection, data: bytes) -> list[dict[str, Any]]:
    await db.execute("CREATE TEMP TABLE t (LIKE variant)")

    async def source() -> Any:
        yield binary_copy.HEADER + data + binary_copy.TRAILER

    await db.copy_to_table("t", source=source(), columns=VARIANT_COLUMNS, format="binary")
    return [dict(r) for r in await db.fetch("SELECT * FROM t ORDER BY reference_name")]


async def test_whole_rows_round_trip(db: asyncpg.Connection) -> None:
    got = await _copy(db, binary_copy.encode_row(_SNP_ROW) + binary_copy.encode_row(_SV_ROW))
    for row, expected in zip(got, (_SNP_ROW, _SV_ROW), strict=True):
        assert tuple(row[c] for c in VARIANT_COLUMNS) == expected


async def test_pieces_equal_whole_rows(db: asyncpg.Connection) -> None:
    heads = binary_copy.RowHeads("ds")
    snp = heads.snp("1", 100, "A", "G", "rs1")
    assert snp == heads.head(*_SNP_ROW[1:14])
    ids = binary_copy.int4_arrays(np.array([0, 7, 3]), [2, 0, 1])
    dosage = binary_copy.int2_arrays(np.array([1, 2, 1], dtype=np.int8), [2, 0, 1])
    (counts,) = binary_copy.genotype_counts([3], [6], [2], [1], [1], [0], [2])
    no_exceptions = binary_copy.int4_arrays((), [0])[0] + binary_copy.int2_arrays((), [0])[0]
    row = snp + counts + ids[0] + dosage[0] + no_exceptions + binary_copy.row_tail((), True)
    assert row == binary_copy.encode_row(_SNP_ROW)
    info_row = (
        heads.head(*_SV_ROW[1:14])
        + binary_copy.info_counts(None, None)
        + binary_copy.row_tail(["BRCA1", "TP53"], False)
    )
    (got,) = await _copy(db, info_row)
    assert tuple(got[c] for c in VARIANT_COLUMNS) == (*_SV_ROW[:20], 2, *_SV_ROW[21:])
