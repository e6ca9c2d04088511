from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beacon import normalize
from beacon.errors import InvalidRequest


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "1"),
        ("chr1", "1"),
        ("CHR1", "1"),
        ("X", "X"),
        ("chrX", "X"),
        ("23", "X"),
        ("MT", "MT"),
        ("chrM", "MT"),
        ("M", "MT"),
        ("chrMT", "MT"),
        ("NC_000017.11", "17"),
        ("NC_000017.10", "17"),
        ("NC_012920.1", "MT"),
        (" 22 ", "22"),
    ],
)
def test_chromosome_spellings(raw: str, expected: str) -> None:
    assert normalize.chromosome(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "chr", "chr1_gl000191_random", "GL000191.1", "hs37d5", "26", "chrUn"]
)
def test_unplaced_or_unknown_chromosomes_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        normalize.chromosome(raw)
    assert err.value.parameter == "referenceName"


def test_refseq_accession_implies_assembly() -> None:
    assert normalize.chromosome_and_assembly("NC_000017.11") == ("17", "GRCh38")
    assert normalize.chromosome_and_assembly("NC_000017.10") == ("17", "GRCh37")
    assert normalize.chromosome_and_assembly("NC_000023.11") == ("X", "GRCh38")
    assert normalize.chromosome_and_assembly("chr17") == ("17", None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hg19", "GRCh37"),
        ("GRCh37", "GRCh37"),
        ("b37", "GRCh37"),
        ("hg38", "GRCh38"),
        ("grch38", "GRCh38"),
    ],
)
def test_assembly_aliases(raw: str, expected: str) -> None:
    assert normalize.assembly(raw) == expected


def test_unknown_assembly() -> None:
    with pytest.raises(InvalidRequest):
        normalize.assembly("hg18")


@pytest.mark.parametrize(
    ("start", "ref", "alt", "expected"),
    [
        (100, "A", "G", (100, 101, "A", "G")),  # SNV untouched
        (100, "A", "AT", (101, 101, "", "T")),  # padded insertion
        (100, "AT", "A", (101, 102, "T", "")),  # padded deletion
        (100, "CAAA", "CAA", (101, 102, "A", "")),  # left-aligned within the given context
        (100, "TG", "AG", (100, 101, "T", "A")),  # shared suffix
        (100, "ACGT", "ATGA", (101, 104, "CGT", "TGA")),  # MNP with shared prefix
        (100, "GN", "GA", (101, 102, "N", "A")),  # N is not trimmed as shared
        (100, "NA", "NA", (100, 102, "NA", "NA")),  # identical: untouched
    ],
)
def test_trim(start: int, ref: str, alt: str, expected: tuple[int, int, str, str]) -> None:
    t = normalize.trim(start, ref, alt)
    assert (t.start, t.end, t.reference, t.alternate) == expected


@given(st.text("ACGTN", max_size=4), st.text("ACGTN", max_size=4))
def test_trimmable_says_whether_trim_changes_the_bases(ref: str, alt: str) -> None:
    t = normalize.trim(7, ref, alt)
    changed = (t.start, t.reference, t.alternate) != (7, ref, alt)
    if not normalize.trimmable(ref, alt):
        assert not changed
    if changed:
        assert normalize.trimmable(ref, alt)


def test_padded_and_trimmed_indels_meet() -> None:
    assert normalize.trim(100, "AT", "A") == normalize.trim(101, "T", "")
    assert normalize.trim(99, "GAT", "GA") == normalize.trim(100, "AT", "A")


@pytest.mark.parametrize(
    ("ref", "alt", "kind"),
    [
        ("A", "G", "SNP"),
        ("AC", "GT", "MNP"),
        ("", "T", "INS"),
        ("T", "", "DEL"),
        ("AC", "T", "INDEL"),
    ],
)
def test_sequence_variant_type(ref: str, alt: str, kind: str) -> None:
    assert normalize.sequence_variant_type(ref, alt) == kind


def test_bases_rejects_non_nucleotides() -> None:
    assert normalize.bases("acgtn", parameter="referenceBases") == "ACGTN"
    with pytest.raises(InvalidRequest):
        normalize.bases("AXG", parameter="referenceBases")
