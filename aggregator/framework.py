"""The aggregator's own Beacon v2 framework documents (info, configuration, map, errors; pure).

They follow the official schemas so that another aggregator can list this one as a member.
Only the ``genomicVariation`` entry type is served (``/g_variants``).
"""

from __future__ import annotations

from typing import Any

from aggregator.config import NetworkConfig
from aggregator.responses import API_VERSION

SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_PRODUCTION_STATUS = {"prod": "PROD", "test": "TEST"}


def _meta(config: NetworkConfig) -> dict[str, Any]:
    return {"beaconId": config.id, "apiVersion": API_VERSION, "returnedSchemas": []}


def info_response(config: NetworkConfig, base_url: str) -> dict[str, Any]:
    """``/info``: who this network is (``beaconInfoResponse``)."""
    response: dict[str, Any] = {
        "id": config.id,
        "name": config.name,
        "apiVersion": API_VERSION,
        "environment": _environment(config),
        "organization": {"id": config.organization_id, "name": config.organization_name},
        "description": _description(config),
        "version": VERSION,
        "info": {"beaconNetwork": {"members": len(config.members), "url": base_url}},
    }
    if config.welcome_url:
        response["welcomeUrl"] = config.welcome_url
    return {"meta": _meta(config), "response": response}


_ENVIRONMENTS = ("prod", "test", "dev", "staging")
VERSION = "0.1.0"
"""The aggregator's own version, in its info and service-info documents."""


def _environment(config: NetworkConfig) -> str:
    return config.environment if config.environment in _ENVIRONMENTS else "dev"


def _description(config: NetworkConfig) -> str:
    return config.description or f"Beacon network of {len(config.members)} members"


def service_info_response(config: NetworkConfig) -> dict[str, Any]:
    """``/service-info``: the network in the GA4GH service-info 1.0 shape."""
    return {
        "id": config.id,
        "name": config.name,
        "type": {"group": "org.ga4gh", "artifact": "beacon", "version": API_VERSION},
        "description": _description(config),
        "organization": {
            "name": config.organization_name,
            "url": config.welcome_url or f"urn:{config.organization_id}",
        },
        "environment": _environment(config),
        "version": VERSION,
    }


def filtering_terms_response(config: NetworkConfig) -> dict[str, Any]:
    """``/filtering_terms``: the network offers none (variant queries only)."""
    return {"meta": _meta(config), "response": {"filteringTerms": [], "resources": []}}


def _variant_entry_type() -> dict[str, Any]:
    return {
        "id": "genomicVariation",
        "name": "Genomic variation",
        "ontologyTermForThisType": {"id": "ENSGLOSSARY:0000092", "label": "Variant"},
        "partOfSpecification": "Beacon v2.0.0",
        "description": "Genomic variants found in the network's member beacons.",
        "defaultSchema": {
            "id": "ga4gh-beacon-variant-v2.0.0",
            "name": "Default schema for a genomic variation",
            "referenceToSchemaDefinition": "https://raw.githubusercontent.com/ga4gh-beacon/"
            "beacon-v2/main/models/json/beacon-v2-default-model/genomicVariations/"
            "defaultSchema.json",
            "schemaVersion": "v2.0.0",
        },
        "additionallySupportedSchemas": [],
        "nonFilteredQueriesAllowed": False,
    }


def configuration_response(config: NetworkConfig) -> dict[str, Any]:
    """``/configuration`` (``beaconConfigurationResponse``)."""
    return {
        "meta": _meta(config),
        "response": {
            "$schema": SCHEMA_2020_12,
            "maturityAttributes": {
                "productionStatus": _PRODUCTION_STATUS.get(config.environment, "DEV")
            },
            "securityAttributes": {
                "defaultGranularity": "boolean",
                "securityLevels": ["PUBLIC", "REGISTERED", "CONTROLLED"],
            },
            "entryTypes": {"genomicVariation": _variant_entry_type()},
        },
    }


def map_response(config: NetworkConfig, base_url: str) -> dict[str, Any]:
    """``/map`` (``beaconMapResponse``)."""
    return {
        "meta": _meta(config),
        "response": {
            "$schema": SCHEMA_2020_12,
            "endpointSets": {
                "genomicVariation": {
                    "entryType": "genomicVariation",
                    "rootUrl": f"{base_url}/g_variants",
                }
            },
        },
    }


def entry_types_response(config: NetworkConfig) -> dict[str, Any]:
    """``/entry_types`` (``beaconEntryTypesResponse``)."""
    return {
        "meta": _meta(config),
        "response": {"entryTypes": {"genomicVariation": _variant_entry_type()}},
    }


def error_response(
    config: NetworkConfig, status: int, message: str, *, parameter: str | None = None
) -> dict[str, Any]:
    """A Beacon v2 error document (``beaconErrorResponse``), shaped as a beacon's: the
    message names the offending ``parameter``, which is also given on its own."""
    if parameter and parameter not in message:
        message = f"{parameter}: {message}"
    error: dict[str, Any] = {"errorCode": status, "errorMessage": message}
    if parameter:
        error["parameter"] = parameter
    return {
        "meta": {
            **_meta(config),
            "returnedGranularity": "boolean",
            "receivedRequestSummary": {
                "apiVersion": API_VERSION,
                "requestedSchemas": [],
                "pagination": {"skip": 0, "limit": 10},
                "requestedGranularity": "boolean",
            },
        },
        "error": error,
    }
