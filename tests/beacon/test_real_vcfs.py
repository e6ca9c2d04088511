"""Every real VCF in ../shared/data/vcf loads, with counts equal to an independent computation.

The expected counts come from a plain-text reading of each file written here (no cyvcf2):
allele counts and numbers from the GT fields when the file has samples, else from INFO
AC/AN. Where a file has both genotypes and INFO AC/AN, the stored counts must equal INFO too
(files whose INFO describes another cohort are listed with the reason).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from beacon import normalize
from beacon.errors import LoadError
from beacon.ingest import LoadOptions, SkipReason, load_vcf
from tests.conftest import SHARED_VCF

pytestmark = pytest.mark.shared_data

FILES = sorted(
    p.relative_to(SHARED_VCF).as_posix()
    for p in (SHARED_VCF.rglob("*") if SHARED_VCF.is_dir() else [])
    if p.name.endswith((".vcf", ".vcf.gz", ".bcf"))
)
MALFORMED = {"nbis_beacon_api_tests/beacon_v110_bnd_malformed_header.vcf"}
# Records whose INFO AC/AN contradict the file's own genotypes (the genotypes are loaded).
INFO_DISAGREES = {
    # MT rows: INFO AC=2;AN=2 while all three trio GTs are 1/1 (INFO made from one sample).
    "cgbeacon2_trio_snv_indel.GRCh37.vcf.gz": lambda key: key[0] == "MT",
}
_SEQ = re.compile(r"^[ACGTN]+$")


def _assembly(name: str) -> str:
    return "GRCh38" if "GRCh38" in name or "hg38" in name else "GRCh37"


def _lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:  # type: ignore[operator]
        for line in f:
            if not line.startswith("#"):
                yield line.rstrip("\n")


def _info(field: str) -> dict[str, str]:
    out = {}
    for item in field.split(";"):
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _int_list(value: str | None) -> list[int | None]:
    if not value:
        return []
    return [int(v) if v.lstrip("-").isdigit() else None for v in value.split(",")]


Key = tuple[str, int, str, str]


def _gt_counts(fmt: str, samples: list[str], n_alts: int) -> list[tuple[int, int]]:
    """(AC, AN) per ALT from the GT text of every sample."""
    keys = fmt.split(":")
    gt_index = keys.index("GT")
    if gt_index == 0 and n_alts < 10:
        # single-digit allele indexes: count characters of the joined GT texts
        text = (
            "\t".join(s.split(":", 1)[0] for s in samples) if len(keys) > 1 else "\t".join(samples)
        )
        an = sum(text.count(str(d)) for d in range(n_alts + 1))
        return [(text.count(str(i + 1)), an) for i in range(n_alts)]
    calls = [
        a for sample in samples for a in re.split(r"[/|]", sample.split(":")[gt_index]) if a != "."
    ]
    return [(calls.count(str(i + 1)), len(calls)) for i in range(n_alts)]


def expected(path: Path) -> tuple[dict[Key, list[tuple[int | None, int | None]]], bool]:
    """(chrom, vcf_start, REF, ALT) -> [(AC, AN), ...] for sequence alleles somebody carries,
    computed from the text; and whether the counts came from genotypes. An allele that an
    earlier record at the same position already gave (in trimmed form) is left out."""
    out: dict[Key, list[tuple[int | None, int | None]]] = {}
    has_samples = False
    site: tuple[str, str] = ("", "")
    seen: set[tuple[int, str, str]] = set()
    for line in _lines(path):
        cols = line.split("\t")
        chrom = normalize.try_chromosome(cols[0])
        if chrom is None:
            continue
        if site != (chrom, cols[1]):
            site, seen = (chrom, cols[1]), set()
        ref, alts = cols[3].upper(), cols[4].upper().split(",")
        counts: list[tuple[int | None, int | None]]
        if len(cols) > 9:
            has_samples = True
            counts = _gt_counts(cols[8], cols[9:], len(alts))
        else:
            info = _info(cols[7])
            acs = _int_list(info.get("AC"))
            an = _int_list(info.get("AN"))
            counts = [
                (acs[i] if i < len(acs) else None, an[0] if an else None) for i in range(len(alts))
            ]
        for alt, (ac, an_value) in zip(alts, counts, strict=True):
            if not _SEQ.match(alt) or not _SEQ.match(ref):
                continue
            trimmed = normalize.trim(int(cols[1]) - 1, ref, alt)
            allele = (trimmed.start, trimmed.reference, trimmed.alternate)
            if allele in seen:
                continue
            seen.add(allele)
            if ac == 0:
                continue
            out.setdefault((chrom, int(cols[1]) - 1, ref, alt), []).append((ac, an_value))
    return out, has_samples


def info_counts(path: Path) -> dict[Key, list[tuple[int, int]]]:
    """INFO AC/AN per sequence allele (records with both only; the first record of an allele
    at its position, as in :func:`expected`)."""
    out: dict[Key, list[tuple[int, int]]] = {}
    site: tuple[str | None, str] = ("", "")
    seen: set[tuple[int, str, str]] = set()
    for line in _lines(path):
        cols = line.split("\t")
        chrom = normalize.try_chromosome(cols[0])
        if site != (chrom, cols[1]):
            site, seen = (chrom, cols[1]), set()
        ref = cols[3].upper()
        first = []
        for alt in cols[4].upper().split(","):
            allele = None
            if _SEQ.match(alt) and _SEQ.match(ref):
                trimmed = normalize.trim(int(cols[1]) - 1, ref, alt)
                allele = (trimmed.start, trimmed.reference, trimmed.alternate)
            first.append(allele not in seen)
            if allele is not None:
                seen.add(allele)
        info = _info(cols[7])
        acs, an = _int_list(info.get("AC")), _int_list(info.get("AN"))
        if chrom is None or not acs or not an or an[0] is None:
            continue
        for alt, ac, is_first in zip(cols[4].upper().split(","), acs, first, strict=False):
            if ac and is_first and _SEQ.match(alt) and _SEQ.match(cols[3].upper()):
                out.setdefault((chrom, int(cols[1]) - 1, cols[3].upper(), alt), []).append(
                    (ac, an[0])
                )
    return out


@pytest.mark.parametrize("name", FILES)
async def test_real_vcf_loads_with_independent_counts(
    shared_vcf_dir: Path, database_url: str, db: asyncpg.Connection, name: str
) -> None:
    path = shared_vcf_dir / name
    options = LoadOptions(dataset_id="real", assembly=_assembly(name))
    if name in MALFORMED:
        try:
            report = await load_vcf(database_url, path, options)
        except LoadError as exc:
            message = str(exc)
        else:
            message = ""
        if message:
            assert "VCF" in message
            return
        assert report.alleles_stored == 0
        assert report.skipped.get(SkipReason.MALFORMED, 0) == report.records_read > 0
        return
    report = await load_vcf(database_url, path, options)
    assert report.records_read > 0
    assert report.alleles_stored > 0
    if name.endswith(".bcf"):
        twin = path.with_suffix(".vcf.gz")
        text_path = twin if twin.exists() else path
    else:
        text_path = path
    want, genotyped = expected(text_path)
    rows = await db.fetch(
        "SELECT reference_name, vcf_start, vcf_ref, vcf_alt, allele_count, allele_number"
        " FROM variant WHERE dataset_id = 'real'"
    )
    got: dict[Key, list[tuple[int | None, int | None]]] = {}
    for r in rows:
        if _SEQ.match(r["vcf_alt"].upper()) and _SEQ.match(r["vcf_ref"].upper()):
            key = (r["reference_name"], r["vcf_start"], r["vcf_ref"].upper(), r["vcf_alt"].upper())
            got.setdefault(key, []).append((r["allele_count"], r["allele_number"]))
    assert {k: sorted(v, key=str) for k, v in got.items()} == {
        k: sorted(v, key=str) for k, v in want.items()
    }
    if genotyped:
        info = info_counts(text_path)
        explained = INFO_DISAGREES.get(name, lambda key: False)
        for key in info:
            if key in got and not explained(key):
                assert sorted(got[key]) == sorted(info[key]), key
