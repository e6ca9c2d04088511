"""PostgreSQL binary COPY encoding of ``variant`` rows (pure; no database access).

The reader process encodes its rows here so that the loading process only streams bytes to
PostgreSQL: encoding integer arrays value by value in the loading process cost more than
parsing the VCF. The layout is PostgreSQL's documented binary COPY format: a signature
header, then per row a field count and, per field, a length (-1 for NULL) and the value in
network byte order; arrays as ``ndim, has_null, element oid, length, lower bound`` followed
by length-prefixed elements.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER: Final = struct.pack(">h", -1)

_INT4_OID, _INT2_OID, _TEXT_OID = 23, 21, 25
_NULL = struct.pack(">i", -1)
_I8 = struct.Struct(">iq")
_I4 = struct.Struct(">ii")
_I2 = struct.Struct(">ih")
_TRUE = struct.pack(">ib", 1, 1)
_FALSE = struct.pack(">ib", 1, 0)
_EMPTY = {oid: struct.pack(">iiiI", 12, 0, 0, oid) for oid in (_INT4_OID, _INT2_OID, _TEXT_OID)}
_ROW_START = struct.pack(">h", 27)


def _text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    raw = value.encode()
    return struct.pack(">i", len(raw)) + raw


def _int8(value: int | None) -> bytes:
    return _NULL if value is None else _I8.pack(8, value)


def _int4(value: int | None) -> bytes:
    return _NULL if value is None else _I4.pack(4, value)


def _int_array(values: npt.NDArray[Any] | Sequence[int], oid: int) -> bytes:
    n = len(values)
    if n == 0:
        return _EMPTY[oid]
    size = 4 if oid == _INT4_OID else 2
    if size == 4:
        body = np.empty(2 * n, dtype=">i4")
        body[0::2] = 4
        body[1::2] = values
        payload = body.tobytes()
    else:
        body2 = np.empty(n, dtype=[("len", ">i4"), ("val", ">i2")])
        body2["len"] = 2
        body2["val"] = values
        payload = body2.tobytes()
    head = struct.pack(">iiIii", 1, 0, oid, n, 1)
    return struct.pack(">i", len(head) + len(payload)) + head + payload


def _text_array(values: Sequence[str]) -> bytes:
    if not values:
        return _EMPTY[_TEXT_OID]
    parts = [struct.pack(">iiIii", 1, 0, _TEXT_OID, len(values), 1)]
    for v in values:
        raw = v.encode()
        parts.append(struct.pack(">i", len(raw)) + raw)
    body = b"".join(parts)
    return struct.pack(">i", len(body)) + body


def encode_row(row: Sequence[Any]) -> bytes:
    """One ``variant`` row in :data:`beacon.storage.load.VARIANT_COLUMNS` order.

    Integer array columns may be numpy arrays or sequences of ``int``.
    """
    return b"".join(
        (
            _ROW_START,
            _text(row[0]),
            _text(row[1]),
            _I8.pack(8, row[2]),
            _I8.pack(8, row[3]),
            _text(row[4]),
            _text(row[5]),
            _text(row[6]),
            _I8.pack(8, row[7]),
            _text(row[8]),
            _text(row[9]),
            _text(row[10]),
            _int8(row[11]),
            _text(row[12]),
            _int8(row[13]),
            _int4(row[14]),
            _int4(row[15]),
            _int4(row[16]),
            _int4(row[17]),
            _int4(row[18]),
            _int4(row[19]),
            _I2.pack(2, row[20]),
            _int_array(row[21], _INT4_OID),
            _int_array(row[22], _INT2_OID),
            _int_array(row[23], _INT4_OID),
            _int_array(row[24], _INT2_OID),
            _text_array(row[25]),
            _TRUE if row[26] else _FALSE,
        )
    )
