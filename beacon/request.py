"""Parsing Beacon v2 ``g_variants`` requests into a frozen :class:`beacon.model.BeaconRequest`.

Pure: no I/O. Every spelling the Beacon v2 specification and its documentation use is
accepted: ``requestParameters`` wrapped (``{"g_variant": {...}}``) or flat, ``geneid``/``geneId``,
``allele``/``genomicAlleleShortForm``, comma lists in GET parameters, ``start``/``end`` as one
or two numbers, and granularity and pagination inside or beside ``query``. Coordinates in
requests are 0-based (``start`` inclusive, ``end`` exclusive), as in the specification; HGVS
positions are 1-based and converted here.

Every function raises :class:`beacon.errors.InvalidRequest` naming the offending parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from beacon import normalize
from beacon.errors import InvalidRequest
from beacon.model import (
    BeaconRequest,
    Granularity,
    IncludeResultsets,
    QueryKind,
    VariantQuery,
    VariantTypeMatch,
)

MAX_POSITION: Final = 10**10
"""Largest coordinate accepted (well above any human chromosome; keeps values in bigint)."""
MAX_BASES: Final = 10_000
"""Longest referenceBases / alternateBases accepted."""
MAX_LIMIT: Final = 1000
"""Largest page of records per result set; ``limit=0`` asks for this many."""
DEFAULT_LIMIT: Final = 10
MAX_TEXT: Final = 256
"""Longest free-text parameter (gene id, HGVS expression, dataset id) accepted."""
MAX_DATASET_IDS: Final = 100

QUERY_PARAMETERS: Final = (
    "referenceName",
    "assemblyId",
    "start",
    "end",
    "referenceBases",
    "alternateBases",
    "variantType",
    "variantMinLength",
    "variantMaxLength",
    "mateName",
    "geneId",
    "genomicAlleleShortForm",
    "aminoacidChange",
)
"""The ``g_variant`` request parameters, in the specification's spelling."""

_ALIASES: Final[dict[str, str]] = {
    **{name.lower(): name for name in QUERY_PARAMETERS},
    "geneid": "geneId",
    "gene": "geneId",
    "allele": "genomicAlleleShortForm",
    "assembly": "assemblyId",
    "datasetids": "datasetIds",
    "datasets": "datasetIds",
    "requestedgranularity": "requestedGranularity",
    "granularity": "requestedGranularity",
    "includeresultsetresponses": "includeResultsetResponses",
    "skip": "skip",
    "limit": "limit",
    "filters": "filters",
    "testmode": "testMode",
    "apiversion": "apiVersion",
    "requestedschema": "requestedSchemas",
    "requestedschemas": "requestedSchemas",
}
"""Lower-cased spelling -> canonical name, for every parameter a request may carry."""

_CANONICAL: Final = frozenset(_ALIASES.values())
"""Canonical names, which need no look-up."""

_IGNORED: Final = frozenset({"$schema"})

_CONTROL: Final = frozenset(
    {
        "datasetIds",
        "requestedGranularity",
        "includeResultsetResponses",
        "skip",
        "limit",
        "filters",
        "testMode",
        "apiVersion",
        "requestedSchemas",
    }
)

# --- variantType vocabulary ----------------------------------------------------------------

_STRUCTURAL_FAMILIES: Final = ("DEL", "DUP", "INS", "INV", "CNV", "BND")


def _vt(term: str, *, exact: tuple[str, ...] = (), families: tuple[str, ...] = (),
        structural_only: bool = False) -> VariantTypeMatch:  # fmt: skip
    return VariantTypeMatch(term, exact, families, structural_only)


