"""Beacon v1.1 members: a v2 request in v1 form, and a v1 answer back (pure).

Both APIs count from 0, so coordinates pass unchanged; what differs is the allele spelling.
v2 queries here are in the trimmed form of :func:`beacon.normalize.trim` (an insertion has
empty reference bases, a deletion empty alternate bases), which v1 cannot say, so indels are
re-padded with one ``N`` base before them (v1's wildcard for "any base"): a deletion of ``A``
at ``s`` becomes ``start = s - 1, referenceBases = NA, alternateBases = N``.

Queries v1 cannot express (gene, identifier, length bounds, mate names, overlap ranges,
variant types outside v1's vocabulary, a missing assembly when the member serves several,
unknown reference bases) yield a :class:`NotExpressible` reason: the member is
*unsupported* (not asked), never a "no".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aggregator.answers import MalformedAnswer, failure_outcome
from aggregator.client import Fetched, FetchKind
from aggregator.outcome import DatasetAnswer, Handover, MemberOutcome, MemberStatus
from beacon.model import BeaconRequest, IncludeResultsets, QueryKind

V1_VARIANT_TYPES = frozenset(
    {
        "SNP",
        "MNP",
        "INDEL",
        "DEL",
        "INS",
        "DUP",
        "INV",
        "CNV",
        "BND",
        "DUP:TANDEM",
        "DEL:ME",
        "INS:ME",
    }
)


@dataclass(frozen=True, slots=True)
class NotExpressible:
    """Why a request has no v1 form (shown to callers as the member's message)."""

    reason: str


def to_v1_params(
    request: BeaconRequest, member_assemblies: tuple[str, ...] = ()
) -> dict[str, str] | NotExpressible:
    """The v1.1 ``/query`` GET parameters for ``request``, or why there are none."""
    q = request.query
    if q.gene_id or q.variant_id or q.mate_name:
        return NotExpressible("v1 beacons cannot be asked by gene, identifier or mate")
    if q.variant_min_length is not None or q.variant_max_length is not None:
        return NotExpressible("v1 beacons cannot be asked for variant lengths")
    if q.kind not in (QueryKind.SEQUENCE, QueryKind.RANGE, QueryKind.BRACKET):
        return NotExpressible(f"v1 beacons cannot answer {q.kind.value} queries")
    if q.reference_name is None or q.start is None:
        return NotExpressible("v1 beacons need a reference name and a start")
    assembly = q.assembly
    if assembly is None:
        if len(member_assemblies) != 1:
            return NotExpressible("v1 beacons need an assembly")
        assembly = member_assemblies[0]
    params: dict[str, str] = {"referenceName": q.reference_name, "assemblyId": assembly}
    variant_type = q.variant_type.query_term if q.variant_type else None
    if variant_type is not None and variant_type not in V1_VARIANT_TYPES:
        return NotExpressible(f"v1 beacons do not know the variant type {variant_type}")
    if q.kind is QueryKind.SEQUENCE:
        if q.reference_bases is None or q.alternate_bases is None:
            return NotExpressible("v1 beacons need reference and alternate bases")
        ref, alt, start = q.reference_bases, q.alternate_bases, q.start
        if not ref or not alt:
            if start == 0:
                return NotExpressible("an indel at the first base cannot be padded for v1")
            ref, alt, start = "N" + ref, "N" + alt, start - 1
        params.update(start=str(start), referenceBases=ref, alternateBases=alt)
    elif q.kind is QueryKind.RANGE:
        # v1's start + end name one allele's exact bounds, and a bracket covering every
        # allele that overlaps would scan the chromosome from its first base.
        return NotExpressible("v1 beacons cannot be asked for every allele overlapping a range")
    else:
        if q.end is None or q.start_max is None or q.end_max is None:
            return NotExpressible("v1 bracket queries need all four bounds")
        if variant_type is None and not q.alternate_bases:
            # v1 names what it looks for by alternate bases or a type; its N is one base, and
            # an empty alternate (a deletion) has no v1 spelling without a padding base.
            return NotExpressible(
                "v1 beacons cannot be asked for every allele in a bracket: give a variant type"
                " or alternate bases"
            )
        params.update(
            startMin=str(q.start),
            startMax=str(q.start_max),
            endMin=str(q.end),
            endMax=str(q.end_max),
            referenceBases="N",
        )
    if q.kind is not QueryKind.SEQUENCE:
        if variant_type is not None:
            params["variantType"] = variant_type
        else:
            assert q.alternate_bases  # an empty or missing alternate is refused above
            params["alternateBases"] = q.alternate_bases
    elif variant_type is not None:
        params["variantType"] = variant_type
    if request.dataset_ids:
        params["datasetIds"] = ",".join(request.dataset_ids)
    include = request.include_resultset_responses
    params["includeDatasetResponses"] = (
        "ALL" if include in (IncludeResultsets.ALL, IncludeResultsets.MISS) else "HIT"
    )
    return params


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedAnswer(f"{where} is not a non-negative integer")
    return value


def _dataset(raw: Any, beacon_id: str) -> DatasetAnswer:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("datasetId"), str):
        raise MalformedAnswer("a datasetAlleleResponse has no datasetId")
    exists = raw.get("exists")
    if exists is not None and not isinstance(exists, bool):
        raise MalformedAnswer(f"dataset {raw['datasetId']!r}: exists is not a boolean")
    frequency = raw.get("frequency")
    if frequency is not None and (
        isinstance(frequency, bool) or not isinstance(frequency, int | float)
    ):
        raise MalformedAnswer(f"dataset {raw['datasetId']!r}: frequency is not a number")
    url = raw.get("externalUrl")
    return DatasetAnswer(
        dataset_id=raw["datasetId"],
        beacon_id=beacon_id,
        exists=exists,
        count=_count(raw.get("variantCount"), "variantCount"),
        frequency=float(frequency) if frequency is not None else None,
        handovers=(Handover(url=url, note=raw.get("note")),) if isinstance(url, str) else (),
    )


