"""Beacon v2 JSON documents built from domain objects. Pure: no I/O, no aiohttp.

Every builder returns a plain ``dict`` ready for orjson; each response kind validates against
the official Beacon v2 schemas (``tests/beacon/test_schemas.py``). Coordinates in responses
are 0-based, half-open, as in the specification; ``variantInternalId`` uses the VCF's
1-based position (``17-43045712-T-C``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from beacon import __version__, normalize
from beacon.config import Settings
from beacon.errors import InvalidRequest
from beacon.model import (
    BeaconRequest,
    Dataset,
    Found,
    Granularity,
    IncludeResultsets,
    VariantRecord,
)
from beacon.policy import DEFAULT_POLICY, policy_to_json

API_VERSION: Final = "v2.0.0"
GENOMIC_VARIATION: Final = "genomicVariation"
DATASET: Final = "dataset"
G_VARIANT_SCHEMA: Final = "beacon-g_variant-v2.0.0"
DATASET_SCHEMA: Final = "beacon-dataset-v2.0.0"
RETURNED_G_VARIANTS: Final = ({"entityType": GENOMIC_VARIATION, "schema": G_VARIANT_SCHEMA},)
RETURNED_DATASETS: Final = ({"entityType": DATASET, "schema": DATASET_SCHEMA},)
_SCHEMA_BASE: Final = (
    "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/"
    "beacon-v2-default-model"
)


@dataclass(frozen=True, slots=True)
class Permitted:
    """A dataset the caller may see, with the most they may learn from it."""

    dataset: Dataset
    granularity: Granularity


# --- meta --------------------------------------------------------------------------------


def informational_meta(settings: Settings, returned_schemas: Sequence[Mapping[str, str]] = ()) -> (
    dict[str, Any]
):  # fmt: skip
    """``meta`` of the framework endpoints (info, configuration, map, ...)."""
    return {
        "beaconId": settings.beacon_id,
        "apiVersion": API_VERSION,
        "returnedSchemas": [dict(s) for s in returned_schemas],
    }


def default_summary(
    granularity: Granularity = Granularity.BOOLEAN, skip: int = 0, limit: int = 10
) -> dict[str, Any]:
    """A receivedRequestSummary for requests that carried no query (collections, errors)."""
    return {
        "apiVersion": API_VERSION,
        "requestedSchemas": [],
        "pagination": {"skip": skip, "limit": limit},
        "requestedGranularity": str(granularity),
    }


def response_meta(
    settings: Settings,
    *,
    returned_granularity: Granularity,
    received: Mapping[str, Any],
    returned_schemas: Sequence[Mapping[str, str]],
    test_mode: bool = False,
) -> dict[str, Any]:
    """``meta`` of a query response (beaconResponseMeta)."""
    return {
        "beaconId": settings.beacon_id,
        "apiVersion": API_VERSION,
        "returnedSchemas": [dict(s) for s in returned_schemas],
        "returnedGranularity": str(returned_granularity),
        "receivedRequestSummary": dict(received),
        "testMode": test_mode,
    }


def error_response(
    settings: Settings, status: int, message: str, *, received: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A Beacon v2 error document (beaconErrorResponse)."""
    return {
        "meta": response_meta(
            settings,
            returned_granularity=Granularity.BOOLEAN,
            received=received or default_summary(),
            returned_schemas=(),
        ),
        "error": {"errorCode": status, "errorMessage": message},
    }


# --- framework endpoints -----------------------------------------------------------------


def _organization(settings: Settings) -> dict[str, Any]:
    org: dict[str, Any] = {"id": settings.organization_id, "name": settings.organization_name}
    if settings.welcome_url:
        org["welcomeUrl"] = settings.welcome_url
    return org


def info_response(settings: Settings, datasets: Iterable[Dataset]) -> dict[str, Any]:
    """``/`` and ``/info`` (beaconInfoResponse). ``datasets`` are those the caller may see."""
    visible = list(datasets)
    response: dict[str, Any] = {
        "id": settings.beacon_id,
        "name": settings.beacon_name,
        "apiVersion": API_VERSION,
        "environment": _environment(settings.environment),
        "organization": _organization(settings),
        "version": __version__,
        "info": {
            "assemblies": sorted({d.assembly for d in visible}),
            "datasets": [{"id": d.id, "name": d.name, "assemblyId": d.assembly} for d in visible],
        },
    }
    if settings.welcome_url:
        response["welcomeUrl"] = settings.welcome_url
    return {"meta": informational_meta(settings), "response": response}


