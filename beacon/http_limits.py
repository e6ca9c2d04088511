"""Request sizes the HTTP servers (beacon and aggregator) accept before any handler runs."""

from __future__ import annotations

from typing import Final

MAX_LINE_SIZE: Final = 16 * 1024
"""Longest request line (method, path and query string), in bytes."""

MAX_FIELD_SIZE: Final = 64 * 1024
"""Longest header field, in bytes. aiohttp's default (8 KiB) refuses bearer tokens that carry
a GA4GH passport with more than a few visas; 64 KiB fits dozens. The aggregator forwards such
tokens, so it accepts the same."""