_VARIANT_TYPES: Final[dict[str, VariantTypeMatch]] = {
    "SNP": _vt("SNP", exact=("SNP",)),
    "SNV": _vt("SNV", exact=("SNP",)),
    "MNP": _vt("MNP", exact=("MNP",)),
    "MNV": _vt("MNV", exact=("MNP",)),
    "INDEL": _vt("INDEL", exact=("INDEL",)),
    "INS": _vt("INS", families=("INS",)),
    "DEL": _vt("DEL", families=("DEL",)),
    "DUP": _vt("DUP", families=("DUP",)),
    "DUP:TANDEM": _vt("DUP:TANDEM", exact=("DUP:TANDEM",)),
    "INV": _vt("INV", families=("INV",)),
    "BND": _vt("BND", families=("BND", "TRA")),
    "TRA": _vt("TRA", families=("BND", "TRA")),
    "CNV": _vt("CNV", families=("CNV", "DEL", "DUP"), structural_only=True),
    # EFO copy-number terms (and the SO term for CNVs) as the Beacon documentation uses them.
    "EFO:0030063": _vt("EFO:0030063", families=("CNV", "DEL", "DUP"), structural_only=True),
    "SO:0001019": _vt("SO:0001019", families=("CNV", "DEL", "DUP"), structural_only=True),
    "EFO:0030067": _vt("EFO:0030067", families=("DEL",), structural_only=True),  # CN loss
    "EFO:0030068": _vt("EFO:0030068", families=("DEL",), structural_only=True),  # low-level loss
    "EFO:0030069": _vt("EFO:0030069", families=("DEL",), structural_only=True),  # complete del.
    "EFO:0030070": _vt("EFO:0030070", families=("DUP",), structural_only=True),  # CN gain
    "EFO:0030071": _vt("EFO:0030071", families=("DUP",), structural_only=True),  # low-level gain
    "EFO:0030072": _vt("EFO:0030072", families=("DUP",), structural_only=True),  # high-level gain
    "EFO:0030073": _vt("EFO:0030073", families=("DUP",), structural_only=True),  # amplification
}
VARIANT_TYPES: Final = tuple(_VARIANT_TYPES)
"""Every variantType value the beacon understands."""

# RefSeq assembly accessions: GCF_000001405.25 is GRCh37.p13, .26 onwards are GRCh38 patches.
_GCF_RE: Final = re.compile(r"^GCF_000001405\.(\d+)$", re.IGNORECASE)


def variant_type(value: str) -> VariantTypeMatch:
    """The stored types a variantType term matches; raises InvalidRequest for unknown terms."""
    match = _VARIANT_TYPES.get(value.strip().upper())
    if match is None:
        raise InvalidRequest(
            f"unsupported variantType {value!r}; use one of {', '.join(VARIANT_TYPES)}",
            parameter="variantType",
        )
    return match


def assembly(value: str) -> str:
    """Canonical assembly (``GRCh37``/``GRCh38``) from any accepted spelling."""
    known = normalize.try_assembly(value)
    if known is not None:
        return known
    gcf = _GCF_RE.match(value.strip())
    if gcf:
        version = int(gcf.group(1))
        if version == 25:
            return "GRCh37"
        if version >= 26:
            return "GRCh38"
    return normalize.assembly(value, parameter="assemblyId")


# --- scalar parsing ----------------------------------------------------------------------


def _text(value: Any, name: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string", parameter=name)
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise InvalidRequest(f"{name} is too long (at most {MAX_TEXT} characters)", parameter=name)
    if not text.isprintable():
        raise InvalidRequest(f"{name} must not contain control characters", parameter=name)
    return text


_INTEGER: Final = re.compile(r"\s*[+-]?[0-9]{1,19}\s*")
"""An integer in ASCII digits; a negative one is read, then refused as out of range."""


def _integer(value: Any, name: str, *, minimum: int = 0, maximum: int = MAX_POSITION) -> int:
    if isinstance(value, bool):
        raise InvalidRequest(f"{name} must be an integer", parameter=name)
    if type(value) is str and len(value) <= 19 and value.isascii() and value.isdigit():
        number = int(value)  # the usual spelling, without the pattern below
    elif isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _INTEGER.fullmatch(value)
    ):
        number = int(value)
    else:
        raise InvalidRequest(f"{name} must be an integer, got {str(value)[:40]!r}", parameter=name)
    if number < minimum or number > maximum:
        raise InvalidRequest(
            f"{name} must be between {minimum} and {maximum}, got {number}", parameter=name
        )
    return number