def parse_v1_answer(
    member_id: str, name: str, fetched: Fetched, *, expected_beacon_id: str | None = None
) -> MemberOutcome:
    """A v1.1 ``/query`` answer as an outcome; never raises (malformed -> ERROR).

    ``count`` is the sum of the datasets' ``variantCount`` and exact only when every
    dataset states one.
    """
    if fetched.kind is not FetchKind.OK:
        return failure_outcome(member_id, name, fetched, beacon_id=expected_beacon_id)
    doc = fetched.document
    try:
        if not isinstance(doc, Mapping):
            raise MalformedAnswer("the answer is not a JSON object")
        beacon_id = doc.get("beaconId") or expected_beacon_id or member_id
        if not isinstance(beacon_id, str):
            raise MalformedAnswer("beaconId is not a string")
        exists = doc.get("exists")
        if doc.get("error") and exists is None:
            return MemberOutcome(
                member_id=member_id,
                name=name,
                status=MemberStatus.ERROR,
                beacon_id=beacon_id,
                latency_ms=fetched.latency_ms,
                message="member reported an error",
            )
        if not isinstance(exists, bool):
            raise MalformedAnswer("exists is not a boolean")
        raw_sets = doc.get("datasetAlleleResponses") or []
        if not isinstance(raw_sets, list):
            raise MalformedAnswer("datasetAlleleResponses is not a list")
        datasets = tuple(_dataset(raw, beacon_id) for raw in raw_sets)
    except MalformedAnswer as exc:
        return MemberOutcome(
            member_id=member_id,
            name=name,
            status=MemberStatus.ERROR,
            beacon_id=expected_beacon_id,
            latency_ms=fetched.latency_ms,
            message=f"malformed answer: {exc}",
        )
    counts = [d.count for d in datasets]
    if datasets:
        exact = all(c is not None for c in counts)
        total = sum(c for c in counts if c is not None) if exact else None
    else:
        # No dataset details: a "no" is a count of 0, a "yes" says nothing about how many.
        exact = exists is False
        total = 0 if exact else None
    return MemberOutcome(
        member_id=member_id,
        name=name,
        status=MemberStatus.ANSWERED,
        beacon_id=beacon_id,
        exists=exists,
        count=total,
        count_exact=exact,
        latency_ms=fetched.latency_ms,
        datasets=datasets,
    )
