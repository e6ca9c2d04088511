"""An unexpected exception in the aggregator is a 500 Beacon error, logged without its message
(:mod:`beacon.defects`)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from aggregator.fanout import FanOut
from tests.aggregator.conftest import StartAggregator
from tests.beacon.querydata import SNP
from tests.beacon.test_defects import fail_deep, warnings_text


async def test_an_aggregator_defect_is_a_500_beacon_error_logged_without_its_message(
    aggregator: StartAggregator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: FanOut, *args: Any, **kwargs: Any) -> Any:
        fail_deep()

    monkeypatch.setattr(FanOut, "run", broken)
    client = await aggregator([])
    with caplog.at_level(logging.INFO):
        resp = await client.get("/g_variants", params=SNP)
        assert resp.status == 500
        body = await resp.json()
    assert body["error"]["errorCode"] == 500
    assert body["error"]["errorMessage"] == "internal error"
    logged = warnings_text(caplog)
    assert "unexpected RuntimeError answering GET /g_variants" in logged
    assert "GATTACA" not in logged
    assert "sekrit" not in logged