def _integers(value: Any, name: str, *, minimum: int) -> tuple[int, ...]:
    """One or two integers: ``5``, ``"5"``, ``"5,9"``, ``[5]``, ``[5, 9]``."""
    items: list[Any]
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        if "," not in value:
            return (_integer(value, name, minimum=minimum),)
        items = value.split(",")
    else:
        items = [value]
    if not 1 <= len(items) <= 2:
        raise InvalidRequest(f"{name} takes one or two integers", parameter=name)
    return tuple([_integer(item, name, minimum=minimum) for item in items])


def _string_list(value: Any, name: str, *, limit: int) -> tuple[str, ...]:
    items: list[Any]
    if isinstance(value, str):
        items = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidRequest(f"{name} must be a list of strings", parameter=name)
    if len(items) > limit:
        raise InvalidRequest(f"{name} lists more than {limit} values", parameter=name)
    out = []
    for item in items:
        # filters may be {"id": "EFO:..."} objects
        term = item["id"] if isinstance(item, dict) and "id" in item else item
        out.append(_text(term, name))
    return tuple(dict.fromkeys(out))


def _bases(value: Any, name: str) -> str:
    text = _text(value, name) if not isinstance(value, str) else value.strip()
    if len(text) > MAX_BASES:
        raise InvalidRequest(f"{name} is too long (at most {MAX_BASES} bases)", parameter=name)
    if "," in text:
        raise InvalidRequest(f"{name} takes one allele, got several", parameter=name)
    if text in ("-", "."):
        return ""
    return normalize.bases(text, parameter=name)


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise InvalidRequest(f"{name} must be true or false", parameter=name)


def granularity(value: Any, name: str = "requestedGranularity") -> Granularity:
    """Parse a granularity word (case-insensitive)."""
    text = _text(value, name).lower()
    try:
        return Granularity(text)
    except ValueError as exc:
        raise InvalidRequest(
            f"{name} must be boolean, count or record, got {text[:40]!r}", parameter=name
        ) from exc


def _include(value: Any) -> IncludeResultsets:
    name = "includeResultsetResponses"
    text = _text(value, name).upper()
    try:
        return IncludeResultsets(text)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be HIT, MISS, ALL or NONE", parameter=name) from exc


# --- HGVS ------------------------------------------------------------------------------------

_HGVS_RE: Final = re.compile(
    r"^(?P<seq>[A-Za-z0-9_.]+):g\.(?P<start>\d+)(?:_(?P<end>\d+))?"
    r"(?:(?P<ref>[ACGTN]+)>(?P<alt>[ACGTN]+)"
    r"|delins(?P<delins>[ACGTN]+)"
    r"|del(?P<deleted>[ACGTN]*)"
    r"|ins(?P<inserted>[ACGTN]+))$",
    re.IGNORECASE,
)


def parse_hgvs(value: str) -> tuple[str, str | None, int, str, str]:
    """Parse a genomic HGVS expression into ``(chromosome, assembly, start, ref, alt)``.

    Supports substitutions (``NC_000017.11:g.43045712T>C``), deletions (``g.10_12del``,
    ``g.10delA``), insertions (``g.10_11insAT``) and deletion-insertions (``g.10_12delinsG``).
    Positions in HGVS are 1-based; the returned ``start`` is 0-based. Deleted bases the
    expression does not spell are returned as ``N`` (any base). Raises InvalidRequest.
    """
    name = "genomicAlleleShortForm"
    match = _HGVS_RE.match(value.strip())
    if match is None:
        raise InvalidRequest(
            f"{name} must be a genomic HGVS expression such as NC_000017.11:g.43045712T>C "
            "(substitution, del, ins or delins)",
            parameter=name,
        )
    chrom, implied = normalize.chromosome_and_assembly(match["seq"], parameter=name)
    first = int(match["start"])
    last = int(match["end"]) if match["end"] else first
    if first < 1 or last < first or last > MAX_POSITION:
        raise InvalidRequest(f"{name} has an invalid position range", parameter=name)
    start = first - 1
    span = last - first + 1
    if match["ref"] is not None:
        ref, alt = match["ref"].upper(), match["alt"].upper()
        if match["end"] and len(ref) != span:
            raise InvalidRequest(f"{name}: reference length does not match range", parameter=name)
        return chrom, implied, start, ref, alt
    if match["delins"] is not None:
        return chrom, implied, start, "N" * span, match["delins"].upper()
    if match["inserted"] is not None:
        if last != first + 1:
            raise InvalidRequest(
                f"{name}: an insertion lies between two adjacent positions (g.10_11insA)",
                parameter=name,
            )
        return chrom, implied, first, "", match["inserted"].upper()
    deleted = match["deleted"].upper()
    if deleted and len(deleted) != span:
        raise InvalidRequest(f"{name}: deleted bases do not match range", parameter=name)
    if span > MAX_BASES:
        raise InvalidRequest(f"{name}: deletion is too long", parameter=name)
    return chrom, implied, start, deleted or "N" * span, ""


