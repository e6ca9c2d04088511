"""Reading a member's Beacon v2 answer into a :class:`MemberOutcome` (pure).

The answer is checked at the edge: anything that does not have the shape the aggregator
relies on (``responseSummary.exists`` a boolean, counts non-negative integers, result sets
objects with string ids) makes the outcome an *error* for that member, never a "no".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aggregator.client import Fetched, FetchKind
from aggregator.outcome import DatasetAnswer, Handover, MemberOutcome, MemberStatus

LOOP_STATUS = 508
"""HTTP status an aggregator answers when it is already part of the query (a loop)."""

NETWORK_INFO_KEY = "beaconNetwork"
"""Key under a response's ``info`` where an aggregator states what its summary means."""


class MalformedAnswer(ValueError):
    """The member's document does not have the shape of a Beacon v2 answer."""


def failure_outcome(
    member_id: str, name: str, fetched: Fetched, *, beacon_id: str | None = None
) -> MemberOutcome:
    """The outcome of a call that produced no usable answer (anything but a 2xx JSON)."""
    status = MemberStatus.ERROR
    message = fetched.message
    if fetched.kind is FetchKind.TIMEOUT:
        status = MemberStatus.TIMEOUT
    elif fetched.kind is FetchKind.HTTP_ERROR:
        if fetched.http_status in (401, 403):
            status = MemberStatus.UNAUTHORIZED
        elif fetched.http_status == LOOP_STATUS:
            status = MemberStatus.NOT_APPLICABLE
            message = "already part of this query (loop)"
        error_text = _error_message(fetched.document)
        if error_text:
            message = f"HTTP {fetched.http_status}: {error_text}"
    return MemberOutcome(
        member_id=member_id,
        name=name,
        status=status,
        beacon_id=beacon_id,
        latency_ms=fetched.latency_ms,
        message=message,
    )


def _error_message(document: Any) -> str | None:
    if isinstance(document, Mapping):
        error = document.get("error")
        if isinstance(error, Mapping):
            text = error.get("errorMessage")
            if isinstance(text, str):
                return text[:300]
    return None


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedAnswer(f"{where} is not a non-negative integer")
    return value


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedAnswer(f"{where} is not a number")
    return float(value)


def _handovers(raw: Any, where: str) -> tuple[Handover, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MalformedAnswer(f"{where} is not a list")
    found = []
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("url"), str):
            raise MalformedAnswer(f"{where} holds a handover without a url")
        note = item.get("note")
        kind = item.get("handoverType")
        found.append(
            Handover(
                url=item["url"],
                note=note if isinstance(note, str) else None,
                handover_type=dict(kind) if isinstance(kind, Mapping) else None,
            )
        )
    return tuple(found)


def _allele_figures(
    result_set: Mapping[str, Any],
) -> tuple[int | None, int | None, float | None]:
    """Allele count, number and frequency of a result set, when the member states them in
    the result set's ``info`` or, for a single record, in its ``frequencyInPopulations``."""
    info = result_set.get("info")
    if isinstance(info, Mapping):
        ac = _count(info.get("alleleCount"), "resultSet.info.alleleCount")
        an = _count(info.get("alleleNumber"), "resultSet.info.alleleNumber")
        freq = _number(
            info.get("alleleFrequency", info.get("frequency")), "resultSet.info.alleleFrequency"
        )
        if ac is not None or an is not None or freq is not None:
            return ac, an, freq
    results = result_set.get("results")
    if isinstance(results, list) and len(results) == 1 and isinstance(results[0], Mapping):
        pops = results[0].get("frequencyInPopulations")
        if isinstance(pops, list) and pops and isinstance(pops[0], Mapping):
            freqs = pops[0].get("frequencies")
            if isinstance(freqs, list) and freqs and isinstance(freqs[0], Mapping):
                f = freqs[0]
                return (
                    _count(f.get("alleleCount"), "frequencies.alleleCount"),
                    _count(f.get("alleleNumber"), "frequencies.alleleNumber"),
                    _number(f.get("alleleFrequency"), "frequencies.alleleFrequency"),
                )
    return None, None, None