def _environment(value: str) -> str:
    value = value.lower()
    return value if value in ("prod", "test", "dev", "staging") else "dev"


def service_info(settings: Settings) -> dict[str, Any]:
    """``/service-info`` in the GA4GH service-info 1.0 shape."""
    return {
        "id": settings.beacon_id,
        "name": settings.beacon_name,
        "type": {"group": "org.ga4gh", "artifact": "beacon", "version": API_VERSION},
        "organization": {
            "name": settings.organization_name,
            "url": settings.welcome_url or f"urn:{settings.organization_id}",
        },
        "environment": _environment(settings.environment),
        "version": __version__,
    }


def _entry_types() -> dict[str, Any]:
    return {
        GENOMIC_VARIATION: {
            "id": GENOMIC_VARIATION,
            "name": "Genomic variation",
            "ontologyTermForThisType": {"id": "ENSGLOSSARY:0000092", "label": "Variant"},
            "partOfSpecification": "Beacon v2.0.0",
            "defaultSchema": {
                "id": G_VARIANT_SCHEMA,
                "name": "Default schema for a genomic variation",
                "referenceToSchemaDefinition": (
                    f"{_SCHEMA_BASE}/genomicVariations/defaultSchema.json"
                ),
                "schemaVersion": API_VERSION,
            },
            "nonFilteredQueriesAllowed": True,
        },
        DATASET: {
            "id": DATASET,
            "name": "Dataset",
            "ontologyTermForThisType": {"id": "NCIT:C47824", "label": "Data set"},
            "partOfSpecification": "Beacon v2.0.0",
            "defaultSchema": {
                "id": DATASET_SCHEMA,
                "name": "Default schema for datasets",
                "referenceToSchemaDefinition": f"{_SCHEMA_BASE}/datasets/defaultSchema.json",
                "schemaVersion": API_VERSION,
            },
            "aCollectionOf": [{"id": GENOMIC_VARIATION, "name": "Genomic variations"}],
            "nonFilteredQueriesAllowed": True,
        },
    }


def configuration_response(settings: Settings) -> dict[str, Any]:
    """``/configuration`` (beaconConfigurationResponse)."""
    status = {"prod": "PROD", "test": "TEST", "staging": "TEST"}.get(
        settings.environment.lower(), "DEV"
    )
    return {
        "meta": informational_meta(settings),
        "response": {
            "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/"
            "json/configuration/beaconConfigurationSchema.json",
            "maturityAttributes": {"productionStatus": status},
            "securityAttributes": {
                "defaultGranularity": "boolean",
                "securityLevels": ["PUBLIC", "REGISTERED", "CONTROLLED"],
            },
            "entryTypes": _entry_types(),
            # What each tier may see unless a dataset says otherwise; every dataset's own
            # policy is in its /datasets entry (info.disclosurePolicy).
            "defaultDisclosurePolicy": policy_to_json(DEFAULT_POLICY),
        },
    }


def entry_types_response(settings: Settings) -> dict[str, Any]:
    """``/entry_types`` (beaconEntryTypesResponse)."""
    return {"meta": informational_meta(settings), "response": {"entryTypes": _entry_types()}}


def map_response(settings: Settings, root_url: str) -> dict[str, Any]:
    """``/map`` (beaconMapResponse). ``root_url`` is the beacon's base URL, no trailing slash."""
    return {
        "meta": informational_meta(settings),
        "response": {
            "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/"
            "json/configuration/beaconMapSchema.json",
            "endpointSets": {
                GENOMIC_VARIATION: {
                    "entryType": GENOMIC_VARIATION,
                    "rootUrl": f"{root_url}/g_variants",
                    "singleEntryUrl": f"{root_url}/g_variants/{{id}}",
                    "openAPIEndpointsDefinition": f"{root_url}/openapi.json",
                },
                DATASET: {
                    "entryType": DATASET,
                    "rootUrl": f"{root_url}/datasets",
                    "singleEntryUrl": f"{root_url}/datasets/{{id}}",
                    "endpoints": {
                        GENOMIC_VARIATION: {
                            "returnedEntryType": GENOMIC_VARIATION,
                            "url": f"{root_url}/datasets/{{id}}/g_variants",
                        }
                    },
                },
            },
        },
    }


