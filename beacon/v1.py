"""Beacon v1.1 under ``/api/v1``: the info document and ``GET``/``POST /query``.

v1 semantics: ``referenceName``, ``referenceBases`` and ``assemblyId`` are required, with
``alternateBases`` or ``variantType``; ``start`` (0-based) for one allele, ``start`` + ``end``
for an allele with exactly those bounds, or ``startMin``/``startMax``/``endMin``/``endMax``
for a bracket. Bounds are met by an allele as stored (trimmed) or as the VCF wrote it, from
the padding base before an indel or a symbolic allele, as v1 beacons store alleles.
``mateName`` (v1.1) asks for a breakend at ``start`` whose mate is on that chromosome, at
``end`` when given. ``referenceBases=N`` stands for any reference. Each dataset answers with
``exists``, ``variantCount`` (matching alleles), ``callCount`` (called alleles at them, AN),
``sampleCount`` (samples carrying the allele) and ``frequency`` (AC/AN; the highest, when
several alleles match). Counts are given only where the dataset's policy allows counts.

The request is translated into the v2 query language and parsed by
:func:`beacon.request.parse_g_variants`, so both APIs share one set of semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from beacon import __version__
from beacon.config import Settings
from beacon.errors import InvalidRequest
from beacon.model import (
    AlleleTotals,
    BeaconRequest,
    Dataset,
    Granularity,
    IncludeResultsets,
    QueryKind,
)
from beacon.request import MAX_POSITION, parse_g_variants
from beacon.responses import Permitted

if TYPE_CHECKING:
    from beacon.web import Handler

API_VERSION: Final = "v1.1.0"
PREFIX: Final = "/api/v1"

_V1_PARAMETERS: Final = (
    "referenceName",
    "start",
    "end",
    "startMin",
    "startMax",
    "endMin",
    "endMax",
    "referenceBases",
    "alternateBases",
    "variantType",
    "assemblyId",
    "datasetIds",
    "includeDatasetResponses",
    "mateName",
)
_BY_LOWER: Final = {name.lower(): name for name in _V1_PARAMETERS}


def _flat(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else str(value)


def collect(params: Mapping[str, str], body: Mapping[str, Any] | None) -> dict[str, Any]:
    """v1 parameters under their canonical names (body values win). Raises InvalidRequest."""
    merged: dict[str, Any] = {}
    for source in (params, body or {}):
        for key, value in source.items():
            name = _BY_LOWER.get(str(key).lower())
            if name is None:
                raise InvalidRequest(f"unknown parameter {str(key)[:60]!r}", parameter=key[:60])
            if value is not None:
                merged[name] = _flat(value)
    return merged


def to_v2(p: Mapping[str, Any]) -> dict[str, str]:
    """Translate v1 parameters into v2 ``g_variants`` GET parameters. Raises InvalidRequest.

    Positions that v1 reads as an allele's bounds (``start`` + ``end``, the bracket, or
    ``start`` with ``variantType`` alone) become a v2 bracket, which :func:`parse_v1` lets be
    met by the allele as stored or as the VCF wrote it. With ``mateName``, ``end`` is the
    mate's position (Beacon v1.1), read by :func:`parse_v1`.
    """
    for required in ("referenceName", "referenceBases", "assemblyId"):
        if not str(p.get(required, "")).strip():
            raise InvalidRequest(f"{required} is required", parameter=required)
    mate = "mateName" in p
    if "alternateBases" not in p and "variantType" not in p and not mate:
        raise InvalidRequest(
            "alternateBases or variantType is required", parameter="alternateBases"
        )
    out: dict[str, str] = {
        "referenceName": p["referenceName"],
        "assemblyId": p["assemblyId"],
        "requestedGranularity": "count",
    }
    for key in ("alternateBases", "variantType", "datasetIds", "mateName"):
        if key in p:
            out[key] = p[key]
    if mate:
        # A breakend's ALT (G[13:123460[) is not a base sequence: the mate is named instead.
        out.pop("alternateBases", None)
        out.setdefault("variantType", "BND")
    ref = str(p["referenceBases"]).strip().upper()
    known_ref = bool(ref.strip("N"))  # all N: any reference
    bracket = [k for k in ("startMin", "startMax", "endMin", "endMax") if k in p]
    if bracket:
        if len(bracket) != 4:
            missing = next(k for k in ("startMin", "startMax", "endMin", "endMax") if k not in p)
            raise InvalidRequest(f"{missing} is required for a range query", parameter=missing)
        if "start" in p:
            raise InvalidRequest("start cannot be combined with startMin", parameter="start")
        out["start"] = f"{p['startMin']},{p['startMax']}"
        out["end"] = f"{p['endMin']},{p['endMax']}"
        if known_ref:
            out["referenceBases"] = ref
        return out
    if "start" not in p:
        raise InvalidRequest("start (or startMin..endMax) is required", parameter="start")
    if "end" in p and not mate:
        if "alternateBases" in p and known_ref:
            # One allele spelled out: its bounds follow from start and REF (v2 checks that
            # end agrees), and trimming finds it however it was padded.
            out.update(start=p["start"], end=p["end"], referenceBases=ref)
            return out
        # Precise bounds: an allele starting at start and ending at end.
        out["start"] = f"{p['start']},{p['start']}"
        out["end"] = f"{p['end']},{p['end']}"
    elif "alternateBases" in out:
        out["start"] = p["start"]
        out["referenceBases"] = ref
        return out
    else:
        # variantType (or a mate) at a precise start: any such allele starting there.
        out["start"] = f"{p['start']},{p['start']}"
        out["end"] = f"1,{10**10}"
    if known_ref:
        out["referenceBases"] = ref
    return out


def parse_v1(p: Mapping[str, Any]) -> BeaconRequest:
    """The v2 request a v1 ``/query`` stands for (v1 parameters from :func:`collect`).

    Bounds are met by an allele as stored or as the VCF wrote it (from its padding base, as
    v1 beacons store alleles); ``end`` beside ``mateName`` is the 0-based position of the
    mate. Raises InvalidRequest naming the parameter at fault.
    """
    parsed = parse_g_variants(to_v2(p), None)
    query = parsed.query
    if query.kind is QueryKind.BRACKET:
        query = replace(query, vcf_bounds=True)
    if "mateName" in p and "end" in p:
        query = replace(query, mate_start=_position(p["end"], "end"))
    return replace(parsed, query=query)


def _position(value: Any, name: str) -> int:
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_POSITION:
        raise InvalidRequest(f"{name} must be a position from 0 to {MAX_POSITION}", parameter=name)
    return int(text)


def _include(p: Mapping[str, Any]) -> IncludeResultsets:
    raw = str(p.get("includeDatasetResponses", "NONE")).strip().upper()
    try:
        return IncludeResultsets(raw)
    except ValueError as exc:
        raise InvalidRequest(
            "includeDatasetResponses must be ALL, HIT, MISS or NONE",
            parameter="includeDatasetResponses",
        ) from exc


def allele_request(p: Mapping[str, Any]) -> dict[str, Any]:
    """The ``alleleRequest`` echo of a v1 response (numbers as numbers where they parse)."""
    echo: dict[str, Any] = {}
    for key in _V1_PARAMETERS:
        if key not in p:
            continue
        value = p[key]
        if key in ("start", "end", "startMin", "startMax", "endMin", "endMax"):
            value = int(value) if str(value).strip().isdigit() else value
        elif key == "datasetIds":
            value = [v for v in str(value).split(",") if v]
        echo[key] = value
    return echo


def dataset_allele_response(
    item: Permitted, totals: AlleleTotals | None, settings: Settings
) -> dict[str, Any]:
    """One dataset's v1 answer; counts only where the dataset's policy allows counts."""
    del settings
    exists = totals is not None and totals.variants > 0
    doc: dict[str, Any] = {
        "datasetId": item.dataset.id,
        "exists": exists,
        "error": None,
        "frequency": None,
        "variantCount": None,
        "callCount": None,
        "sampleCount": None,
        "note": None,
        "externalUrl": item.dataset.external_url,
        "info": {},
    }
    if item.granularity.rank >= Granularity.COUNT.rank:
        doc["variantCount"] = totals.variants if totals else 0
        doc["callCount"] = totals.allele_number if totals else 0
        doc["sampleCount"] = totals.carriers if totals else 0
        doc["frequency"] = totals.max_frequency if totals else 0.0
    return doc


def query_document(
    settings: Settings,
    p: Mapping[str, Any],
    chosen: Sequence[Permitted],
    totals: Mapping[str, AlleleTotals],
) -> dict[str, Any]:
    """The v1 ``/query`` answer."""
    include = _include(p)
    exists = any(t.variants > 0 for t in totals.values())
    responses = None
    if include is not IncludeResultsets.NONE:
        responses = []
        for item in chosen:
            hit = totals.get(item.dataset.id)
            found = hit is not None and hit.variants > 0
            if include is IncludeResultsets.ALL or (found == (include is IncludeResultsets.HIT)):
                responses.append(dataset_allele_response(item, hit, settings))
    return {
        "beaconId": settings.beacon_id,
        "apiVersion": API_VERSION,
        "exists": exists,
        "alleleRequest": allele_request(p),
        "datasetAlleleResponses": responses,
        "error": None,
    }


def error_document(
    settings: Settings, status: int, message: str, request: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A v1 error answer (``exists`` is null)."""
    return {
        "beaconId": settings.beacon_id,
        "apiVersion": API_VERSION,
        "exists": None,
        "alleleRequest": dict(request or {}),
        "datasetAlleleResponses": None,
        "error": {"errorCode": status, "errorMessage": message},
    }


