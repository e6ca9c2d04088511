"""The aggregator's JSON documents, built from merged values (pure).

* :func:`member_answer_json` / :func:`summary_json`: the ``MemberAnswer`` and
  ``NetworkSummary`` objects of the streaming API (``docs/aggregator.md``).
* :func:`network_response`: the Beacon v2 ``g_variants`` response of the network. It stays
  valid against the official schemas, so ``responseSummary.exists`` is always a boolean:
  an *unknown* network answer is written as ``false`` there, and stated explicitly in
  ``info.beaconNetwork.exists = null`` together with the per-member statuses. Every result
  set carries the ``beaconId`` of the beacon holding it.
"""

from __future__ import annotations

from typing import Any

from aggregator.answers import NETWORK_INFO_KEY
from aggregator.merge import NetworkAnswer
from aggregator.outcome import DatasetAnswer, MemberOutcome
from beacon.model import BeaconRequest, Granularity, IncludeResultsets, VariantQuery

API_VERSION = "v2.0.0"
VARIANT_SCHEMA = {"entityType": "genomicVariation", "schema": "ga4gh-beacon-variant-v2.0.0"}
_CUSTOM_HANDOVER = {"id": "CUSTOM:handover", "label": "handover"}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def dataset_json(d: DatasetAnswer) -> dict[str, Any]:
    """A result set as the streaming API shows it (contract E ``datasets[]``)."""
    return {
        "datasetId": d.dataset_id,
        "beaconId": d.beacon_id,
        "name": d.name or d.dataset_id,
        "exists": d.exists,
        "count": d.count,
        "alleleCount": d.allele_count,
        "alleleNumber": d.allele_number,
        "frequency": d.frequency,
        "handovers": [{"url": h.url, "note": h.note} for h in d.handovers],
    }


def member_answer_json(o: MemberOutcome) -> dict[str, Any]:
    """``MemberAnswer``: one member's status, answer and result sets."""
    return {
        "memberId": o.member_id,
        "beaconId": o.beacon_id,
        "name": o.name,
        "status": o.status.value,
        "exists": o.exists,
        "latencyMs": _ms(o.latency_ms),
        "message": o.message,
        "datasets": [dataset_json(d) for d in o.datasets],
    }


def summary_json(answer: NetworkAnswer) -> dict[str, Any]:
    """``NetworkSummary``: the merged answer without per-member details."""
    return {
        "exists": answer.exists,
        "membersTotal": answer.members_total,
        "membersApplicable": answer.members_applicable,
        "membersAnswered": answer.members_answered,
        "membersWithHit": answer.members_with_hit,
        "membersFailed": answer.members_failed,
        "partial": answer.partial,
        "count": answer.count,
    }


def query_summary(request: BeaconRequest) -> dict[str, Any]:
    """The normalised query, camelCase, 0-based half-open coordinates (as in Beacon v2)."""
    q: VariantQuery = request.query
    fields: dict[str, Any] = {
        "kind": q.kind.value,
        "assemblyId": q.assembly,
        "referenceName": q.reference_name,
        "start": q.start,
        "end": q.end,
        "startMax": q.start_max,
        "endMax": q.end_max,
        "referenceBases": q.reference_bases,
        "alternateBases": q.alternate_bases,
        "variantType": q.variant_type.query_term if q.variant_type else None,
        "variantMinLength": q.variant_min_length,
        "variantMaxLength": q.variant_max_length,
        "mateName": q.mate_name,
        "geneId": q.gene_id,
        "variantId": q.variant_id,
    }
    summary = {k: v for k, v in fields.items() if v is not None}
    summary["requestedGranularity"] = request.requested_granularity.value
    if request.dataset_ids is not None:
        summary["datasetIds"] = list(request.dataset_ids)
    return summary


def _result_set_json(d: DatasetAnswer, with_records: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.dataset_id,
        "setType": d.set_type,
        "beaconId": d.beacon_id,
        "exists": bool(d.exists),
        "resultsCount": d.count if d.count is not None else len(d.results),
        "results": list(d.results) if with_records else [],
    }
    info: dict[str, Any] = {}
    if d.name:
        info["datasetName"] = d.name
    if d.count is None:
        info["countKnown"] = False
    for key, value in (
        ("alleleCount", d.allele_count),
        ("alleleNumber", d.allele_number),
        ("alleleFrequency", d.frequency),
    ):
        if value is not None:
            info[key] = value
    if info:
        out["info"] = info
    if d.handovers:
        out["resultsHandovers"] = [
            {
                "handoverType": h.handover_type or _CUSTOM_HANDOVER,
                "url": h.url,
                **({"note": h.note} if h.note else {}),
            }
            for h in d.handovers
        ]
    return out


def _wanted(d: DatasetAnswer, include: IncludeResultsets) -> bool:
    if include is IncludeResultsets.ALL:
        return True
    if include is IncludeResultsets.HIT:
        return d.exists is True
    if include is IncludeResultsets.MISS:
        return d.exists is False
    return False


def returned_granularity(answer: NetworkAnswer, requested: Granularity) -> Granularity:
    """What the merged answer actually gives: records only if some member gave records,
    a count only if one is known; never more than was requested."""
    if requested is Granularity.RECORD and any(d.results for d in answer.datasets):
        return Granularity.RECORD
    if requested.rank >= Granularity.COUNT.rank and answer.count is not None:
        return Granularity.COUNT
    return Granularity.BOOLEAN


def network_info(answer: NetworkAnswer) -> dict[str, Any]:
    """``info.beaconNetwork``: the explicit network verdict and every member's status."""
    return {
        **summary_json(answer),
        "members": [
            {k: v for k, v in member_answer_json(o).items() if k != "datasets"}
            for o in answer.outcomes
        ],
    }


def received_summary(request: BeaconRequest) -> dict[str, Any]:
    """``receivedRequestSummary``: the parsed request's, with flat ``requestParameters``
    wrapped as ``{"g_variant": {...}}`` (the schema wants a dictionary of objects)."""
    received = dict(request.received)
    params = received.get("requestParameters")
    if isinstance(params, dict) and not all(isinstance(v, dict) for v in params.values()):
        received["requestParameters"] = {"g_variant": params}
    return received


def network_response(
    answer: NetworkAnswer, request: BeaconRequest, *, beacon_id: str
) -> dict[str, Any]:
    """The network's Beacon v2 ``g_variants`` response (boolean, count or result sets)."""
    granularity = returned_granularity(answer, request.requested_granularity)
    summary: dict[str, Any] = {"exists": answer.exists is True}
    if granularity is not Granularity.BOOLEAN and answer.count is not None:
        summary["numTotalResults"] = answer.count
    doc: dict[str, Any] = {
        "meta": {
            "beaconId": beacon_id,
            "apiVersion": API_VERSION,
            "returnedSchemas": [VARIANT_SCHEMA],
            "returnedGranularity": granularity.value,
            "receivedRequestSummary": received_summary(request),
        },
        "responseSummary": summary,
        "info": {NETWORK_INFO_KEY: network_info(answer)},
    }
    if granularity is not Granularity.BOOLEAN:
        include = request.include_resultset_responses
        doc["response"] = {
            "resultSets": [
                _result_set_json(d, granularity is Granularity.RECORD)
                for d in answer.datasets
                if _wanted(d, include)
            ]
        }
    return doc
