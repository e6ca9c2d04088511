"""Requests refused before any handler runs, answered as Beacon errors and logged without
their content.

aiohttp answers a request it cannot parse (a request line over
:data:`beacon.http_limits.MAX_LINE_SIZE`, a header field over ``MAX_FIELD_SIZE``, a malformed
header, a bad method) from its protocol handler, outside the application and its error
boundary: by default with a ``text/plain`` body that echoes the start of the offending line,
and an ERROR log entry with a traceback that quotes it. The line is the query: a chromosome,
a position and the bases asked about, or a bearer token in a malformed header.

:func:`answer_protocol_errors` makes every aiohttp server started afterwards in this process
answer such requests with a Beacon error document (the body a ``document(status, message)``
callable builds) and log them at WARNING naming only the client address and the kind of
fault; the parser's own message, which quotes the request, is logged at DEBUG only. Errors
aiohttp reports with status 500 (a failure outside the application's error boundary) are logged
with their traceback, as before, and answered with a Beacon error document without one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Final

import aiohttp.web_server
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from beacon.http_limits import MAX_FIELD_SIZE, MAX_LINE_SIZE

log = logging.getLogger(__name__)

ErrorDocument = Callable[[int, str], bytes]
"""Builds the JSON body of an error answer from an HTTP status and a message."""

TOO_LONG: Final = (
    f"the request line or a header field is too long (the request line may have at most "
    f"{MAX_LINE_SIZE} bytes, each header field at most {MAX_FIELD_SIZE})"
)
MALFORMED: Final = "malformed HTTP request"
INTERNAL: Final = "internal error"


def protocol_error_message(status: int, exc: BaseException | None) -> str:
    """What the caller is told about a request refused before any handler ran (never a quote
    of the request itself)."""
    if status >= 500:
        return INTERNAL
    if isinstance(exc, LineTooLong):
        return TOO_LONG
    return MALFORMED


def answer_protocol_errors(document: ErrorDocument) -> None:
    """From now on, aiohttp servers in this process answer unparseable requests with
    ``document(status, message)`` as ``application/json`` and log them without their content.

    Call once per process, before the server starts. Rebinds the request-handler class aiohttp's
    ``web.Server`` instantiates for each connection (``aiohttp.web_server.RequestHandler``).
    """

    class BeaconRequestHandler(RequestHandler):
        def handle_error(
            self,
            request: BaseRequest,
            status: int = 500,
            exc: BaseException | None = None,
            message: str | None = None,
        ) -> web.StreamResponse:
            del message  # aiohttp's message quotes the request
            if status >= 500:
                log.error("error handling a request from %s", request.remote, exc_info=exc)
            else:
                kind = type(exc).__name__ if exc is not None else HTTPStatus(status).phrase
                log.warning("refused a malformed HTTP request from %s (%s)", request.remote, kind)
                if isinstance(exc, HttpProcessingError):
                    log.debug("the parser said: %s", exc.message)
            if request.writer.output_size > 0:  # a response has begun: nothing more to send
                raise ConnectionError("the response had begun; the connection is closed")
            response = web.Response(
                status=status,
                body=document(status, protocol_error_message(status, exc)),
                content_type="application/json",
            )
            response.force_close()
            return response

    setattr(aiohttp.web_server, "RequestHandler", BeaconRequestHandler)  # noqa: B010
