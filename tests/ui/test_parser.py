"""The search box's parser (aggregator/ui/static/query.js), run in a real Chromium.

Positions people type are 1-based; the API's are 0-based. These tests pin the one conversion
(``toApiParams``) and every accepted spelling, and check the JavaScript chromosome table
against beacon.normalize so the page and the beacons agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from aggregator import ui
from beacon import normalize
from beacon.errors import InvalidRequest
from tests.ui.servers import serving

pytestmark = pytest.mark.browser

_PARSE = """
async ([text, assembly]) => {
  const m = await import('/ui/query.js');
  try {
    const query = m.parseSearch(text, assembly);
    return {params: Object.fromEntries(m.toApiParams(query)), query,
            description: m.describeQuery(query)};
  } catch (e) {
    if (!(e instanceof m.ParseError)) throw e;
    return {error: e.message, field: e.field};
  }
}
"""

_ADVANCED = """
async (fields) => {
  const m = await import('/ui/query.js');
  try {
    return {params: Object.fromEntries(m.toApiParams(m.parseAdvanced(fields)))};
  } catch (e) {
    if (!(e instanceof m.ParseError)) throw e;
    return {error: e.message, field: e.field};
  }
}
"""

EXTRA = {"requestedGranularity": "record", "includeResultsetResponses": "ALL"}


def seq(chrom: str, start0: int, ref: str, alt: str, assembly: str = "GRCh38") -> dict[str, str]:
    return {
        "assemblyId": assembly,
        "referenceName": chrom,
        "start": str(start0),
        "referenceBases": ref,
        "alternateBases": alt,
        **EXTRA,
    }


@pytest.fixture(scope="module")
async def js(browser: Any) -> AsyncIterator[Any]:
    """A page on the UI's origin, so query.js can be imported as the page imports it."""
    app = web.Application()
    ui.add_routes(app)
    async with serving(app) as base:
        context = await browser.new_context()
        pg = await context.new_page()
        await pg.goto(f"{base}/ui/query.js")
        yield pg
        await context.close()


async def parse(js: Any, text: str, assembly: str = "GRCh38") -> dict[str, Any]:
    result: dict[str, Any] = await js.evaluate(_PARSE, [text, assembly])
    return result


BRCA1 = seq("17", 43045711, "T", "C")


@pytest.mark.parametrize(
    ("text", "assembly", "expected"),
    [
        ("17-43045712-T-C", "GRCh38", BRCA1),
        ("chr17:43045712 T>C", "GRCh38", BRCA1),
        ("17:43045712:T:C", "GRCh38", BRCA1),
        ("NC_000017.11:g.43045712T>C", "GRCh38", BRCA1),
        ("  chr17:43,045,712  t > c ", "GRCh38", BRCA1),
        ("17\t43045712\tT\tC", "GRCh38", BRCA1),
        ("17_43045712_T_C", "GRCh38", BRCA1),
        ("chr17:43045712T>C", "GRCh38", BRCA1),
        ("chr17:g.43045712T>C", "GRCh38", BRCA1),
        ("17-43045712-T-C", "GRCh37", seq("17", 43045711, "T", "C", "GRCh37")),
        ("chrX-1-A-G", "GRCh38", seq("X", 0, "A", "G")),
        ("chrM:16519 T>C", "GRCh37", seq("MT", 16518, "T", "C", "GRCh37")),
        ("23-100-C-T", "GRCh38", seq("X", 99, "C", "T")),
        # Alleles go out as written: the beacons trim them exactly as ingestion did.
        ("13-32338103-AT-A", "GRCh38", seq("13", 32338102, "AT", "A")),
        ("1-1000-A-ACGT", "GRCh38", seq("1", 999, "A", "ACGT")),
    ],
)
async def test_sequence_spellings_become_one_zero_based_query(
    js: Any, text: str, assembly: str, expected: dict[str, str]
) -> None:
    result = await parse(js, text, assembly)
    assert result.get("params") == expected, result


