"""Cutting a VCF into ranges of whole lines, one per reader process.

An uncompressed VCF is cut into byte ranges (:class:`ByteRange`); a BGZF-compressed one
(``bgzip``: concatenated gzip members, each naming its size in a ``BC`` extra subfield) into
ranges between BGZF virtual offsets (:class:`BgzfRange`), found by walking the block headers
(no index needed). A BCF (always BGZF) is cut the same way at record starts, found by
following every record's two length fields from the end of the header (no index needed
either). Plain gzip is not cut.

Each reader gets the header followed by its share of the records, uncompressed, through a
pipe (:class:`RangeFeed`), so that cyvcf2 parses it as a complete VCF (or an uncompressed
BCF). The header and the
first 64 KiB of records are written into the pipe before the parser opens it (the parser
reads the header, and peeks beyond it, without letting other threads run), so a file is only
cut when that fits in a pipe; the rest is written by a thread while the parser reads (it
lets other threads run while it waits for input, and so does ``zlib`` while it inflates).
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from beacon.errors import LoadError

PIPE_BYTES: Final = 1 << 20
"""Pipe capacity asked for; a header (plus 64 KiB) must fit in the capacity obtained."""

BGZF_MAX_BLOCK: Final = 1 << 16
"""No BGZF block is larger than this, compressed or not (its BSIZE field has 16 bits)."""

_CHUNK: Final = 1 << 20
_AHEAD: Final = 64 * 1024
_DEFAULT_PIPE_BYTES: Final = 16_384  # the smallest default among the systems we run on
_BGZF_MAGIC: Final = b"\x1f\x8b\x08\x04"  # gzip, deflate, FEXTRA set
_BGZF_HEAD: Final = 18  # a header with just the BC subfield (what bgzip writes)
_GZIP_TAIL: Final = 8  # CRC32, ISIZE
_VCF_MAGIC: Final = b"##fileformat=VCF"
_BCF_MAGIC: Final = b"BCF\x02"
_BCF_HEAD: Final = 9  # magic (5 bytes: "BCF", major 2, minor) and the header text's length
_BCF_MIN_SHARED: Final = 24  # CHROM, POS, rlen, QUAL, n_allele_info, n_fmt_sample


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``[start, end)`` of an uncompressed VCF (whole record lines) whose header is
    bytes ``[0, header_end)``."""

    header_end: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class BgzfRange:
    """Records of a BGZF-compressed VCF between two virtual offsets, whole lines.

    ``start`` and ``end`` (exclusive) are BGZF virtual offsets as in htslib: ``coffset << 16
    | uoffset``, the file offset of a block and an offset into that block's uncompressed
    data (always less than its length; the end of the records is the offset just after the
    last block with data, with ``uoffset`` 0). The header is the first ``header_end``
    uncompressed bytes of the file.
    """

    header_end: int
    start: int
    end: int


FileRange = ByteRange | BgzfRange
"""A part of a VCF that one reader parses."""


def virtual_offset(coffset: int, uoffset: int) -> int:
    """The BGZF virtual offset of byte ``uoffset`` of the block at file offset ``coffset``."""
    return coffset << 16 | uoffset


def pipe_capacity(fd: int) -> int:
    """Enlarge the pipe written through ``fd`` towards :data:`PIPE_BYTES` where the system
    allows it; return its capacity in bytes."""
    try:
        import fcntl  # POSIX only

        setter = getattr(fcntl, "F_SETPIPE_SZ", None)
        getter = getattr(fcntl, "F_GETPIPE_SZ", None)
        if setter is None or getter is None:
            return _DEFAULT_PIPE_BYTES
        with contextlib.suppress(OSError):  # a smaller pipe still serves small headers
            fcntl.fcntl(fd, setter, PIPE_BYTES)
        return int(fcntl.fcntl(fd, getter))
    except (ImportError, OSError):
        return _DEFAULT_PIPE_BYTES


def _capacity() -> int:
    """The capacity of a new pipe (enlarged as far as allowed)."""
    r, w = os.pipe()
    try:
        return pipe_capacity(w)
    finally:
        os.close(r)
        os.close(w)


