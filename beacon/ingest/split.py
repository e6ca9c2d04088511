"""Cutting an uncompressed VCF into byte ranges of whole lines, one per reader process.

Each reader gets the header followed by its share of the records through a pipe
(:class:`RangeFeed`), so that cyvcf2 parses it as a complete VCF. The header and the first
64 KiB of records are written into the pipe before the parser opens it (the parser reads the
header, and peeks beyond it, without letting other threads run), so a file is only cut when
that fits in a pipe; the rest is written by a thread while the parser reads (it lets other
threads run while it waits for input).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from dataclasses import dataclass
from typing import Final

from beacon.errors import LoadError

PIPE_BYTES: Final = 1 << 20
"""Pipe capacity asked for; a header (plus 64 KiB) must fit in the capacity obtained."""

_CHUNK: Final = 1 << 20
_AHEAD: Final = 64 * 1024
_DEFAULT_PIPE_BYTES: Final = 16_384  # the smallest default among the systems we run on


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``[start, end)`` of an uncompressed VCF (whole record lines) whose header is
    bytes ``[0, header_end)``."""

    header_end: int
    start: int
    end: int


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


def _header_end(fd: int, limit: int) -> int | None:
    """Offset just after the ``#CHROM`` line, or ``None`` when not found within ``limit``."""
    head = os.pread(fd, limit, 0)
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
        if not os.pread(fd, 16, 0).startswith(b"##fileformat=VCF"):
            return ()  # gzip, BGZF, BCF: not cut by bytes
        r, w = os.pipe()
        try:
            capacity = pipe_capacity(w)
        finally:
            os.close(r)
            os.close(w)
        header_end = _header_end(fd, capacity)
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


class RangeFeed:
    """A pipe carrying the header and the records of one :class:`ByteRange` of ``path``.

    :meth:`start` returns the read end (after writing the header into the pipe); a thread
    writes the records. :meth:`close` closes the read end and waits for the thread;
    :meth:`check` raises :class:`LoadError` when the thread could not deliver the whole
    range (so that a reader never finishes on a silently shortened input).
    """

    def __init__(self, path: str, part: ByteRange) -> None:
        self._path = path
        self._part = part
        self._read_fd = -1
        self._thread: threading.Thread | None = None
        self._error: str | None = None

    def start(self) -> int:
        """Open the pipe and begin feeding; return the file descriptor to parse from."""
        r, w = os.pipe()
        try:
            capacity = pipe_capacity(w)
            if capacity <= self._part.header_end + _AHEAD:
                raise LoadError(f"{self._path}: its header does not fit in a pipe")
            part = self._part
            # The parser peeks past the header (about 1 KiB) before it lets the feeding
            # thread run: the first records go in with the header.
            ahead = min(part.end - part.start, capacity - part.header_end - 1, _AHEAD)
            fd = os.open(self._path, os.O_RDONLY)
            try:
                _write_all(w, os.pread(fd, part.header_end, 0))
                first = os.pread(fd, ahead, part.start)
            finally:
                os.close(fd)
            if len(first) < ahead:
                raise LoadError(f"{self._path}: ended at byte {part.start + len(first)}")
            _write_all(w, first)
        except BaseException:
            os.close(r)
            os.close(w)
            raise
        self._read_fd = r
        self._thread = threading.Thread(
            target=self._feed, args=(w, part.start + ahead), name="beacon-vcf-feed", daemon=True
        )
        self._thread.start()
        return r

    def _feed(self, w: int, offset: int) -> None:
        part = self._part
        try:
            fd = os.open(self._path, os.O_RDONLY)
            try:
                while offset < part.end:
                    data = os.pread(fd, min(_CHUNK, part.end - offset), offset)
                    if not data:
                        self._error = f"{self._path}: ended at byte {offset} while being read"
                        return
                    _write_all(w, data)
                    offset += len(data)
            finally:
                os.close(fd)
        except BrokenPipeError:
            return  # the parser stopped reading (its own error is what gets reported)
        except OSError as exc:
            self._error = f"{self._path}: read failed at bytes {part.start}-{part.end}: {exc}"
        finally:
            os.close(w)

    def check(self) -> None:
        """Raise :class:`LoadError` when the range was not delivered whole."""
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