def info_document(settings: Settings, datasets: list[Dataset], root: str) -> dict[str, Any]:
    """The v1 Beacon document at ``/api/v1``."""
    organization: dict[str, Any] = {
        "id": settings.organization_id,
        "name": settings.organization_name,
    }
    if settings.welcome_url:
        organization["welcomeUrl"] = settings.welcome_url
    return {
        "id": settings.beacon_id,
        "name": settings.beacon_name,
        "apiVersion": API_VERSION,
        "organization": organization,
        "description": f"{settings.beacon_name} (Beacon v1.1 view of a Beacon v2 service)",
        "version": __version__,
        "welcomeUrl": settings.welcome_url,
        "alternativeUrl": root,
        "createDateTime": None,
        "updateDateTime": None,
        "datasets": [
            {
                "id": d.id,
                "name": d.name,
                "description": d.description,
                "assemblyId": d.assembly,
                "createDateTime": d.created_at.isoformat() if d.created_at else None,
                "updateDateTime": d.updated_at.isoformat() if d.updated_at else None,
                "version": d.version,
                "variantCount": d.variant_count,
                "callCount": d.call_count,
                "sampleCount": d.sample_count,
                "externalUrl": d.external_url,
                "info": {"accessType": str(d.security_level)},
            }
            for d in datasets
        ],
        "sampleAlleleRequests": [
            {
                "referenceName": "1",
                "start": 1000,
                "referenceBases": "A",
                "alternateBases": "G",
                "assemblyId": datasets[0].assembly if datasets else "GRCh38",
                "includeDatasetResponses": "ALL",
            }
        ],
        "info": {"beaconV2": root},
    }


