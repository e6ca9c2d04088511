"""The reader process: parse one plan's records and pass the batches to the loader.

Kept apart from :mod:`beacon.ingest.loader` so that a reader process imports only what
parsing needs (not asyncio or the database client).
"""

from __future__ import annotations

import os
import queue
import traceback
from typing import Any, Final

from beacon.errors import LoadError
from beacon.ingest.reader import FileHeader, ParsePlan, read_batches

POLL_S: Final = 0.5
"""How long a reader waits on a full queue before checking that its loader still exists."""


def reader_main(plan: ParsePlan, header: FileHeader, out: Any, parent: int) -> None:
    """Reader process: put ``("batch", Batch)``..., then ``("done", None)`` or
    ``("error", message)`` on the queue ``out`` (for a :class:`LoadError` or any other
    exception). Exits when the process ``parent`` (the loader) has gone."""

    def put(item: tuple[str, Any]) -> None:
        while True:
            try:
                out.put(item, timeout=POLL_S)
            except queue.Full:
                if os.getppid() != parent:
                    # The loader is gone (killed): nobody will read what is buffered, so
                    # leave at once rather than wait to flush it into a full pipe.
                    os._exit(0)
            else:
                return

    try:
        for batch in read_batches(plan, header):
            put(("batch", batch))
    except LoadError as exc:
        put(("error", str(exc)))
        return
    except Exception as exc:  # a bug: reported to the loader, with its traceback on stderr
        traceback.print_exc()
        put(("error", f"{plan.path}: the VCF reader failed: {type(exc).__name__}: {exc}"))
        return
    if os.getppid() != parent:
        os._exit(0)
    put(("done", None))
