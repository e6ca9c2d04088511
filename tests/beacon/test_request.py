"""Parsing g_variants requests: every spelling, every rule, every error names its parameter."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.errors import InvalidRequest
from beacon.model import Granularity, IncludeResultsets, QueryKind
from beacon.request import _parse, _plain_sequence_get, parse_g_variants, parse_hgvs

SNP = {"referenceName": "chr17", "start": "43045711", "referenceBases": "T", "alternateBases": "C"}


def _error(params: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse_g_variants(params, body)
    assert info.value.parameter
    return info.value.parameter


def test_sequence_query_is_normalised() -> None:
    req = parse_g_variants(SNP, None)
    q = req.query
    assert (q.kind, q.reference_name, q.start, q.end) == (
        QueryKind.SEQUENCE,
        "17",
        43045711,
        43045712,
    )
    assert (q.reference_bases, q.alternate_bases, q.assembly) == ("T", "C", None)
    assert req.requested_granularity is Granularity.BOOLEAN
    assert req.include_resultset_responses is IncludeResultsets.HIT
    assert (req.skip, req.limit, req.dataset_ids) == (0, 10, None)


def test_refseq_accession_names_the_assembly() -> None:
    q = parse_g_variants({**SNP, "referenceName": "NC_000017.10"}, None).query
    assert (q.reference_name, q.assembly) == ("17", "GRCh37")
    assert _error({**SNP, "referenceName": "NC_000017.10", "assemblyId": "GRCh38"}) == "assemblyId"
    for alias in ("hg38", "GRCh38.p14", "GCF_000001405.39", "grch38"):
        assert parse_g_variants({**SNP, "assemblyId": alias}, None).query.assembly == "GRCh38"


@pytest.mark.parametrize(
    ("ref", "alt", "start", "expected"),
    [
        ("CAG", "C", 99, (100, 102, "AG", "")),
        ("AG", "", 100, (100, 102, "AG", "")),
        ("A", "ATT", 99, (100, 100, "", "TT")),
        ("", "TT", 100, (100, 100, "", "TT")),
        ("CAGT", "CT", 99, (100, 102, "AG", "")),
        ("-", "TT", 100, (100, 100, "", "TT")),
    ],
)
def test_padded_and_trimmed_indels_parse_alike(
    ref: str, alt: str, start: int, expected: tuple[int, int, str, str]
) -> None:
    params = {
        "referenceName": "1",
        "start": str(start),
        "referenceBases": ref,
        "alternateBases": alt,
    }
    q = parse_g_variants(params, None).query
    assert (q.start, q.end, q.reference_bases, q.alternate_bases) == expected


def test_range_bracket_and_lengths() -> None:
    q = parse_g_variants({"referenceName": "X", "start": "100", "end": "200"}, None).query
    assert (q.kind, q.start, q.end) == (QueryKind.RANGE, 100, 200)
    q = parse_g_variants({"referenceName": "X", "start": "100,110", "end": "200,210"}, None).query
    assert (q.kind, q.start, q.start_max, q.end, q.end_max) == (
        QueryKind.BRACKET,
        100,
        110,
        200,
        210,
    )
    q = parse_g_variants(
        None,
        {"query": {"requestParameters": {"referenceName": "X", "start": [100, 110],
                                         "end": [200, 210]}}},
    ).query  # fmt: skip
    assert q.kind is QueryKind.BRACKET
    assert _error({"referenceName": "X", "start": "100,110", "end": "200"}) == "end"
    assert _error({"referenceName": "X", "start": "100", "end": "200,210"}) == "start"
    assert _error({"referenceName": "X", "start": "110,100", "end": "200,210"}) == "start"
    assert _error({"referenceName": "X", "start": "100", "end": "100"}) == "end"
    assert _error({"referenceName": "X", "start": "100"}) == "alternateBases"
    assert _error({"referenceName": "X", "end": "100"}) == "start"
    params = {"referenceName": "X", "start": "1", "end": "9", "variantMinLength": "5",
              "variantMaxLength": "4"}  # fmt: skip
    assert _error(params) == "variantMinLength"


def test_variant_types() -> None:
    base = {"referenceName": "1", "start": "1", "end": "100"}
    loss = parse_g_variants({**base, "variantType": "EFO:0030067"}, None).query.variant_type
    assert loss is not None
    assert loss.families == ("DEL",)
    assert loss.structural_only
    cnv = parse_g_variants({**base, "variantType": "cnv"}, None).query.variant_type
    assert cnv is not None
    assert set(cnv.families) == {"CNV", "DEL", "DUP"}
    tandem = parse_g_variants({**base, "variantType": "DUP:TANDEM"}, None).query.variant_type
    assert tandem is not None
    assert tandem.exact == ("DUP:TANDEM",)
    assert _error({**base, "variantType": "SPLAT"}) == "variantType"


def test_every_spelling_gives_the_same_query() -> None:
    expected = parse_g_variants(
        {**SNP, "requestedGranularity": "count", "skip": "2", "limit": "5"}, None
    )
    flat = {"referenceName": "17", "start": 43045711, "referenceBases": "T", "alternateBases": "C"}
    bodies = [
        {"meta": {"apiVersion": "v2.0.0"}, "query": {"requestParameters": flat,
         "requestedGranularity": "count", "pagination": {"skip": 2, "limit": 5}}},
        {"query": {"requestParameters": {"g_variant": {**flat, "start": [43045711]}}},
         "requestedGranularity": "count", "pagination": {"skip": 2, "limit": 5}},
        {"query": {"requestParameters": [flat], "requestedGranularity": "COUNT",
                   "skip": 2, "limit": 5}},
    ]  # fmt: skip
    for body in bodies:
        got = parse_g_variants(None, body)
        assert got.query == expected.query
        assert got.requested_granularity is Granularity.COUNT
        assert (got.skip, got.limit) == (2, 5)
    hgvs = parse_g_variants({"allele": "NC_000017.11:g.43045712T>C"}, None).query
    assert (hgvs.reference_name, hgvs.start, hgvs.alternate_bases) == ("17", 43045711, "C")
    assert hgvs.assembly == "GRCh38"
    gene = parse_g_variants({"geneid": "BRCA1"}, None).query
    assert (gene.kind, gene.gene_id) == (QueryKind.GENE, "BRCA1")
    assert parse_g_variants({"geneId": "BRCA1"}, None).query == gene


def test_hgvs_forms() -> None:
    assert parse_hgvs("NC_000017.11:g.43045712T>C") == ("17", "GRCh38", 43045711, "T", "C")
    assert parse_hgvs("17:g.10_12del") == ("17", None, 9, "NNN", "")
    assert parse_hgvs("chr17:g.10delA") == ("17", None, 9, "A", "")
    assert parse_hgvs("17:g.10_11insAT") == ("17", None, 10, "", "AT")
    assert parse_hgvs("17:g.10_12delinsG") == ("17", None, 9, "NNN", "G")
    for bad in ("17:c.10A>G", "17:g.10_12delAG", "17:g.10_13insA", "NM_000:g.1A>G", "17:g.0A>G"):
        with pytest.raises(InvalidRequest) as info:
            parse_hgvs(bad)
        assert info.value.parameter == "genomicAlleleShortForm"


def test_received_summary_is_truthful() -> None:
    req = parse_g_variants(
        {**SNP, "datasetIds": "a,b", "includeResultsetResponses": "all", "limit": "0"}, None
    )
    assert req.dataset_ids == ("a", "b")
    assert req.limit == 1000
    summary = req.received
    assert summary["requestParameters"]["g_variant"]["referenceName"] == "chr17"
    assert summary["requestParameters"]["g_variant"]["start"] == [43045711]
    assert summary["requestParameters"]["g_variant"]["datasetIds"] == ["a", "b"]
    assert summary["includeResultsetResponses"] == "ALL"
    assert summary["pagination"] == {"skip": 0, "limit": 1000}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({**SNP, "start": "-1"}, "start"),
        ({**SNP, "start": "1e5"}, "start"),
        ({**SNP, "start": "99999999999999"}, "start"),
        ({**SNP, "referenceBases": "TX"}, "referenceBases"),
        ({**SNP, "alternateBases": "T"}, "alternateBases"),
        ({**SNP, "referenceName": "chrUn_gl000220"}, "referenceName"),
        ({**SNP, "limit": "1001"}, "limit"),
        ({**SNP, "skip": "x"}, "skip"),
        ({**SNP, "testMode": "maybe"}, "testMode"),
        ({**SNP, "filters": "NCIT:C1"}, "filters"),
        ({**SNP, "aminoacidChange": "V600E"}, "aminoacidChange"),
        ({**SNP, "mateName": "chrQ"}, "mateName"),
        ({"geneId": "BRCA1", "start": "5"}, "start"),
        ({"allele": "17:g.5A>G", "referenceName": "17"}, "referenceName"),
        ({**SNP, "end": "43045799"}, "end"),
        # PostgreSQL text cannot hold NUL; no parameter may carry a control character
        ({"geneId": "BRCA1\x00"}, "geneId"),
        ({"geneId": "\x00"}, "geneId"),
        ({**SNP, "assemblyId": "GRCh38\x01"}, "assemblyId"),
        ({**SNP, "datasetIds": "a\x00b"}, "datasetIds"),
        ({**SNP, "variantType": "SNP\x7f"}, "variantType"),
        # digits other than ASCII ones are not numbers here
        ({**SNP, "start": "\uff17\uff18\uff19"}, "start"),
        ({**SNP, "start": "\u0661\u0662"}, "start"),
        # several values where one allele is expected
        ({**SNP, "alternateBases": "G,T"}, "alternateBases"),
    ],
)
def test_errors_name_the_parameter(params: dict[str, Any], parameter: str) -> None:
    assert _error(params) == parameter


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("start", "-5", "must be between 0 and"),
        ("skip", "-1", "must be between 0 and"),
        ("limit", "-1", "must be between 0 and"),
        ("variantMinLength", "-1", "must be between 0 and"),
        ("start", "five", "must be an integer"),
        ("alternateBases", "G,T", "takes one allele"),
        ("geneId", "A\x00B", "control characters"),
    ],
)
def test_error_messages_say_what_is_wrong(name: str, value: str, message: str) -> None:
    params = {"geneId": "BRCA1"} if name == "geneId" else {**SNP}
    params[name] = value
    with pytest.raises(InvalidRequest) as caught:
        parse_g_variants(params, None)
    assert caught.value.parameter == name
    assert message in caught.value.message


def test_an_indel_padded_with_an_unknown_base_is_the_indel() -> None:
    def parsed(start: str, ref: str, alt: str) -> tuple[object, ...]:
        q = parse_g_variants({**SNP, "start": start, "referenceBases": ref,
                              "alternateBases": alt}, None).query  # fmt: skip
        return (q.start, q.end, q.reference_bases, q.alternate_bases)

    # v1 networks write an indel whose preceding base they do not know with an N before it
    assert parsed("99", "N", "NC") == parsed("99", "A", "AC") == (100, 100, "", "C")
    assert parsed("99", "NAG", "N") == parsed("99", "TAG", "T") == (100, 102, "AG", "")
    # an N that is not such a padding keeps matching any one base
    assert parsed("99", "NA", "NC") == (99, 101, "NA", "NC")
    assert parsed("99", "N", "C") == (99, 100, "N", "C")
    assert parsed("99", "NC", "N")[2:] == ("C", "")


@pytest.mark.parametrize(
    ("variant_id", "expected"),
    [
        ("17-43045712-t-c", ("T", "C", "17-43045712-T-C")),
        ("1-100-A-<del>", ("A", "<DEL>", "1-100-A-<DEL>")),
        ("2-321681-G-g[13:123457[", ("G", "G[13:123457[", "2-321681-G-G[13:123457[")),
    ],
)
def test_variant_ids_are_read_whatever_the_case(
    variant_id: str, expected: tuple[str, str, str]
) -> None:
    q = parse_g_variants(None, None, variant_id=variant_id).query
    assert (q.reference_bases, q.alternate_bases, q.variant_id) == expected


@pytest.mark.parametrize(
    "variant_id", ["1-10-A-G\x00", "1-10-\x00-G", "1-10-\u00e9-G", "1-10-A-\xff", "1-10--G"]
)
def test_variant_ids_with_bad_alleles_are_refused(variant_id: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_g_variants(None, None, variant_id=variant_id)
    assert caught.value.parameter == "id"


def test_body_errors() -> None:
    assert _error(None, {"query": "x"}) == "query"
    assert _error(None, {"query": {"requestParameters": 5}}) == "requestParameters"
    assert _error(None, {"query": {"requestParameters": {**SNP, "start": True}}}) == "start"
    assert _error(None, {"query": {"requestParameters": {**SNP, "start": [1, 2, 3]}}}) == "start"
    assert _error(None, {"meta": []}) == "meta"


_TEXT = st.text(max_size=30)
_VALUE = st.one_of(
    _TEXT, st.integers(), st.none(), st.booleans(), st.lists(st.integers(), max_size=3)
)


@settings(max_examples=300, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from([*SNP, "end", "variantType", "assemblyId", "allele", "geneId", "limit",
                         "skip", "requestedGranularity", "mateName", "datasetIds", "bogus"]),
        _TEXT, max_size=6),
    body=st.one_of(st.none(), st.fixed_dictionaries(
        {"query": st.fixed_dictionaries({"requestParameters": st.dictionaries(
            st.sampled_from([*SNP, "end", "variantType", "variantMinLength"]), _VALUE)})})),
)  # fmt: skip
def test_parser_never_fails_except_with_invalid_request(
    params: dict[str, str], body: dict[str, Any] | None
) -> None:
    named: str | None = "parsed"
    try:
        parse_g_variants(params, body)
    except InvalidRequest as exc:
        named = exc.parameter
    assert named


# --- the direct reading of the most common request -----------------------------------------

_CHROMS = ["1", "17", "chr17", "Chr17", "CHRX", "chrx", "x", "MT", "chrM", "m", "23", "25",
           " 17", "17 ", "chr17_gl000205", "NC_000017.11", "nc_000017.10", "", "99"]  # fmt: skip
_STARTS = ["0", "7", "43045711", "0043045711", " 5", "5 ", "+5", "-1", "5,9", "1e3", "²",
           "١٢", "10000000000", "10000000001", "9" * 19, "9" * 20, "", "abc"]  # fmt: skip
_BASES = ["A", "C", "T", "G", "AC", "CAG", "TT", "a", "c", "N", "AN", "NA", "-", ".", "",
          " A", "A ", "A,C", "ACGU", "<DEL>", "A" * 10_000, "A" * 10_001]  # fmt: skip
_ASSEMBLIES = ["GRCh38", "grch38", "GRCH38", "hg19", "HG19", "b37", "GRCh37.p13",
               "GCF_000001405.40", "GCF_000001405.25", " GRCh38", "hg18", ""]  # fmt: skip
_KEYS = ["referenceName", "start", "referenceBases", "alternateBases", "assemblyId", "end",
         "referencename", "variantType", "requestedGranularity", "datasetIds"]  # fmt: skip
_VALUES = {"referenceName": _CHROMS, "referencename": _CHROMS, "start": _STARTS,
           "end": _STARTS, "referenceBases": _BASES, "alternateBases": _BASES,
           "assemblyId": _ASSEMBLIES, "variantType": ["SNP", "DEL"],
           "requestedGranularity": ["count", "boolean"], "datasetIds": ["ds1"]}  # fmt: skip


@st.composite
def _get_params(draw: st.DrawFn) -> dict[str, str]:
    base = ["referenceName", "start", "referenceBases", "alternateBases"]
    keys = draw(st.sets(st.sampled_from(_KEYS), max_size=3)) | set(
        draw(st.lists(st.sampled_from(base), min_size=2, max_size=4))
    )
    return {key: draw(st.sampled_from(_VALUES[key])) for key in sorted(keys)}


def _outcome(parse: Any, params: dict[str, str]) -> object:
    try:
        parsed = parse(params)
    except InvalidRequest as exc:
        return ("refused", exc.status, exc.message, exc.parameter)
    return (parsed, orjson.dumps(parsed.received))  # received in order, as it is sent


@settings(max_examples=3000, deadline=None)
@given(_get_params())
def test_the_direct_reading_agrees_with_the_general_one(params: dict[str, str]) -> None:
    direct = _plain_sequence_get(params)
    general = _outcome(lambda p: _parse(p, None, None), params)
    if direct is not None:
        assert (direct, orjson.dumps(direct.received)) == general
    assert _outcome(lambda p: parse_g_variants(p, None), params) == general


def test_the_direct_reading_answers_the_common_request() -> None:
    """It is used (so the agreement above is not vacuous) and declines what it does not read."""
    assert _plain_sequence_get(SNP) is not None
    assert _plain_sequence_get({**SNP, "assemblyId": "GRCh38", "start": "0"}) is not None
    assert _plain_sequence_get({**SNP, "referenceBases": "CAG", "alternateBases": "C"}) is not None
    assert _plain_sequence_get({**SNP, "referenceBases": "-", "alternateBases": "CA"}) is not None
    assert _plain_sequence_get({**SNP, "referenceBases": "GT", "alternateBases": "."}) is not None
    for declined in (
        {**SNP, "referenceBases": "N"},
        {**SNP, "referenceBases": "-", "alternateBases": "."},
        {**SNP, "referenceBases": ""},
        {**SNP, "referenceName": "NC_000017.11"},
        {**SNP, "start": " 5"},
        {**SNP, "requestedGranularity": "count"},
        {k: v for k, v in SNP.items() if k != "referenceBases"},
    ):
        assert _plain_sequence_get(declined) is None
