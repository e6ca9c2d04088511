"""Logging an unexpected exception (a defect) without the values its message may carry.

The last line of defence of both HTTP apps turns an unexpected exception into a 500 Beacon
error. Its message can quote what the code was handling: a query's chromosome, position or
bases, a dataset id, part of a token. :func:`log_defect` logs at ERROR the exception's type
and where it was raised (file, line, function and source line of each frame), which is what
finding the defect needs, and keeps the message and its chained causes for DEBUG.
"""

from __future__ import annotations

import logging
import traceback


def log_defect(logger: logging.Logger, exc: BaseException, context: str) -> None:
    """Log ``exc`` at ERROR as its type and traceback frames only (``context`` says what was
    being done, e.g. ``"answering GET /g_variants"``); its message, and its causes', only at
    DEBUG."""
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    logger.error(
        "unexpected %s %s (its message is logged at DEBUG only)\nTraceback, frames only:\n%s",
        type(exc).__qualname__,
        context,
        frames.rstrip("\n"),
    )
    logger.debug("the unexpected error %s was:", context, exc_info=exc)