async def test_an_accession_overrides_the_selected_assembly_and_says_so(js: Any) -> None:
    result = await parse(js, "NC_000017.11:g.43045712T>C", "GRCh37")
    assert result["params"] == BRCA1
    assert result["query"]["notes"] == [
        "NC_000017.11 is a GRCh38 accession, so the search uses GRCh38."
    ]
    older = await parse(js, "NC_000017.10:g.41197695T>C", "GRCh38")
    assert older["params"] == seq("17", 41197694, "T", "C", "GRCh37")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("chr17:43044295-43125483", "43044294", "43125483"),
        ("17:43,044,295-43,125,483", "43044294", "43125483"),
        ("17:100..200", "99", "200"),
        ("17 100 200", None, None),  # not a range spelling: three numbers, no dash
        ("17:43045712", "43045711", "43045712"),  # one base
        ("17-1-1", "0", "1"),
    ],
)
async def test_ranges_are_inclusive_one_based_and_become_half_open(
    js: Any, text: str, start: str | None, end: str | None
) -> None:
    result = await parse(js, text)
    if start is None:
        assert "error" in result
        return
    assert result["params"] == {
        "assemblyId": "GRCh38",
        "referenceName": "17",
        "start": start,
        "end": end,
        **EXTRA,
    }


async def test_a_gene_symbol_is_a_gene_query(js: Any) -> None:
    for symbol in ("BRCA1", "C9orf72", "HLA-A", "MT-ND1"):
        result = await parse(js, symbol, "GRCh37")
        assert result["params"] == {"assemblyId": "GRCh37", "geneId": symbol, **EXTRA}, result
        assert result["description"] == f"gene {symbol} on GRCh37"


@pytest.mark.parametrize(
    ("text", "assembly", "allele"),
    [
        ("NC_000017.11:g.43045712_43045714del", "GRCh38", "NC_000017.11:g.43045712_43045714del"),
        ("17:g.100delA", "GRCh37", "NC_000017.10:g.100delA"),
        ("chr13:g.32338103_32338104insTT", "GRCh38", "NC_000013.11:g.32338103_32338104insTT"),
        ("NC_000001.11:g.1000_1001delinsG", "GRCh38", "NC_000001.11:g.1000_1001delinsG"),
    ],
)
async def test_other_genomic_hgvs_goes_to_the_beacons_with_its_accession(
    js: Any, text: str, assembly: str, allele: str
) -> None:
    result = await parse(js, text, assembly)
    assert result["params"] == {
        "assemblyId": assembly,
        "genomicAlleleShortForm": allele,
        **EXTRA,
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Type a variant"),
        ("   ", "Type a variant"),
        ("rs80357906", "dbSNP identifiers"),
        ("NM_007294.4:c.5266dupC", "Transcript (c.) and protein (p.)"),
        ("BRCA1:p.Gln1756fs", "Transcript (c.) and protein (p.)"),
        ("chr17", '"chr17" is a chromosome'),
        ("17-0-T-C", "counts from 1"),
        ("17-999999999-T-C", "beyond any chromosome"),
        ("17-43045712-T-T", "are the same"),
        ("17-43045712-T-X", "only the bases A, C, G, T and N"),
        ("17-43045712-TZ-C", "only the bases A, C, G, T and N"),
        ("chr17:200-100", "ends (100) before it starts (200)"),
        ("NC_000017.99:g.1A>G", "not a chromosome accession"),
        ("NC_000017.11:g.43045712_43045714dup", "advanced search with variant type DUP"),
        ("NC_000017.11:g.43045712_43045713insX", "Cannot read the genomic HGVS"),
        ("NC_000017.11:g.43045712_43045720insA", "two neighbouring bases"),
        ("chrUn_gl000220:100 A>G", "Cannot read"),
        ("what is this?", "Cannot read"),
    ],
)
async def test_what_cannot_be_read_gets_a_plain_message(js: Any, text: str, words: str) -> None:
    result = await parse(js, text)
    assert "params" not in result
    assert words in result["error"], result["error"]
    assert result["field"] == "q"