def filtering_terms_response(settings: Settings) -> dict[str, Any]:
    """``/filtering_terms``: this beacon offers none (variant queries only)."""
    return {
        "meta": informational_meta(settings),
        "response": {"filteringTerms": [], "resources": []},
    }


def dataset_document(dataset: Dataset) -> dict[str, Any]:
    """One dataset as a Beacon v2 collection entry (counts are aggregate, never per sample)."""
    doc: dict[str, Any] = {
        "id": dataset.id,
        "name": dataset.name,
        "description": dataset.description,
        "version": dataset.version,
        "assemblyId": dataset.assembly,
        "securityLevel": str(dataset.security_level),
        "info": {
            "sampleCount": dataset.sample_count,
            "variantCount": dataset.variant_count,
            "callCount": dataset.call_count,
            "countSource": str(dataset.count_source),
            # Per tier: the highest granularity, how low counts are reported, and k.
            "disclosurePolicy": policy_to_json(dataset.policy),
        },
    }
    if dataset.created_at is not None:
        doc["createDateTime"] = dataset.created_at.isoformat()
    if dataset.updated_at is not None:
        doc["updateDateTime"] = dataset.updated_at.isoformat()
    if dataset.external_url:
        doc["externalUrl"] = dataset.external_url
    if dataset.data_use_conditions:
        doc["dataUseConditions"] = dataset.data_use_conditions
    return doc


def datasets_response(
    settings: Settings, datasets: Sequence[Dataset], *, skip: int = 0, limit: int = 10
) -> dict[str, Any]:
    """``/datasets`` and ``/datasets/{id}`` (beaconCollectionsResponse), one page."""
    page = datasets[skip : skip + limit]
    return {
        "meta": response_meta(
            settings,
            returned_granularity=Granularity.RECORD,
            received=default_summary(Granularity.RECORD, skip, limit),
            returned_schemas=RETURNED_DATASETS,
        ),
        "responseSummary": {"exists": bool(datasets), "numTotalResults": len(datasets)},
        "response": {"collections": [dataset_document(d) for d in page]},
    }


# --- g_variants ----------------------------------------------------------------------------


@functools.cache
def _refseq_accessions() -> dict[tuple[str, str], str]:
    """(assembly, chromosome) -> RefSeq accession, derived from beacon.normalize's table."""
    table: dict[tuple[str, str], str] = {}
    for number in range(1, 25):
        for version in range(7, 16):
            accession = f"NC_{number:06d}.{version}"
            try:
                chrom, asm = normalize.chromosome_and_assembly(accession)
            except InvalidRequest:
                continue
            if asm is not None:
                table[(asm, chrom)] = accession
    for asm in normalize.ASSEMBLIES:
        table[(asm, "MT")] = "NC_012920.1"
    return table


def sequence_id(assembly: str, chromosome: str) -> str:
    """A CURIE naming a chromosome of an assembly: ``refseq:NC_000017.11``."""
    accession = _refseq_accessions().get((assembly, chromosome))
    return f"refseq:{accession}" if accession else f"{assembly}:{chromosome}"


def variant_internal_id(record: VariantRecord) -> str:
    """``<chrom>-<VCF position, 1-based>-<VCF REF>-<VCF ALT>``; see /g_variants/{id}."""
    return f"{record.reference_name}-{record.vcf_start + 1}-{record.vcf_ref}-{record.vcf_alt}"


def _is_sequence(bases: str) -> bool:
    return all(b in "ACGTN" for b in bases)


