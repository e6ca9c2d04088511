"""Every response kind of the beacon validates against the OFFICIAL Beacon v2 schemas.

The schemas are read from ../shared/reference/beacon-v2 (the test is skipped without it) and
their relative and GitHub ``$ref``s are resolved from that folder. The few GA4GH VRS 1.3
definitions the genomicVariation schema points at (outside the Beacon repository) are given
here in minimal form, so that the ``variation`` of every record is still checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.beacon.querydata import SNP, load
from tests.beacon.webutil import beacon_client

GITHUB = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/"
VRS = "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json"

_NUMBER = {
    "type": "object",
    "required": ["type", "value"],
    "properties": {"type": {"const": "Number"}, "value": {"type": "integer"}},
}
_VRS_SUBSET = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "definitions": {
        "SequenceLocation": {
            "type": "object",
            "required": ["type", "sequence_id", "interval"],
            "properties": {
                "type": {"const": "SequenceLocation"},
                "sequence_id": {"type": "string", "pattern": "^\\w[^:]*:.+$"},
                "interval": {
                    "type": "object",
                    "required": ["type", "start", "end"],
                    "properties": {
                        "type": {"const": "SequenceInterval"},
                        "start": _NUMBER,
                        "end": _NUMBER,
                    },
                },
            },
        },
        "Location": {"oneOf": [{"$ref": "#/definitions/SequenceLocation"}]},
        "MolecularVariation": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["Allele", "Haplotype"]}},
        },
        "SystemicVariation": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["CopyNumber"]}},
        },
    },
}
_EXTERNAL_REFERENCE = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "string"}, "reference": {"type": "string"}},
}


@pytest.fixture(scope="module")
def registry(beacon_schema_dir: Path) -> Registry[Any]:
    resources = []
    for path in beacon_schema_dir.rglob("*.json"):
        resource = Resource.from_contents(json.loads(path.read_text()), DRAFT202012)
        relative = path.relative_to(beacon_schema_dir).as_posix()
        resources.append((path.as_uri(), resource))
        resources.append((GITHUB + relative, resource))
    common = beacon_schema_dir / "models/json/beacon-v2-default-model/common/externalReference.json"
    resources.append((common.as_uri(), DRAFT202012.create_resource(_EXTERNAL_REFERENCE)))
    resources.append((VRS, DRAFT202012.create_resource(_VRS_SUBSET)))
    return Registry().with_resources(resources)


_VALIDATORS: dict[tuple[int, str], Draft202012Validator] = {}


def check(registry: Registry[Any], schema_dir: Path, relative: str, document: Any) -> None:
    """Validate ``document`` against the official schema at ``relative``; fail with all errors."""
    key = (id(registry), relative)
    validator = _VALIDATORS.get(key)
    if validator is None:
        uri = (schema_dir / relative).as_uri()
        validator = _VALIDATORS[key] = Draft202012Validator({"$ref": uri}, registry=registry)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, f"{relative}:\n" + "\n".join(errors[:20])


RESPONSES = "framework/json/responses/"
G_VARIATION = "models/json/beacon-v2-default-model/genomicVariations/defaultSchema.json"


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> Any:
    await load(database_url, tmp_path, "ds1")
    await load(database_url, tmp_path, "ds2", records=[
        "chr17\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\t0/0"])  # fmt: skip
    async with beacon_client(database_url, max_body_bytes=2048) as c:
        yield c


async def _json(client: TestClient, path: str, status: int = 200, **kwargs: Any) -> Any:
    method = kwargs.pop("method", "GET")
    response = await client.request(method, path, **kwargs)
    assert response.status == status, await response.text()
    return await response.json()


async def test_framework_responses(
    client: TestClient, registry: Registry[Any], beacon_schema_dir: Path
) -> None:
    for path, schema in [
        ("/", "beaconInfoResponse.json"),
        ("/info", "beaconInfoResponse.json"),
        ("/service-info", "ga4gh-service-info-1-0-0-schema.json"),
        ("/configuration", "beaconConfigurationResponse.json"),
        ("/map", "beaconMapResponse.json"),
        ("/entry_types", "beaconEntryTypesResponse.json"),
        ("/filtering_terms", "beaconFilteringTermsResponse.json"),
        ("/datasets", "beaconCollectionsResponse.json"),
        ("/datasets/ds1", "beaconCollectionsResponse.json"),
    ]:
        check(registry, beacon_schema_dir, RESPONSES + schema, await _json(client, path))


async def test_query_responses(
    client: TestClient, registry: Registry[Any], beacon_schema_dir: Path
) -> None:
    window = {"referenceName": "17", "start": "43000000", "end": "43100000"}
    for params in (SNP, window, {"referenceName": "17", "start": "5", "alternateBases": "A"}):
        for include in ("HIT", "MISS", "ALL", "NONE"):
            base = {**params, "includeResultsetResponses": include}
            boolean = await _json(client, "/g_variants", params=base)
            check(registry, beacon_schema_dir, RESPONSES + "beaconBooleanResponse.json", boolean)
            count = await _json(
                client, "/g_variants", params={**base, "requestedGranularity": "count"}
            )
            check(registry, beacon_schema_dir, RESPONSES + "beaconCountResponse.json", count)
            record = await _json(
                client, "/g_variants", params={**base, "requestedGranularity": "record"}
            )
            assert record["meta"]["returnedGranularity"] == "record"
            for schema in ("beaconResultsetsResponse.json", "beaconCountResponse.json"):
                check(registry, beacon_schema_dir, RESPONSES + schema, record)
            for result_set in record["response"]["resultSets"]:
                for variant in result_set["results"]:
                    check(registry, beacon_schema_dir, G_VARIATION, variant)
    # every kind of stored allele (SNP, MNP, indels, symbolic SVs, breakend) as a record
    record = await _json(
        client, "/g_variants", params={**window, "requestedGranularity": "record", "limit": "50"}
    )
    kinds = {v["variation"]["variantType"] for v in record["response"]["resultSets"][0]["results"]}
    assert kinds == {"SNP", "MNP", "DEL", "INS", "DUP", "BND"}
    body = {"meta": {"apiVersion": "v2.0.0"}, "query": {
        "requestParameters": {"g_variant": {**SNP, "start": [43045711]}},
        "requestedGranularity": "record"}}  # fmt: skip
    check(registry, beacon_schema_dir, "framework/json/requests/beaconRequestBody.json", body)
    for path in ("/g_variants", "/datasets/ds1/g_variants", "/g_variants/17-43045712-T-C"):
        answer = await _json(client, path, method="POST", json=body if "17-" not in path else None)
        check(registry, beacon_schema_dir, RESPONSES + "beaconResultsetsResponse.json", answer)


async def test_error_responses(
    client: TestClient, registry: Registry[Any], beacon_schema_dir: Path
) -> None:
    schema = RESPONSES + "beaconErrorResponse.json"
    for path, status, kwargs in [
        ("/g_variants?start=abc&referenceName=1", 400, {}),
        ("/nowhere", 404, {}),
        ("/datasets/nope", 404, {}),
        ("/g_variants", 413, {"method": "POST", "data": b"{" + b" " * 4096 + b"}"}),
        ("/g_variants", 405, {"method": "PUT"}),
    ]:
        check(registry, beacon_schema_dir, schema, await _json(client, path, status, **kwargs))


async def test_unavailable_store_response(
    registry: Registry[Any], beacon_schema_dir: Path, unused_tcp_port: int
) -> None:
    async with beacon_client(f"postgresql://x@127.0.0.1:{unused_tcp_port}/x") as client:
        body = await _json(client, "/g_variants", 503, params=SNP)
        check(registry, beacon_schema_dir, RESPONSES + "beaconErrorResponse.json", body)