# --- handlers --------------------------------------------------------------------------------


async def _info(request: web.Request) -> web.Response:
    from beacon import web as bweb

    caller = await bweb.caller_of(request)
    visible = [p.dataset for p in await bweb.visible_datasets(request, caller)]
    settings = request.app[bweb.SETTINGS]
    return bweb.json_response(info_document(settings, visible, bweb.root_url(request)))


async def _query(request: web.Request) -> web.Response:
    from beacon import privacy_web
    from beacon import web as bweb
    from beacon.storage import queries

    settings = request.app[bweb.SETTINGS]
    body = await bweb.json_body(request) if request.method == "POST" else None
    p = collect(bweb.query_params(request), body)
    parsed = parse_v1(p)
    _include(p)
    caller = await bweb.caller_of(request)
    await bweb.require_access(request, caller, list(parsed.dataset_ids or ()))  # 401 / 403
    store = request.app[bweb.STORE]
    plan = await store.plan(caller, parsed, None)
    await privacy_web.charge_query(request.app[bweb.LEASES], settings, caller)  # 429 when spent
    totals = await queries.allele_totals(
        store.reader,
        parsed.query,
        plan.dataset_ids,
        timeout_s=settings.db_query_timeout_s,
        min_carriers=plan.min_carriers,
    )
    doc = query_document(settings, p, plan.chosen, totals)
    permitted = plan.permitted
    returned = privacy_web.v1_granularity(permitted)
    privacy_web.disclose_v1_counts(doc, permitted)
    privacy_web.audit_query(
        request.app[bweb.AUDIT],
        settings,
        caller,
        endpoint=PREFIX + "/query",
        datasets=plan.dataset_ids,
        answered=privacy_web.answered_at(permitted, returned),
        returned=returned,
        exists=bool(doc["exists"]),
    )
    return bweb.json_response(doc)


def add_routes(app: web.Application, wrap: Callable[[Handler, str], Handler]) -> None:
    """Register the v1 routes on the beacon app, each handler passed through ``wrap`` with its
    route's path (the app's edge, :func:`beacon.web.edged`)."""
    for path in (PREFIX, PREFIX + "/", PREFIX + "/info"):
        app.router.add_get(path, wrap(_info, path))
    query = PREFIX + "/query"
    app.router.add_get(query, wrap(_query, query))
    app.router.add_post(query, wrap(_query, query))