def _header_length(head: bytes) -> int | None:
    """Offset just after the ``#CHROM`` line in ``head``, or ``None`` when not in it."""
    at = head.find(b"\n#CHROM")
    if at < 0:
        return None
    end = head.find(b"\n", at + 1)
    return end + 1 if end >= 0 else None


def _line_start_after(fd: int, offset: int, size: int) -> int:
    """Offset just after the first newline at or after ``offset`` (``size`` if none)."""
    while offset < size:
        chunk = os.pread(fd, _CHUNK, offset)
        if not chunk:
            break
        at = chunk.find(b"\n")
        if at >= 0:
            return offset + at + 1
        offset += len(chunk)
    return size


def split_plain_vcf(path: str, parts: int, min_part_bytes: int = 1 << 20) -> tuple[ByteRange, ...]:
    """Cut the uncompressed VCF at ``path`` into up to ``parts`` ranges of about equal size.

    Returns ``()`` when it is not worth or not possible: a compressed file or BCF, a header
    not ending in ``#CHROM`` or too large for a pipe, or fewer than two ranges of at least
    ``min_part_bytes``. Raises :class:`OSError` when the file cannot be read.
    """
    if parts < 2:
        return ()
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if not os.pread(fd, 16, 0).startswith(_VCF_MAGIC):
            return ()  # gzip, BGZF, BCF: not cut by bytes
        capacity = _capacity()
        header_end = _header_length(os.pread(fd, capacity, 0))
        if header_end is None or header_end + _AHEAD >= capacity:
            return ()
        parts = min(parts, (size - header_end) // max(min_part_bytes, 1))
        if parts < 2:
            return ()
        step = (size - header_end) // parts
        cuts = [header_end]
        for k in range(1, parts):
            cut = _line_start_after(fd, header_end + k * step, size)
            if cut > cuts[-1] and cut < size:
                cuts.append(cut)
        cuts.append(size)
    finally:
        os.close(fd)
    ranges = tuple(ByteRange(header_end, a, b) for a, b in itertools.pairwise(cuts))
    return ranges if len(ranges) > 1 else ()


def _bgzf_block_size(fd: int, offset: int) -> int | None:
    """Total size in bytes of the BGZF block at ``offset`` (from its header's ``BC``
    subfield), or ``None`` when no whole BGZF block header is there."""
    head = os.pread(fd, _BGZF_HEAD, offset)
    if len(head) < 12 or not head.startswith(_BGZF_MAGIC):
        return None
    xlen = int.from_bytes(head[10:12], "little")
    if xlen != 6:  # other subfields besides BC (bgzip writes none)
        head = os.pread(fd, 12 + xlen, offset)
    extra = head[12 : 12 + xlen]
    if len(extra) < xlen:
        return None
    at = 0
    while at + 4 <= xlen:
        slen = int.from_bytes(extra[at + 2 : at + 4], "little")
        if extra[at : at + 2] == b"BC" and slen == 2 and at + 6 <= xlen:
            size = int.from_bytes(extra[at + 4 : at + 6], "little") + 1
            return size if size >= 12 + xlen + _GZIP_TAIL else None
        at += 4 + slen
    return None


def _read_bgzf_block(fd: int, path: str, offset: int) -> tuple[bytes, int]:
    """(uncompressed data, total size) of the BGZF block at ``offset``; raises
    :class:`LoadError` when the file ends early or the block is not a valid BGZF block
    (its CRC32 and length are checked)."""
    size = _bgzf_block_size(fd, offset)
    if size is None:
        if len(os.pread(fd, _BGZF_HEAD, offset)) < _BGZF_HEAD:
            raise LoadError(f"{path}: ended at byte {offset} while being read")
        raise LoadError(f"{path}: no BGZF block at byte {offset} (a corrupt file)")
    block = os.pread(fd, size, offset)
    if len(block) < size:
        raise LoadError(f"{path}: ended at byte {offset + len(block)} while being read")
    try:
        return zlib.decompress(block, wbits=31), size
    except zlib.error as exc:
        raise LoadError(f"{path}: corrupt BGZF block at byte {offset} ({exc})") from exc


class _Blocks:
    """The BGZF blocks of a file: their file offsets and where their uncompressed data
    starts in the whole uncompressed stream (one entry more for each: the end)."""

    __slots__ = ("fd", "offsets", "path", "starts")

    def __init__(self, fd: int, path: str, offsets: list[int], starts: list[int]) -> None:
        self.fd = fd
        self.path = path
        self.offsets = offsets
        self.starts = starts

    @classmethod
    def walk(cls, fd: int, path: str, size: int) -> _Blocks | None:
        """Read every block header (and length) of a file of ``size`` bytes; ``None`` when
        it is not BGZF or a block is cut short or damaged."""
        offsets: list[int] = []
        starts = [0]
        offset = 0
        while offset < size:
            block = _bgzf_block_size(fd, offset)
            if block is None or offset + block > size:
                return None
            isize = int.from_bytes(os.pread(fd, 4, offset + block - 4), "little")
            if isize > BGZF_MAX_BLOCK:
                return None
            offsets.append(offset)
            starts.append(starts[-1] + isize)
            offset += block
        if not offsets:
            return None
        offsets.append(offset)
        return cls(fd, path, offsets, starts)

    @property
    def total(self) -> int:
        """Length of the whole uncompressed stream."""
        return self.starts[-1]

    def data(self, i: int) -> bytes:
        """Uncompressed data of block ``i``; raises :class:`LoadError` when damaged."""
        data, _ = _read_bgzf_block(self.fd, self.path, self.offsets[i])
        return data

    def head(self, limit: int) -> bytes:
        """The first ``limit`` uncompressed bytes (fewer when the stream is shorter)."""
        parts: list[bytes] = []
        got = 0
        for i in range(len(self.offsets) - 1):
            if got >= limit:
                break
            if self.starts[i + 1] > self.starts[i]:
                parts.append(self.data(i))
                got += len(parts[-1])
        return b"".join(parts)[:limit]

    def block_at(self, position: int) -> int:
        """Index of the block whose data holds uncompressed byte ``position`` (< total)."""
        # Blocks without data share their start with the next block; the last one of a run
        # of equal starts is the one with data.
        return bisect.bisect_right(self.starts, position, hi=len(self.offsets) - 1) - 1

    def virtual(self, position: int) -> int:
        """Virtual offset of uncompressed byte ``position``; for ``total``, the offset just
        after the last block with data."""
        if position >= self.total:
            last = self.block_at(self.total - 1)
            return virtual_offset(self.offsets[last + 1], 0)
        i = self.block_at(position)
        return virtual_offset(self.offsets[i], position - self.starts[i])

    def line_start(self, i: int) -> int:
        """Uncompressed position of the first line start at or after the start of block
        ``i``'s data (``total`` when no newline follows)."""
        position = self.starts[i]
        if position > 0 and self.data(self.block_at(position - 1)).endswith(b"\n"):
            return position
        for j in range(i, len(self.offsets) - 1):
            if self.starts[j + 1] == self.starts[j]:
                continue
            at = self.data(j).find(b"\n")
            if at >= 0:
                return self.starts[j] + at + 1
        return self.total


def split_bgzf_vcf(path: str, parts: int, min_part_bytes: int = 1 << 20) -> tuple[BgzfRange, ...]:
    """Cut the BGZF-compressed VCF at ``path`` into up to ``parts`` ranges of about equal
    compressed size, each starting at the first line start at or after the start of a
    block's data; together they hold every record line exactly once, in order.

    Every block header is read (one small read per block); the blocks holding the header
    and those next to each cut are inflated. Returns ``()`` when it is not worth or not
    possible: not BGZF (an uncompressed or plain gzip file), BCF, a block cut short or
    damaged, a header not ending in ``#CHROM`` or too large for a pipe, or fewer than two
    ranges of at least ``min_part_bytes`` compressed. Raises :class:`OSError` when the file
    cannot be read.
    """
    return _split_bgzf(path, parts, min_part_bytes, _VcfLines)


def split_bgzf_bcf(path: str, parts: int, min_part_bytes: int = 1 << 20) -> tuple[BgzfRange, ...]:
    """Cut the BCF at ``path`` (BGZF-compressed, as htslib writes it) into up to ``parts``
    ranges of about equal compressed size, each starting at the first record that starts at
    or after the start of a block's data; together they hold every record exactly once, in
    order. ``header_end`` is the length of the uncompressed header (magic, length, text).

    Every block header is read; records are followed from the end of the header to the last
    cut by their length fields (``l_shared``, ``l_indiv``), inflating only the blocks where a
    record starts. Returns ``()`` when it is not worth or not possible: not a BGZF-compressed
    BCF, a block cut short or damaged, a record length that leads past the end, a header too
    large for a pipe, or fewer than two ranges of at least ``min_part_bytes`` compressed.
    Raises :class:`OSError` when the file cannot be read.
    """
    return _split_bgzf(path, parts, min_part_bytes, _BcfRecords)


class _Records(Protocol):
    """Where a BGZF file's records start: after its header, and near each block."""

    header_end: int
    """Length of the uncompressed header."""

    def first_start(self, i: int) -> int | None:
        """Uncompressed position of the first record at or after the start of block ``i``'s
        data (``total`` when none follows); ``None`` when the records cannot be followed."""
        ...


class _RecordsKind(Protocol):
    def holds(self, first: bytes) -> bool:
        """Whether a file whose first block inflates to ``first`` is of this kind."""
        ...

    def of(self, blocks: _Blocks, capacity: int) -> _Records | None:
        """The records of ``blocks``, or ``None`` when the header is not of this kind or
        does not fit in ``capacity`` bytes."""
        ...


def _split_bgzf(
    path: str, parts: int, min_part_bytes: int, kind: _RecordsKind
) -> tuple[BgzfRange, ...]:
    if parts < 2:
        return ()
    fd = os.open(path, os.O_RDONLY)
    try:
        if not os.pread(fd, 4, 0).startswith(_BGZF_MAGIC):
            return ()
        try:
            first, _ = _read_bgzf_block(fd, path, 0)
        except LoadError:
            return ()
        if not kind.holds(first):
            return ()  # not worth walking every block
        blocks = _Blocks.walk(fd, path, os.fstat(fd).st_size)
        if blocks is None:
            return ()
        try:
            capacity = _capacity()
            records = kind.of(blocks, capacity)
            if records is None:
                return ()
            return _cut(blocks, records, capacity, parts, min_part_bytes)
        except LoadError:
            return ()  # a damaged block: parsed whole, its reader reports it
    finally:
        os.close(fd)


def _cut(
    blocks: _Blocks, records: _Records, capacity: int, parts: int, min_part_bytes: int
) -> tuple[BgzfRange, ...]:
    """Up to ``parts`` ranges of about equal compressed size, cut at the first record start
    in the block nearest each equal share."""
    header_end = records.header_end
    if header_end + _AHEAD >= capacity or header_end >= blocks.total:
        return ()
    data_start = blocks.offsets[blocks.block_at(header_end)]
    data_end = blocks.virtual(blocks.total) >> 16
    parts = min(parts, (data_end - data_start) // max(min_part_bytes, 1))
    if parts < 2:
        return ()
    step = (data_end - data_start) // parts
    last = len(blocks.offsets) - 1
    cuts = [header_end]
    for k in range(1, parts):
        nearest = bisect.bisect_left(blocks.offsets, data_start + k * step, hi=last)
        cut = records.first_start(nearest)
        if cut is None:
            return ()  # parsed whole, its reader reports the damage
        if cuts[-1] < cut < blocks.total:
            cuts.append(cut)
    cuts.append(blocks.total)
    ranges = tuple(
        BgzfRange(header_end, blocks.virtual(a), blocks.virtual(b))
        for a, b in itertools.pairwise(cuts)
    )
    return ranges if len(ranges) > 1 else ()


class _VcfLines:
    """The record lines of a BGZF-compressed VCF."""

    def __init__(self, blocks: _Blocks, header_end: int) -> None:
        self._blocks = blocks
        self.header_end = header_end

    @staticmethod
    def holds(first: bytes) -> bool:
        return first[: len(_VCF_MAGIC)] == _VCF_MAGIC[: len(first)]  # BCF is b"BCF\2"

    @classmethod
    def of(cls, blocks: _Blocks, capacity: int) -> _VcfLines | None:
        head = blocks.head(capacity)
        if not head.startswith(_VCF_MAGIC):
            return None
        header_end = _header_length(head)
        return None if header_end is None else cls(blocks, header_end)

    def first_start(self, i: int) -> int:
        return self._blocks.line_start(i)


class _Stream:
    """Reads of the uncompressed stream of :class:`_Blocks` at given positions, keeping the
    last block inflated (records are followed forwards)."""

    __slots__ = ("_blocks", "_data", "_index")

    def __init__(self, blocks: _Blocks) -> None:
        self._blocks = blocks
        self._index = -1
        self._data = b""

    def read(self, position: int, length: int) -> bytes:
        """``length`` bytes from ``position`` (fewer at the end of the stream)."""
        blocks = self._blocks
        out = b""
        while len(out) < length and position < blocks.total:
            i = blocks.block_at(position)
            if i != self._index:
                self._index, self._data = i, blocks.data(i)
            at = position - blocks.starts[i]
            piece = self._data[at : at + length - len(out)]
            if not piece:  # the walk's lengths and the inflated data disagree
                raise LoadError(f"{blocks.path}: a BGZF block is shorter than it says")
            out += piece
            position += len(piece)
        return out


class _BcfRecords:
    """The records of a BCF, followed forwards by their length fields from the header's end
    (asked for blocks in increasing order)."""

    def __init__(self, blocks: _Blocks, stream: _Stream, header_end: int) -> None:
        self._blocks = blocks
        self._stream = stream
        self.header_end = header_end
        self._position = header_end  # a record start

    @staticmethod
    def holds(first: bytes) -> bool:
        return first.startswith(_BCF_MAGIC)

    @classmethod
    def of(cls, blocks: _Blocks, capacity: int) -> _BcfRecords | None:
        del capacity  # the header's length is in its first bytes
        stream = _Stream(blocks)
        head = stream.read(0, _BCF_HEAD)
        if len(head) < _BCF_HEAD or not head.startswith(_BCF_MAGIC):
            return None
        return cls(blocks, stream, _BCF_HEAD + int.from_bytes(head[5:9], "little"))

    def first_start(self, i: int) -> int | None:
        target = self._blocks.starts[i]
        position = self._position
        while position < target:
            lengths = self._stream.read(position, 8)
            shared = int.from_bytes(lengths[:4], "little")
            if len(lengths) < 8 or shared < _BCF_MIN_SHARED:
                return None  # not a record
            position += 8 + shared + int.from_bytes(lengths[4:], "little")
        if position > self._blocks.total:
            return None
        self._position = position
        return position


def _plain_records(fd: int, path: str, part: ByteRange) -> Iterator[bytes]:
    """The bytes of ``part``, in chunks; raises :class:`LoadError` when the file ends
    early."""
    offset = part.start
    while offset < part.end:
        data = os.pread(fd, min(_CHUNK, part.end - offset), offset)
        if not data:
            raise LoadError(f"{path}: ended at byte {offset} while being read")
        yield data
        offset += len(data)


def _bgzf_head(fd: int, path: str, length: int) -> bytes:
    """The first ``length`` uncompressed bytes; raises :class:`LoadError` when the file
    ends early or a block is damaged."""
    parts: list[bytes] = []
    offset = got = 0
    while got < length:
        data, size = _read_bgzf_block(fd, path, offset)
        parts.append(data)
        got += len(data)
        offset += size
    return b"".join(parts)[:length]


def _bgzf_records(fd: int, path: str, start: int, end: int) -> Iterator[bytes]:
    """The uncompressed bytes between virtual offsets ``start`` and ``end``, block by
    block; raises :class:`LoadError` when the file ends early, a block is damaged, or the
    blocks do not lead from ``start`` to ``end``."""
    offset, skip = start >> 16, start & 0xFFFF
    end_offset, end_at = end >> 16, end & 0xFFFF
    while offset < end_offset or (offset == end_offset and end_at > 0):
        data, size = _read_bgzf_block(fd, path, offset)
        stop = end_at if offset == end_offset else len(data)
        if skip > stop or stop > len(data):
            raise LoadError(f"{path}: the BGZF block at byte {offset} is not the one planned")
        if stop > skip:
            yield data[skip:stop]
        if offset == end_offset:
            return
        offset += size
        skip = 0
    if offset != end_offset:
        raise LoadError(f"{path}: no BGZF block starts at byte {end_offset} as planned")


class RangeFeed:
    """A pipe carrying the header and the records of one :class:`ByteRange` or
    :class:`BgzfRange` of ``path``, uncompressed.

    :meth:`start` returns the read end (after writing the header into the pipe); a thread
    writes the records. :meth:`close` closes the read end and waits for the thread;
    :meth:`check` raises :class:`LoadError` when the thread could not deliver the whole
    range (the file ended early, or a BGZF block is damaged), so that a reader never
    finishes on a silently shortened input.
    """

    def __init__(self, path: str, part: FileRange) -> None:
        self._path = path
        self._part = part
        self._read_fd = -1
        self._thread: threading.Thread | None = None
        self._error: str | None = None

    def _header_and_records(self, fd: int) -> tuple[bytes, Iterator[bytes]]:
        part, path = self._part, self._path
        if isinstance(part, ByteRange):
            header = os.pread(fd, part.header_end, 0)
            records = _plain_records(fd, path, part)
        else:
            header = _bgzf_head(fd, path, part.header_end)
            records = _bgzf_records(fd, path, part.start, part.end)
        if len(header) != part.header_end:
            raise LoadError(f"{path}: its header is no longer {part.header_end} bytes long")
        return header, records

    def start(self) -> int:
        """Open the pipe and begin feeding; return the file descriptor to parse from.
        Raises :class:`LoadError` when the header does not fit in a pipe or the file is
        shorter or different than planned."""
        r, w = os.pipe()
        fd = -1
        try:
            capacity = pipe_capacity(w)
            if capacity <= self._part.header_end + _AHEAD:
                raise LoadError(f"{self._path}: its header does not fit in a pipe")
            fd = os.open(self._path, os.O_RDONLY)
            header, records = self._header_and_records(fd)
            _write_all(w, header)
            # The parser peeks past the header (about 1 KiB) before it lets the feeding
            # thread run: the first records go in with the header.
            ahead = min(capacity - len(header) - 1, _AHEAD)
            first: list[bytes] = []
            rest = b""
            for chunk in records:
                if len(chunk) >= ahead:
                    first.append(chunk[:ahead])
                    rest = chunk[ahead:]
                    break
                first.append(chunk)
                ahead -= len(chunk)
            _write_all(w, b"".join(first))
        except BaseException:
            os.close(r)
            os.close(w)
            if fd >= 0:
                os.close(fd)
            raise
        self._read_fd = r
        self._thread = threading.Thread(
            target=self._feed, args=(w, fd, rest, records), name="beacon-vcf-feed", daemon=True
        )
        self._thread.start()
        return r

    def _feed(self, w: int, fd: int, rest: bytes, records: Iterator[bytes]) -> None:
        try:
            _write_all(w, rest)
            for chunk in records:
                _write_all(w, chunk)
        except BrokenPipeError:
            return  # the parser stopped reading (its own error is what gets reported)
        except LoadError as exc:
            self._error = str(exc)
        except OSError as exc:
            self._error = f"{self._path}: read failed in {self._part}: {exc}"
        finally:
            os.close(w)
            os.close(fd)

    def check(self) -> None:
        """Wait for the feeding thread; raise :class:`LoadError` when the range was not
        delivered whole."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise LoadError(self._error)

    def close(self) -> None:
        """Close the read end (stopping the feeding thread) and wait for the thread."""
        if self._read_fd >= 0:
            os.close(self._read_fd)
            self._read_fd = -1
        if self._thread is not None:
            self._thread.join()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