def _result_set(raw: Any, default_beacon_id: str) -> DatasetAnswer:
    if not isinstance(raw, Mapping):
        raise MalformedAnswer("a resultSet is not an object")
    set_id = raw.get("id")
    if not isinstance(set_id, str) or not set_id:
        raise MalformedAnswer("a resultSet has no id")
    exists = raw.get("exists")
    if exists is not None and not isinstance(exists, bool):
        raise MalformedAnswer(f"resultSet {set_id!r}: exists is not a boolean")
    beacon_id = raw.get("beaconId", default_beacon_id)
    if not isinstance(beacon_id, str):
        raise MalformedAnswer(f"resultSet {set_id!r}: beaconId is not a string")
    results = raw.get("results", [])
    if not isinstance(results, list) or not all(isinstance(r, Mapping) for r in results):
        raise MalformedAnswer(f"resultSet {set_id!r}: results is not a list of objects")
    ac, an, freq = _allele_figures(raw)
    name = raw.get("name")
    info = raw.get("info")
    if name is None and isinstance(info, Mapping):
        name = info.get("datasetName", info.get("name"))
    set_type = raw.get("setType", "dataset")
    return DatasetAnswer(
        dataset_id=set_id,
        beacon_id=beacon_id,
        name=name if isinstance(name, str) else None,
        exists=exists,
        count=_count(raw.get("resultsCount"), f"resultSet {set_id!r}: resultsCount"),
        allele_count=ac,
        allele_number=an,
        frequency=freq,
        handovers=_handovers(raw.get("resultsHandovers"), f"resultSet {set_id!r}: handovers"),
        results=tuple(dict(r) for r in results),
        set_type=set_type if isinstance(set_type, str) else "dataset",
    )


def parse_v2_answer(
    member_id: str, name: str, fetched: Fetched, *, expected_beacon_id: str | None = None
) -> MemberOutcome:
    """Turn a member's ``g_variants`` call into an outcome; never raises.

    A 2xx answer must be a Beacon v2 response; otherwise the outcome is ERROR with the reason.
    An aggregator member that reports its own summary as unknown (``info.beaconNetwork.exists``
    null) yields ``exists=None``; one that reports a partial count yields ``count_exact=False``.
    """
    if fetched.kind is not FetchKind.OK:
        return failure_outcome(member_id, name, fetched, beacon_id=expected_beacon_id)
    try:
        return _parse_ok(member_id, name, fetched, expected_beacon_id)
    except MalformedAnswer as exc:
        return MemberOutcome(
            member_id=member_id,
            name=name,
            status=MemberStatus.ERROR,
            beacon_id=expected_beacon_id,
            latency_ms=fetched.latency_ms,
            message=f"malformed answer: {exc}",
        )


def _parse_ok(
    member_id: str, name: str, fetched: Fetched, expected_beacon_id: str | None
) -> MemberOutcome:
    doc = fetched.document
    if not isinstance(doc, Mapping):
        raise MalformedAnswer("the answer is not a JSON object")
    meta = doc.get("meta")
    beacon_id = meta.get("beaconId") if isinstance(meta, Mapping) else None
    if beacon_id is not None and not isinstance(beacon_id, str):
        raise MalformedAnswer("meta.beaconId is not a string")
    beacon_id = beacon_id or expected_beacon_id or member_id
    summary = doc.get("responseSummary")
    if not isinstance(summary, Mapping):
        raise MalformedAnswer("responseSummary is missing")
    exists_raw = summary.get("exists")
    if not isinstance(exists_raw, bool):
        raise MalformedAnswer("responseSummary.exists is not a boolean")
    exists: bool | None = exists_raw
    count = _count(summary.get("numTotalResults"), "responseSummary.numTotalResults")
    count_exact = count is not None
    info = doc.get("info")
    network = info.get(NETWORK_INFO_KEY) if isinstance(info, Mapping) else None
    if isinstance(network, Mapping):
        if "exists" in network:
            stated = network["exists"]
            if stated is not None and not isinstance(stated, bool):
                raise MalformedAnswer(f"info.{NETWORK_INFO_KEY}.exists is not a boolean or null")
            exists = stated
        if network.get("partial") is True:
            count_exact = False
    if count is None and exists is False:
        count, count_exact = 0, True  # a plain "no" is a count of zero
    response = doc.get("response")
    datasets: tuple[DatasetAnswer, ...] = ()
    if response is not None:
        if not isinstance(response, Mapping):
            raise MalformedAnswer("response is not an object")
        sets = response.get("resultSets", [])
        if not isinstance(sets, list):
            raise MalformedAnswer("response.resultSets is not a list")
        datasets = tuple(_result_set(raw, beacon_id) for raw in sets)
    return MemberOutcome(
        member_id=member_id,
        name=name,
        status=MemberStatus.ANSWERED,
        beacon_id=beacon_id,
        exists=exists,
        count=count,
        count_exact=count_exact,
        latency_ms=fetched.latency_ms,
        datasets=datasets,
    )