# --- collecting the parameters from GET and POST -----------------------------------------


def _canonical(key: str, where: str) -> str | None:
    if key in _CANONICAL:
        return key
    if key in _IGNORED:
        return None
    name = _ALIASES.get(key.lower())
    if name is None:
        raise InvalidRequest(f"unknown parameter {key[:60]!r} in {where}", parameter=key[:60])
    return name


def _put(into: dict[str, Any], key: str, value: Any, where: str) -> None:
    name = _canonical(key, where)
    if name is None or value is None:
        return
    into[name] = value


def _request_parameters(value: Any, into: dict[str, Any]) -> None:
    """Merge ``requestParameters`` (flat, wrapped in ``g_variant``, or a list) into ``into``."""
    where = "requestParameters"
    if isinstance(value, list):
        for item in value:
            _request_parameters(item, into)
        return
    if not isinstance(value, Mapping):
        raise InvalidRequest("requestParameters must be an object", parameter=where)
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidRequest("requestParameters keys must be strings", parameter=where)
        if key.lower() in ("g_variant", "g_variants", "genomicvariant", "genomicvariation"):
            _request_parameters(item, into)
        else:
            _put(into, key, item, where)


def _pagination(value: Any, into: dict[str, Any]) -> None:
    if not isinstance(value, Mapping):
        raise InvalidRequest("pagination must be an object", parameter="pagination")
    for key in ("skip", "limit"):
        if key in value and value[key] is not None:
            into[key] = value[key]


def _requested_schemas(value: Any) -> tuple[str, ...]:
    name = "requestedSchemas"
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, Mapping):
            schema = item.get("schema")
            if schema is None:
                continue
            out.append(_text(schema, name))
        else:
            out.append(_text(item, name))
    return tuple(out)


