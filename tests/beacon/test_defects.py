"""An unexpected exception (a defect) is answered as a 500 Beacon error and logged at ERROR
with its type and frames, never with its message, which may quote a query or a token."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import beacon.web
from beacon.defects import log_defect
from tests.beacon.querydata import SNP, load
from tests.beacon.webutil import beacon_client

SECRET = "17:43045711 T>GATTACA Bearer sekrit"


def fail_deep() -> None:
    try:
        raise ValueError(f"the cause, quoting {SECRET}")
    except ValueError as cause:
        raise RuntimeError(f"the defect, quoting {SECRET}") from cause


def warnings_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record at WARNING or above as a log handler would write it (tracebacks too)."""
    formatter = logging.Formatter()
    return "\n".join(formatter.format(r) for r in caplog.records if r.levelno >= logging.WARNING)


def test_the_log_names_the_type_and_frames_but_not_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("tests.defects")
    with caplog.at_level(logging.INFO, logger="tests.defects"):
        try:
            fail_deep()
        except RuntimeError as exc:
            log_defect(log, exc, "answering GET /g_variants")
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is None  # a formatter would print the message from it
    text = record.getMessage()
    assert "unexpected RuntimeError answering GET /g_variants" in text
    assert "fail_deep" in text  # where it was raised
    assert "GATTACA" not in text
    assert "sekrit" not in text
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tests.defects"):
        try:
            fail_deep()
        except RuntimeError as exc:
            log_defect(log, exc, "answering GET /g_variants")
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 1
    assert debug[0].exc_info is not None
    assert "GATTACA" in str(debug[0].exc_info[1])


async def test_a_beacon_defect_is_a_500_beacon_error_logged_without_its_message(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await load(database_url, tmp_path)

    def broken(*args: Any, **kwargs: Any) -> Any:
        fail_deep()

    monkeypatch.setattr(beacon.web.responses, "g_variants_response", broken)
    with caplog.at_level(logging.INFO):
        async with beacon_client(database_url) as client:
            resp = await client.get("/g_variants", params=SNP)
            assert resp.status == 500
            body = await resp.json()
    assert body["error"] == {"errorCode": 500, "errorMessage": "internal error"}
    logged = warnings_text(caplog)
    assert "unexpected RuntimeError answering GET /g_variants" in logged
    assert "GATTACA" not in logged
    assert "sekrit" not in logged
