"""Validation of members' documents against the official Beacon v2 JSON Schemas.

The schemas are not shipped with the project: :class:`OfficialSchemas` reads them from a folder
(``schema_dir`` in ``network.toml``, a checkout of ``ga4gh-beacon/beacon-v2``), resolving their
relative ``$ref``s from the same folder. Nothing is fetched from the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from referencing.jsonschema import DRAFT202012

RESPONSES = "framework/json/responses"
DOCUMENTS = {
    "info": f"{RESPONSES}/beaconInfoResponse.json",
    "service-info": f"{RESPONSES}/ga4gh-service-info-1-0-0-schema.json",
    "filtering_terms": f"{RESPONSES}/beaconFilteringTermsResponse.json",
    "configuration": f"{RESPONSES}/beaconConfigurationResponse.json",
    "map": f"{RESPONSES}/beaconMapResponse.json",
    "resultsets": f"{RESPONSES}/beaconResultsetsResponse.json",
    "boolean": f"{RESPONSES}/beaconBooleanResponse.json",
    "count": f"{RESPONSES}/beaconCountResponse.json",
    "error": f"{RESPONSES}/beaconErrorResponse.json",
}


class SchemaFolderError(ValueError):
    """The schema folder is missing or does not hold the official schemas."""


@dataclass(frozen=True, slots=True)
class OfficialSchemas:
    """Validators for the documents named in :data:`DOCUMENTS`, loaded once."""

    root: Path
    validators: dict[str, Any]

    @classmethod
    def load(cls, root: Path) -> OfficialSchemas:
        """Read the schemas under ``root``. Raises :class:`SchemaFolderError`."""
        root = root.resolve()
        if not (root / RESPONSES).is_dir():
            raise SchemaFolderError(f"{root} does not hold {RESPONSES}")

        def retrieve(uri: str) -> referencing.Resource[Any]:
            path = Path(uri.removeprefix("file://"))
            if not path.is_relative_to(root):
                raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]
            try:
                contents = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                missing = referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]
                raise missing from exc
            return DRAFT202012.create_resource(contents)

        registry: referencing.Registry[Any] = referencing.Registry(retrieve=retrieve)  # type: ignore[call-arg]
        validators = {}
        for name, rel in DOCUMENTS.items():
            path = root / rel
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SchemaFolderError(f"cannot read {path}") from exc
            schema = {**schema, "$id": path.as_uri()}
            validators[name] = jsonschema.Draft202012Validator(schema, registry=registry)
        return cls(root, validators)

    def errors(self, kind: str, document: Any) -> list[str]:
        """Human-readable validation errors of ``document`` as a ``kind`` (empty = valid)."""
        validator = self.validators[kind]
        found = []
        for error in validator.iter_errors(document):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            found.append(f"{where}: {error.message[:200]}")
            if len(found) >= 5:
                break
        return found