def _collect(params: Mapping[str, str] | None, body: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every parameter of the request under its canonical name (body values win)."""
    merged: dict[str, Any] = {}
    for key, value in (params or {}).items():
        _put(merged, key, value, "the query string")
    if body is None:
        return merged
    if not isinstance(body, Mapping):
        raise InvalidRequest("the request body must be a JSON object", parameter="body")
    meta = body.get("meta")
    if meta is not None:
        if not isinstance(meta, Mapping):
            raise InvalidRequest("meta must be an object", parameter="meta")
        if "apiVersion" in meta:
            merged["apiVersion"] = meta["apiVersion"]
        if "requestedSchemas" in meta:
            merged["requestedSchemas"] = meta["requestedSchemas"]
    for layer in (body, body.get("query")):
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise InvalidRequest("query must be an object", parameter="query")
        for key, value in layer.items():
            if key in ("meta", "query", "$schema"):
                continue
            if key == "requestParameters":
                _request_parameters(value, merged)
            elif key == "pagination":
                _pagination(value, merged)
            else:
                _put(merged, key, value, "the request body")
    return merged


# --- building the query ------------------------------------------------------------------


_FILTERS: Final = frozenset({"variantType", "variantMinLength", "variantMaxLength", "mateName"})


def _filters(p: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`VariantQuery` fields of the filters among :data:`_FILTERS` in ``p``."""
    vtype = variant_type(_text(p["variantType"], "variantType")) if "variantType" in p else None
    min_len = (
        _integer(p["variantMinLength"], "variantMinLength") if "variantMinLength" in p else None
    )
    max_len = (
        _integer(p["variantMaxLength"], "variantMaxLength") if "variantMaxLength" in p else None
    )
    if min_len is not None and max_len is not None and min_len > max_len:
        raise InvalidRequest(
            "variantMinLength must not exceed variantMaxLength", parameter="variantMinLength"
        )
    mate = (
        normalize.chromosome(_text(p["mateName"], "mateName"), parameter="mateName")
        if "mateName" in p
        else None
    )
    return {
        "variant_type": vtype,
        "variant_min_length": min_len,
        "variant_max_length": max_len,
        "mate_name": mate,
    }


def _query(p: Mapping[str, Any], coordinates: dict[str, tuple[int, ...]]) -> VariantQuery:
    """The query ``p`` (canonical names) asks; ``start`` and ``end`` as parsed are left in
    ``coordinates`` for :func:`_received`."""
    if "aminoacidChange" in p:
        raise InvalidRequest(
            "aminoacidChange queries are not supported by this beacon", parameter="aminoacidChange"
        )
    asm = assembly(_text(p["assemblyId"], "assemblyId")) if "assemblyId" in p else None
    filters = {} if _FILTERS.isdisjoint(p) else _filters(p)

    if "genomicAlleleShortForm" in p:
        clash = [k for k in ("referenceName", "start", "end", "referenceBases", "alternateBases",
                             "geneId") if k in p]  # fmt: skip
        if clash:
            raise InvalidRequest(
                f"genomicAlleleShortForm cannot be combined with {clash[0]}", parameter=clash[0]
            )
        hgvs = _text(p["genomicAlleleShortForm"], "genomicAlleleShortForm")
        h_chrom, h_assembly, h_start, h_ref, h_alt = parse_hgvs(hgvs)
        trimmed = normalize.trim(h_start, h_ref, h_alt)
        return VariantQuery(
            QueryKind.SEQUENCE, h_chrom, _reconcile_assembly(asm, h_assembly), trimmed.start,
            trimmed.end, reference_bases=trimmed.reference, alternate_bases=trimmed.alternate,
            **filters,
        )  # fmt: skip

    if "geneId" in p:
        gene = _text(p["geneId"], "geneId")
        if not gene:
            raise InvalidRequest("geneId must not be empty", parameter="geneId")
        for key in ("start", "end", "referenceBases"):
            if key in p:
                raise InvalidRequest(f"geneId cannot be combined with {key}", parameter=key)
        g_alt = _bases(p["alternateBases"], "alternateBases") if "alternateBases" in p else None
        return VariantQuery(
            QueryKind.GENE, assembly=asm, gene_id=gene, alternate_bases=g_alt, **filters
        )

    if "referenceName" not in p:
        raise InvalidRequest("referenceName is required", parameter="referenceName")
    chrom, implied = normalize.chromosome_and_assembly(_text(p["referenceName"], "referenceName"))
    asm = _reconcile_assembly(asm, implied)
    if "start" not in p:
        raise InvalidRequest("start is required", parameter="start")
    starts = coordinates["start"] = _integers(p["start"], "start", minimum=0)
    ends = _integers(p["end"], "end", minimum=1) if "end" in p else ()
    if ends:
        coordinates["end"] = ends
    ref = _bases(p["referenceBases"], "referenceBases") if "referenceBases" in p else None
    alt = _bases(p["alternateBases"], "alternateBases") if "alternateBases" in p else None

    if len(starts) == 2 or len(ends) == 2:
        if len(starts) != 2 or len(ends) != 2:
            bad = "end" if len(starts) == 2 else "start"
            raise InvalidRequest(
                "a bracket query takes two values in both start and end", parameter=bad
            )
        if starts[0] > starts[1]:
            raise InvalidRequest("start values must be in increasing order", parameter="start")
        if ends[0] > ends[1]:
            raise InvalidRequest("end values must be in increasing order", parameter="end")
        if starts[0] > ends[1]:
            raise InvalidRequest("the bracket ends before it starts", parameter="end")
        return VariantQuery(
            QueryKind.BRACKET, chrom, asm, starts[0], ends[0], start_max=starts[1],
            end_max=ends[1], reference_bases=ref, alternate_bases=alt, **filters,
        )  # fmt: skip

    start = starts[0]
    if ref is not None:
        if alt is None:
            raise InvalidRequest(
                "alternateBases is required with referenceBases", parameter="alternateBases"
            )
        if ref == alt:
            raise InvalidRequest(
                "alternateBases must differ from referenceBases", parameter="alternateBases"
            )
        if ends and ends[0] != start + len(ref):
            raise InvalidRequest(
                "end must equal start plus the length of referenceBases", parameter="end"
            )
        if ref[:1] == alt[:1] == "N" and min(len(ref), len(alt)) == 1:
            # An indel padded with one unknown base before it (N>NC, NA>N), as v1 clients
            # and networks write an indel whose preceding base they do not know.
            start, ref, alt = start + 1, ref[1:], alt[1:]
        start, ref, alt = normalize.trim_bases(start, ref, alt)
        return VariantQuery(
            QueryKind.SEQUENCE, chrom, asm, start, start + len(ref), reference_bases=ref,
            alternate_bases=alt, **filters,
        )  # fmt: skip
    if ends:
        if ends[0] <= start:
            raise InvalidRequest("end must be greater than start", parameter="end")
        return VariantQuery(
            QueryKind.RANGE, chrom, asm, start, ends[0], alternate_bases=alt, **filters
        )
    if not alt:
        raise InvalidRequest(
            "alternateBases (or end, for a range query) is required with a single start",
            parameter="alternateBases",
        )
    return VariantQuery(
        QueryKind.SEQUENCE, chrom, asm, start, start + 1, alternate_bases=alt, **filters
    )


def _reconcile_assembly(given: str | None, implied: str | None) -> str | None:
    if given and implied and given != implied:
        raise InvalidRequest(
            f"assemblyId {given} contradicts the {implied} accession in the reference name",
            parameter="assemblyId",
        )
    return given or implied


def _id_allele(text: str) -> str:
    """REF or ALT of a variant id, upper-case (ids match whatever the case): bases, or a
    symbolic or breakend allele (``<DEL>``, ``N[2:321682[``), in printable ASCII."""
    if not text or not text.isascii() or not text.isprintable():
        raise InvalidRequest(
            "the alleles of a variant id must be bases (ACGTN) or a symbolic allele",
            parameter="id",
        )
    return text.upper()


def variant_id_query(variant_id: str) -> VariantQuery:
    """A query for one ``variantInternalId`` (``<chrom>-<vcf pos>-<vcf ref>-<vcf alt>``).

    The position is 1-based, as in a VCF; bases may be written in either case. Raises
    InvalidRequest naming ``id``.
    """
    parts = variant_id.split("-")
    if len(parts) != 4 or len(variant_id) > MAX_TEXT:
        raise InvalidRequest(
            "variant id must look like 17-43045712-T-C (chromosome, VCF position, REF, ALT)",
            parameter="id",
        )
    chrom = normalize.chromosome(parts[0], parameter="id")
    position = _integer(parts[1], "id", minimum=1)
    ref, alt = _id_allele(parts[2]), _id_allele(parts[3])
    return VariantQuery(
        QueryKind.IDENTIFIER,
        chrom,
        start=position - 1,
        reference_bases=ref,
        alternate_bases=alt,
        variant_id=f"{chrom}-{position}-{ref}-{alt}",
    )


def _received(
    p: Mapping[str, Any], req: dict[str, Any], coordinates: Mapping[str, tuple[int, ...]]
) -> dict[str, Any]:
    """The receivedRequestSummary: what the caller asked for, in the specification's shape.
    ``coordinates`` holds ``start`` / ``end`` where :func:`_query` parsed them already."""
    parameters: dict[str, Any] = {}
    for key in QUERY_PARAMETERS:
        if key not in p:
            continue
        value = p[key]
        if key in ("start", "end"):
            parsed = coordinates.get(key)
            value = list(_integers(value, key, minimum=0) if parsed is None else parsed)
        elif key in ("variantMinLength", "variantMaxLength"):
            value = _integer(value, key)
        elif isinstance(value, list) and len(value) == 1:
            value = value[0]
        parameters[key] = value
    summary: dict[str, Any] = {
        "apiVersion": req["api_version"],
        "requestedSchemas": [
            {"entityType": "genomicVariation", "schema": s} for s in req["requested_schemas"]
        ],
        "pagination": {"skip": req["skip"], "limit": req["limit"]},
        "requestedGranularity": str(req["requested_granularity"]),
        "includeResultsetResponses": str(req["include_resultset_responses"]),
        # The framework schema wants entry-type-keyed objects: {"g_variant": {...}}.
        "requestParameters": {"g_variant": parameters},
        "testMode": req["test_mode"],
    }
    if req["filters"]:
        summary["filters"] = list(req["filters"])
    if req["dataset_ids"] is not None:
        parameters["datasetIds"] = list(req["dataset_ids"])
    return summary


def parse_g_variants(
    params: Mapping[str, str] | None,
    body: Mapping[str, Any] | None,
    *,
    variant_id: str | None = None,
) -> BeaconRequest:
    """Parse a ``g_variants`` request from GET parameters and/or a POST body.

    ``params`` are query-string values (repeated keys already joined with commas); ``body``
    is the decoded JSON body. ``variant_id`` is the ``{id}`` of ``/g_variants/{id}``.
    Pure; raises :class:`InvalidRequest` naming the parameter at fault.
    """
    if body is None and variant_id is None and params is not None:
        plain = _plain_sequence_get(params)
        if plain is not None:
            return plain
    return _parse(params, body, variant_id)


# --- the most common request, without the general machinery -------------------------------

_PLAIN_KEYS: Final = frozenset(
    {"referenceName", "assemblyId", "start", "referenceBases", "alternateBases"}
)
_PLAIN_BASES: Final = re.compile(r"[ACGT]+")
_ONE_BASE: Final = frozenset("ACGT")
_GAPS: Final = frozenset({"-", "."})
"""How a request says "no bases" (an insertion's reference, a deletion's alternate)."""
_PLAIN_CHROMOSOMES: Final[dict[str, str]] = {
    f"{prefix}{spelling}": name
    for alias, name in normalize.CHROMOSOME_ALIASES.items()
    for spelling in (alias, alias.upper())
    for prefix in ("", "chr", "Chr", "CHR")
}
"""Reference names in a spelling :func:`beacon.normalize.chromosome_and_assembly` reads as
is (no surrounding space, no RefSeq accession), with the chromosome each names."""
_PLAIN_ASSEMBLIES: Final[dict[str, str]] = {
    spelling: name
    for alias, name in normalize.ASSEMBLY_ALIASES.items()
    for spelling in (alias, alias.upper(), name)
}
"""Assembly names in a spelling :func:`assembly` reads as is, with the assembly each names."""


def _plain_sequence_get(params: Mapping[str, str]) -> BeaconRequest | None:
    """The request most callers send, parsed directly: GET parameters ``referenceName``,
    ``start``, ``referenceBases`` and ``alternateBases`` (and optionally ``assemblyId``), each
    spelled canonically, with plain bases (A, C, G, T, or ``-`` / ``.`` for none) and a decimal
    start, and nothing else.

    ``None`` for every other request, which :func:`_parse` then reads, refusing what it must.
    Where this answers it gives exactly what :func:`_parse` gives (a property test holds the
    two together).
    """
    if len(params) < 4 or not _PLAIN_KEYS.issuperset(params):
        return None
    chrom = _PLAIN_CHROMOSOMES.get(params.get("referenceName", ""))
    start_text = params.get("start", "")
    ref_text = params.get("referenceBases", "")
    alt_text = params.get("alternateBases", "")
    ref = "" if ref_text in _GAPS else ref_text
    alt = "" if alt_text in _GAPS else alt_text
    asm_text = params.get("assemblyId")
    asm = None if asm_text is None else _PLAIN_ASSEMBLIES.get(asm_text)
    if (
        chrom is None
        or (asm is None and asm_text is not None)
        or not (start_text.isascii() and start_text.isdigit() and len(start_text) <= 19)
        or ref == alt
        or len(ref) > MAX_BASES
        or len(alt) > MAX_BASES
        or not (ref in _ONE_BASE or ref_text in _GAPS or _PLAIN_BASES.fullmatch(ref))
        or not (alt in _ONE_BASE or alt_text in _GAPS or _PLAIN_BASES.fullmatch(alt))
    ):
        return None
    start = int(start_text)
    if start > MAX_POSITION:
        return None
    # In QUERY_PARAMETERS order, as _received lists them (the property test checks the bytes).
    parameters: dict[str, Any] = {"referenceName": params["referenceName"]}
    if asm_text is not None:
        parameters["assemblyId"] = asm_text
    parameters["start"] = [start]
    parameters["referenceBases"] = ref_text
    parameters["alternateBases"] = alt_text
    received = {  # as _received writes it for this request
        "apiVersion": "v2.0.0",
        "requestedSchemas": [],
        "pagination": {"skip": 0, "limit": DEFAULT_LIMIT},
        "requestedGranularity": "boolean",
        "includeResultsetResponses": "HIT",
        "requestParameters": {"g_variant": parameters},
        "testMode": False,
    }
    if len(ref) != 1 or len(alt) != 1:  # two different single bases are trimmed already
        start, ref, alt = normalize.trim_bases(start, ref, alt)
    query = VariantQuery(
        QueryKind.SEQUENCE, chrom, asm, start, start + len(ref), reference_bases=ref,
        alternate_bases=alt,
    )  # fmt: skip
    return BeaconRequest(query=query, received=received)


# --- every other request ---------------------------------------------------------------------


def _parse(
    params: Mapping[str, str] | None, body: Mapping[str, Any] | None, variant_id: str | None
) -> BeaconRequest:
    """:func:`parse_g_variants` for any request."""
    p = _collect(params, body)
    coordinates: dict[str, tuple[int, ...]] = {}
    if variant_id is not None:
        query = variant_id_query(variant_id)
        for key in QUERY_PARAMETERS:
            if key in p and key != "assemblyId":
                raise InvalidRequest(f"{key} cannot be combined with a variant id", parameter=key)
        if "assemblyId" in p:
            query = replace(query, assembly=assembly(_text(p["assemblyId"], "assemblyId")))
    else:
        query = _query(p, coordinates)
    req: dict[str, Any] = {
        "requested_granularity": granularity(p["requestedGranularity"])
        if "requestedGranularity" in p
        else Granularity.BOOLEAN,
        "include_resultset_responses": _include(p["includeResultsetResponses"])
        if "includeResultsetResponses" in p
        else IncludeResultsets.HIT,
        "skip": _integer(p["skip"], "skip", maximum=MAX_POSITION) if "skip" in p else 0,
        "limit": DEFAULT_LIMIT,
        "dataset_ids": _string_list(p["datasetIds"], "datasetIds", limit=MAX_DATASET_IDS)
        if "datasetIds" in p
        else None,
        "filters": _string_list(p["filters"], "filters", limit=50) if "filters" in p else (),
        "test_mode": _boolean(p["testMode"], "testMode") if "testMode" in p else False,
        "api_version": _text(p["apiVersion"], "apiVersion") if "apiVersion" in p else "v2.0.0",
        "requested_schemas": _requested_schemas(p["requestedSchemas"])
        if "requestedSchemas" in p
        else (),
    }
    if "limit" in p:
        limit = _integer(p["limit"], "limit", maximum=MAX_LIMIT)
        req["limit"] = limit or MAX_LIMIT
    if req["filters"]:
        raise InvalidRequest(
            "filtering terms are not supported by this beacon (see /filtering_terms)",
            parameter="filters",
        )
    if req["dataset_ids"] is not None and not req["dataset_ids"]:
        raise InvalidRequest("datasetIds must name at least one dataset", parameter="datasetIds")
    received = _received(p, req, coordinates)
    return BeaconRequest(query=query, received=received, **req)
