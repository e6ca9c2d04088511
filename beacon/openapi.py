"""The beacon's own OpenAPI 3.0 document, served at ``/openapi.json``. Pure.

It describes what this beacon accepts (the Beacon v2 endpoints it implements, the v1.1
``/api/v1`` view and the operational endpoints), so that clients and fuzzers can drive it.
Response bodies are described by reference to the official Beacon v2 schemas' names.
"""

from __future__ import annotations

from typing import Any, Final

from beacon import __version__
from beacon.config import Settings
from beacon.request import MAX_LIMIT, VARIANT_TYPES

_JSON: Final = "application/json"


def _param(name: str, schema: dict[str, Any], where: str = "query", **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema, **extra}


_STRING: Final = {"type": "string"}
_INT: Final = {"type": "integer", "minimum": 0}
_INT_LIST: Final = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0},
    "minItems": 1,
    "maxItems": 2,
}

G_VARIANT_PARAMETERS: Final = (
    _param("referenceName", _STRING, description="chromosome: 17, chr17 or NC_000017.11"),
    _param("assemblyId", _STRING, description="GRCh37 or GRCh38 (aliases accepted)"),
    _param("start", _INT_LIST, style="form", explode=False, description="0-based"),
    _param("end", _INT_LIST, style="form", explode=False, description="0-based, exclusive"),
    _param("referenceBases", {"type": "string", "pattern": "^[ACGTN]*$"}),
    _param("alternateBases", {"type": "string", "pattern": "^[ACGTN]*$"}),
    _param("variantType", {"type": "string", "enum": list(VARIANT_TYPES)}),
    _param("variantMinLength", _INT),
    _param("variantMaxLength", _INT),
    _param("mateName", _STRING),
    _param("geneId", _STRING),
    _param("allele", _STRING, description="genomic HGVS, e.g. NC_000017.11:g.43045712T>C"),
    _param("datasetIds", {"type": "array", "items": _STRING}, style="form", explode=False),
    _param("requestedGranularity", {"type": "string", "enum": ["boolean", "count", "record"]}),
    _param("includeResultsetResponses", {"type": "string", "enum": ["HIT", "MISS", "ALL", "NONE"]}),
    _param("skip", _INT),
    _param("limit", {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}),
)

V1_PARAMETERS: Final = (
    _param("referenceName", _STRING),
    _param("assemblyId", _STRING),
    _param("start", _INT),
    _param("end", _INT),
    _param("startMin", _INT),
    _param("startMax", _INT),
    _param("endMin", _INT),
    _param("endMax", _INT),
    _param("referenceBases", _STRING),
    _param("alternateBases", _STRING),
    _param("variantType", _STRING),
    _param("mateName", _STRING),
    _param("datasetIds", {"type": "array", "items": _STRING}, style="form", explode=False),
    _param("includeDatasetResponses", {"type": "string", "enum": ["ALL", "HIT", "MISS", "NONE"]}),
)

_ERRORS: Final = {
    "400": {"description": "invalid request (the error names the parameter)"},
    "404": {"description": "unknown path or identifier"},
    "413": {"description": "request body too large"},
    "503": {"description": "the variant store is unavailable"},
}


def _ok(description: str, schema: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {"type": "object"}}
    if schema:
        content["schema"]["description"] = f"Beacon v2 {schema}"
    return {"200": {"description": description, "content": {_JSON: content}}, **_ERRORS}


_REQUEST_BODY: Final = {
    "required": False,
    "content": {
        _JSON: {
            "schema": {
                "type": "object",
                "description": "Beacon v2 request body (beaconRequestBody)",
                "properties": {
                    "meta": {"type": "object"},
                    "query": {
                        "type": "object",
                        "properties": {
                            "requestParameters": {"type": "object"},
                            "requestedGranularity": {
                                "type": "string",
                                "enum": ["boolean", "count", "record"],
                            },
                            "includeResultsetResponses": {
                                "type": "string",
                                "enum": ["HIT", "MISS", "ALL", "NONE"],
                            },
                            "pagination": {
                                "type": "object",
                                "properties": {"skip": _INT, "limit": _INT},
                            },
                        },
                    },
                },
            }
        }
    },
}


def _get(summary: str, schema: str | None, params: tuple[dict[str, Any], ...] = ()) -> Any:
    return {"summary": summary, "parameters": list(params), "responses": _ok(summary, schema)}


def _post(summary: str, schema: str, params: tuple[dict[str, Any], ...] = ()) -> Any:
    return {
        "summary": summary,
        "parameters": list(params),
        "requestBody": _REQUEST_BODY,
        "responses": _ok(summary, schema),
    }


_ID: Final = _param("id", _STRING, where="path")


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of this beacon."""
    paths: dict[str, Any] = {
        "/": {"get": _get("Beacon information", "beaconInfoResponse")},
        "/info": {"get": _get("Beacon information", "beaconInfoResponse")},
        "/service-info": {"get": _get("GA4GH service-info", "ga4gh-service-info-1-0-0")},
        "/configuration": {"get": _get("Configuration", "beaconConfigurationResponse")},
        "/map": {"get": _get("Map of endpoints", "beaconMapResponse")},
        "/entry_types": {"get": _get("Entry types", "beaconEntryTypesResponse")},
        "/filtering_terms": {"get": _get("Filtering terms", "beaconFilteringTermsResponse")},
        "/datasets": {
            "get": _get(
                "Datasets",
                "beaconCollectionsResponse",
                (_param("skip", _INT), _param("limit", _INT)),
            )
        },
        "/datasets/{id}": {"get": _get("One dataset", "beaconCollectionsResponse", (_ID,))},
        "/datasets/{id}/g_variants": {
            "get": _get(
                "Variants of one dataset", "beaconResultsetsResponse", (_ID, *G_VARIANT_PARAMETERS)
            ),
            "post": _post("Variants of one dataset", "beaconResultsetsResponse", (_ID,)),
        },
        "/g_variants": {
            "get": _get("Genomic variant query", "beaconResultsetsResponse", G_VARIANT_PARAMETERS),
            "post": _post("Genomic variant query", "beaconResultsetsResponse"),
        },
        "/g_variants/{id}": {
            "get": _get(
                "One variant (chrom-pos-ref-alt, VCF position)", "beaconResultsetsResponse", (_ID,)
            ),
            "post": _post("One variant", "beaconResultsetsResponse", (_ID,)),
        },
        "/api/v1": {"get": _get("Beacon v1.1 information", None)},
        "/api/v1/query": {
            "get": _get("Beacon v1.1 allele query", None, V1_PARAMETERS),
            "post": {
                "summary": "Beacon v1.1 allele query",
                "requestBody": {
                    "required": False,
                    "content": {_JSON: {"schema": {"type": "object"}}},
                },
                "responses": _ok("Beacon v1.1 allele response"),
            },
        },
        "/health": {"get": _get("Health (checks the database)", None)},
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text exposition format"}},
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": settings.beacon_name,
            "version": __version__,
            "description": "GA4GH Beacon v2 genomic variant service (with a Beacon v1.1 view).",
        },
        "paths": paths,
    }