def variant_document(record: VariantRecord, dataset: Dataset) -> dict[str, Any]:
    """One allele of one dataset as a Beacon v2 genomicVariation (default schema)."""
    alternate = record.alternate_bases if _is_sequence(record.alternate_bases) else ""
    reference = record.reference_bases if _is_sequence(record.reference_bases) else ""

    def number(value: int) -> dict[str, Any]:
        return {"type": "Number", "value": value}

    doc: dict[str, Any] = {
        "variantInternalId": variant_internal_id(record),
        "variation": {
            "variantType": record.variant_type,
            "referenceBases": reference,
            "alternateBases": alternate,
            "location": {
                "type": "SequenceLocation",
                "sequence_id": sequence_id(dataset.assembly, record.reference_name),
                "interval": {
                    "type": "SequenceInterval",
                    "start": number(record.start),
                    "end": number(record.end),
                },
            },
        },
    }
    if not _is_sequence(record.alternate_bases):
        doc["variation"]["symbolicAllele"] = record.alternate_bases
    if record.mate_name is not None:
        doc["variation"]["mateName"] = record.mate_name
        if record.mate_start is not None:
            doc["variation"]["mateStart"] = record.mate_start
    if record.variant_id:
        doc["identifiers"] = {"variantAlternativeIds": [{"id": record.variant_id}]}
    if record.gene_ids:
        doc["molecularAttributes"] = {"geneIds": list(record.gene_ids)}
    frequency = record.frequency
    if frequency is not None:
        doc["frequencyInPopulations"] = [
            {
                "source": dataset.name,
                "sourceReference": dataset.external_url or dataset.id,
                "frequencies": [{"population": dataset.id, "alleleFrequency": frequency}],
            }
        ]
    stats = {
        "alleleCount": record.allele_count,
        "alleleNumber": record.allele_number,
        "alleleFrequency": frequency,
        "carriers": record.carriers,
        "heterozygous": record.heterozygous,
        "homozygous": record.homozygous,
        "hemizygous": record.hemizygous,
    }
    doc["alleleStatistics"] = {k: v for k, v in stats.items() if v is not None}
    return doc


def returned_granularity(requested: Granularity, permitted: Iterable[Permitted]) -> Granularity:
    """The granularity of an answer: what was asked, lowered to every queried dataset's limit."""
    result = requested
    for item in permitted:
        result = result.at_most(item.granularity)
    return result


def _include(mode: IncludeResultsets, exists: bool) -> bool:
    if mode is IncludeResultsets.ALL:
        return True
    if mode is IncludeResultsets.HIT:
        return exists
    if mode is IncludeResultsets.MISS:
        return not exists
    return False


def g_variants_response(
    settings: Settings,
    request: BeaconRequest,
    permitted: Sequence[Permitted],
    found: Mapping[str, Found],
    granularity: Granularity,
) -> dict[str, Any]:
    """The answer to a ``g_variants`` query.

    ``permitted`` are the datasets that were queried (those the caller may see, narrowed by
    datasetIds and assembly) and ``found`` their hits by dataset id. ``granularity`` is the
    returned granularity, :func:`returned_granularity` of the request over ``permitted`` (the
    query plan's). At ``boolean`` the result sets carry ``exists`` only, at ``count`` also
    ``resultsCount``, at ``record`` also one page of genomicVariations.
    """
    counts = [(item, found.get(item.dataset.id)) for item in permitted]
    total = 0
    for _, hit in counts:
        if hit is not None:
            total += hit.total
    meta = response_meta(
        settings,
        returned_granularity=granularity,
        received=request.received,
        returned_schemas=RETURNED_G_VARIANTS,
        test_mode=request.test_mode,
    )
    summary: dict[str, Any] = {"exists": total > 0}
    if granularity is not Granularity.BOOLEAN:
        summary["numTotalResults"] = total
    doc: dict[str, Any] = {"meta": meta, "responseSummary": summary}
    mode = request.include_resultset_responses
    if mode is IncludeResultsets.NONE:
        if granularity is not Granularity.BOOLEAN:
            doc["response"] = {"resultSets": []}
        return doc
    result_sets = []
    for item, hit in counts:
        count = hit.total if hit is not None else 0
        if not _include(mode, count > 0):
            continue
        result_set: dict[str, Any] = {
            "id": item.dataset.id,
            "setType": DATASET,
            "exists": count > 0,
        }
        if granularity is not Granularity.BOOLEAN:
            result_set["resultsCount"] = count
            records = hit.records if hit and granularity is Granularity.RECORD else ()
            result_set["results"] = [variant_document(r, item.dataset) for r in records]
        result_sets.append(result_set)
    doc["response"] = {"resultSets": result_sets}
    return doc