async def test_an_unknown_assembly_points_at_the_selector(js: Any) -> None:
    result = await parse(js, "17-43045712-T-C", "hg18")
    assert result["field"] == "assembly"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "mode": "range",
                "chromosome": "chr17",
                "from": "43,044,295",
                "to": "43125483",
                "variantType": "DEL",
                "minLength": "50",
                "maxLength": "1000",
            },
            {
                "assemblyId": "GRCh38",
                "referenceName": "17",
                "start": "43044294",
                "end": "43125483",
                "variantType": "DEL",
                "variantMinLength": "50",
                "variantMaxLength": "1000",
                **EXTRA,
            },
        ),
        (
            {
                "mode": "range",
                "chromosome": "1",
                "from": "10",
                "to": "10",
                "alternateBases": "g",
                "assembly": "GRCh37",
            },
            {
                "assemblyId": "GRCh37",
                "referenceName": "1",
                "start": "9",
                "end": "10",
                "alternateBases": "G",
                **EXTRA,
            },
        ),
        (
            # First base somewhere in 1,000..1,010 and last base in 2,000..2,020 (1-based):
            # 0-based starts 999..1,009, half-open ends 2,000..2,020.
            {
                "mode": "bracket",
                "chromosome": "NC_000020.11",
                "startFrom": "1000",
                "startTo": "1010",
                "endFrom": "2000",
                "endTo": "2020",
                "variantType": "dup:tandem",
            },
            {
                "assemblyId": "GRCh38",
                "referenceName": "20",
                "start": "999,1009",
                "end": "2000,2020",
                "variantType": "DUP:TANDEM",
                **EXTRA,
            },
        ),
    ],
)
async def test_the_advanced_form(js: Any, fields: dict[str, str], expected: dict[str, str]) -> None:
    result = await js.evaluate(_ADVANCED, fields)
    assert result.get("params") == expected, result


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mode": "range", "chromosome": "", "from": "1", "to": "2"}, "chromosome"),
        ({"mode": "range", "chromosome": "chr99", "from": "1", "to": "2"}, "chromosome"),
        ({"mode": "range", "chromosome": "1", "from": "x", "to": "2"}, "from"),
        ({"mode": "range", "chromosome": "1", "from": "5", "to": "2"}, "to"),
        (
            {
                "mode": "bracket",
                "chromosome": "1",
                "startFrom": "5",
                "startTo": "2",
                "endFrom": "10",
                "endTo": "20",
            },
            "startTo",
        ),
        (
            {
                "mode": "bracket",
                "chromosome": "1",
                "startFrom": "1",
                "startTo": "2",
                "endFrom": "30",
                "endTo": "20",
            },
            "endTo",
        ),
        (
            {"mode": "range", "chromosome": "1", "from": "1", "to": "2", "variantType": "SNV?"},
            "variantType",
        ),
        (
            {
                "mode": "range",
                "chromosome": "1",
                "from": "1",
                "to": "2",
                "minLength": "9",
                "maxLength": "3",
            },
            "maxLength",
        ),
        (
            {"mode": "range", "chromosome": "1", "from": "1", "to": "2", "minLength": "-1"},
            "minLength",
        ),
        (
            {"mode": "range", "chromosome": "1", "from": "1", "to": "2", "alternateBases": "XYZ"},
            "alternateBases",
        ),
    ],
)
async def test_advanced_form_errors_name_their_field(
    js: Any, fields: dict[str, str], field: str
) -> None:
    result = await js.evaluate(_ADVANCED, fields)
    assert result.get("field") == field, result
    assert result["error"]


async def test_the_chromosome_table_matches_the_beacons(js: Any) -> None:
    accessions = await js.evaluate("async () => (await import('/ui/query.js')).refseqAccessions()")
    assert len(accessions) == 2 * 24 + 1
    for accession, chrom, assembly in accessions:
        assert normalize.chromosome_and_assembly(accession) == (chrom, assembly)
    spellings = [
        "1",
        "chr1",
        "22",
        "X",
        "chrx",
        "Y",
        "M",
        "chrM",
        "MT",
        "chrMT",
        "23",
        "24",
        "25",
        "chr23",
        "0",
        "26",
        "chrUn",
        "Z",
        "NC_000024.10",
        "nc_000023.11",
    ]
    for spelling in spellings:
        ours = await js.evaluate(
            """async (s) => { const m = await import('/ui/query.js');
                try { return m.normalizeChromosome(s).chromosome; } catch { return null; } }""",
            spelling,
        )
        try:
            theirs: str | None = normalize.chromosome(spelling)
        except InvalidRequest:
            theirs = None
        assert ours == theirs, spelling
