"""Loading small VCFs written here, against a real PostgreSQL, one case per behaviour."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from beacon.errors import LoadError
from beacon.ingest import LoadOptions, SkipReason, load_vcf
from beacon.model import CountSource
from beacon.storage import datasets
from tests.beacon.vcfcopy import htslib_copy

HEADER = """##fileformat=VCFv4.2
##contig=<ID=1,length=249250621>
##contig=<ID=X,length=155270560>
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">
##INFO=<ID=END,Number=1,Type=Integer,Description="End position">
##INFO=<ID=SVLEN,Number=A,Type=Integer,Description="SV length">
##INFO=<ID=SVTYPE,Number=1,Type=String,Description="SV type">
##INFO=<ID=MATEID,Number=.,Type=String,Description="Mate">
##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene symbol:id">
##INFO=<ID=CSQ,Number=.,Type=String,Description="VEP. Format: Allele|Consequence|SYMBOL|Gene">
##INFO=<ID=ANN,Number=.,Type=String,Description="Functional annotations: 'Allele | \
Annotation | Annotation_Impact | Gene_Name | Gene_ID'">
##FILTER=<ID=LowQual,Description="Low quality">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
"""

COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"


def write_vcf(path: Path, records: list[str], samples: tuple[str, ...] = ()) -> Path:
    """A VCF with ``records`` (whitespace-separated fields), gzip when ``path`` ends in .gz."""
    head = COLUMNS + ("\tFORMAT\t" + "\t".join(samples) if samples else "")
    lines = [HEADER.rstrip("\n"), head, *("\t".join(r.split()) for r in records)]
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as out:
            out.write(text)
    else:
        path.write_text(text)
    return path


async def rows(db: asyncpg.Connection, dataset_id: str) -> list[dict[str, Any]]:
    found = await db.fetch(
        "SELECT * FROM variant WHERE dataset_id = $1 ORDER BY reference_name, start, vcf_alt",
        dataset_id,
    )
    return [dict(r) for r in found]


def opts(dataset_id: str = "ds", **kw: Any) -> LoadOptions:
    return LoadOptions(dataset_id=dataset_id, assembly=kw.pop("assembly", "GRCh37"), **kw)


async def test_multiallelic_split_drops_uncarried_alt(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "m.vcf",
        ["1 100 rs1 A C,G 50 PASS . GT 2|2 0|2 0|0"],
        ("s1", "s2", "s3"),
    )
    report = await load_vcf(database_url, vcf, opts())
    assert report.records_read == 1
    assert report.alleles_stored == 1
    assert report.skipped == {SkipReason.NOT_CARRIED: 1}
    (g,) = await rows(db, "ds")
    assert (g["reference_name"], g["start"], g["end"]) == ("1", 99, 100)
    assert (g["reference_bases"], g["alternate_bases"], g["variant_type"]) == ("A", "G", "SNP")
    assert (g["allele_count"], g["allele_number"], g["carriers"]) == (3, 6, 2)
    assert (g["homozygous"], g["heterozygous"], g["hemizygous"]) == (1, 1, 0)
    assert g["carrier_samples"] == [0, 1]
    assert g["carrier_dosage"] == [2, 1]
    assert g["variant_id"] == "rs1"


@pytest.mark.parametrize("sites_only", [False, True])
async def test_an_allele_repeated_at_its_position_is_stored_once(
    db: asyncpg.Connection, database_url: str, tmp_path: Path, sites_only: bool
) -> None:
    # A line written twice, two callers' records of one sample (Platinum's OverlapConflict),
    # and the same deletion spelled from another REF: each allele is stored once, from the
    # first record that gives it. Another position, or another allele, is not a repeat.
    records = [
        "1 100 . A G 50 PASS AC=1;AN=4 GT 0/1 0/0",
        "1 100 . A G 50 PASS AC=1;AN=4 GT 0/1 0/0",
        "1 100 . A G,T 50 PASS AC=4,1;AN=4 GT 1/1 1/2",
        "1 200 . AT A 50 PASS AC=1;AN=4 GT 0/1 0/0",
        "1 200 . ATT AT,A 50 PASS AC=2,2;AN=4 GT 1/1 2/2",
        "1 300 . A G 50 PASS AC=2;AN=4 GT 0/1 0/1",
        "X 100 . A G 50 PASS AC=2;AN=4 GT 1/1 0/0",
    ]
    if sites_only:
        records = [" ".join(r.split()[:8]) for r in records]
    vcf = write_vcf(tmp_path / "d.vcf", records, () if sites_only else ("s1", "s2"))
    report = await load_vcf(database_url, vcf, opts())
    assert report.records_read == 7
    assert report.skipped == {SkipReason.DUPLICATE: 3}
    got = [
        (g["reference_name"], g["start"], g["reference_bases"], g["alternate_bases"],
         g["allele_count"], g["allele_number"])
        for g in await rows(db, "ds")
    ]  # fmt: skip
    assert got == [
        ("1", 99, "A", "G", 1, 4),  # the first record's counts, not 1 + 1 + 4
        ("1", 99, "A", "T", 1, 4),
        ("1", 200, "T", "", 1, 4),  # AT>A, not again as ATT>AT
        ("1", 200, "TT", "", 2, 4),  # ATT>A
        ("1", 299, "A", "G", 2, 4),
        ("X", 99, "A", "G", 2, 4),
    ]
    stored = await datasets.get_dataset(db, "ds")
    assert stored is not None
    assert stored.variant_count == 6


async def test_haploid_calls_count_one_allele(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "mt.vcf",
        ["MT 73 . A G 50 PASS . GT 1 0 . 1"],
        ("a", "b", "c", "d"),
    )
    await load_vcf(database_url, vcf, opts())
    (g,) = await rows(db, "ds")
    assert g["reference_name"] == "MT"
    assert (g["allele_count"], g["allele_number"], g["ploidy"]) == (2, 3, 1)
    assert (g["hemizygous"], g["homozygous"], g["heterozygous"]) == (2, 0, 0)
    assert g["called_exceptions"] == [2]  # the missing call: 0 called alleles
    assert g["called_exception_counts"] == [0]


async def test_half_missing_calls_leave_the_missing_allele_out(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "x.vcf",
        ["X 5000000 . C T 50 PASS . GT 0/. 1/. 1/1 ./. 0/1"],
        ("m1", "m2", "f1", "f2", "f3"),
    )
    await load_vcf(database_url, vcf, opts())
    (g,) = await rows(db, "ds")
    assert g["allele_number"] == 1 + 1 + 2 + 0 + 2
    assert g["allele_count"] == 1 + 2 + 1
    assert (g["hemizygous"], g["homozygous"], g["heterozygous"]) == (1, 1, 1)
    assert g["called_exceptions"] == [0, 1, 3]
    assert g["called_exception_counts"] == [1, 1, 0]


async def test_indels_mnps_are_trimmed_to_the_canonical_form(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "i.vcf",
        [
            "1 200 . CAAA CAA,CAAAT 50 PASS AC=1,1;AN=4 GT 0/1 0/2",
            "1 300 . ACG TCA 50 PASS . GT 0/1 0/0",
            "1 400 . AC T 50 PASS . GT 1/1 0/0",
        ],
        ("a", "b"),
    )
    await load_vcf(database_url, vcf, opts())
    got = {
        (r["vcf_start"], r["vcf_alt"]): (
            r["start"],
            r["end"],
            r["reference_bases"],
            r["alternate_bases"],
            r["variant_type"],
        )
        for r in await rows(db, "ds")
    }
    assert got[(199, "CAA")] == (200, 201, "A", "", "DEL")
    assert got[(199, "CAAAT")] == (203, 203, "", "T", "INS")
    assert got[(299, "TCA")] == (299, 302, "ACG", "TCA", "MNP")
    assert got[(399, "T")] == (399, 401, "AC", "T", "INDEL")


async def test_structural_variants_and_breakends(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "sv.vcf",
        [
            "1 1000 del N <DEL> 50 PASS SVTYPE=DEL;END=5000;SVLEN=-4000 GT 0/1",
            "1 6000 ins A <INS> 50 PASS SVTYPE=INS;SVLEN=300 GT 1/1",
            "1 7000 dup G <DUP:TANDEM> 50 PASS SVTYPE=DUP;END=7100 GT 0/1",
            "1 8000 cnv T <CN0> 50 PASS . GT 0/1",
            "1 9000 bnd1 G G]X:200000] 50 PASS SVTYPE=BND;MATEID=bnd2 GT 0/1",
            "X 200000 bnd2 T T]1:9000] 50 PASS SVTYPE=BND;MATEID=bnd1 GT 0/1",
            "1 9500 star G * 50 PASS . GT 0/1",
        ],
        ("s",),
    )
    report = await load_vcf(database_url, vcf, opts())
    assert report.skipped == {SkipReason.UNKNOWN_EXTENT: 1, SkipReason.SPANNING_DELETION: 1}
    by_id = {r["variant_id"]: r for r in await rows(db, "ds")}
    d = by_id["del"]
    assert (d["start"], d["end"], d["variant_type"], d["sv_length"]) == (1000, 5000, "DEL", 4000)
    assert (d["reference_bases"], d["alternate_bases"]) == ("N", "<DEL>")
    i = by_id["ins"]
    assert (i["start"], i["end"], i["variant_type"], i["sv_length"]) == (6000, 6000, "INS", 300)
    assert by_id["dup"]["variant_type"] == "DUP:TANDEM"
    assert (by_id["dup"]["start"], by_id["dup"]["end"]) == (7000, 7100)
    b1, b2 = by_id["bnd1"], by_id["bnd2"]
    assert (b1["start"], b1["end"], b1["variant_type"]) == (8999, 9000, "BND")
    assert (b1["mate_name"], b1["mate_start"]) == ("X", 199999)
    assert (b2["mate_name"], b2["mate_start"]) == ("1", 8999)


async def test_unsorted_file_and_chromosome_spellings(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "u.vcf",
        [
            "chrX 500 . A G 50 PASS AC=1;AN=2",
            "chr1 900 . A G 50 PASS AC=1;AN=2",
            "1 100 . C T 50 PASS AC=2;AN=2",
            "chrM 50 . T C 50 PASS AC=1;AN=1",
            "chrUn_gl000220 10 . T C 50 PASS AC=1;AN=2",
            "GL000192.1 10 . T C 50 PASS AC=1;AN=2",
        ],
    )
    report = await load_vcf(database_url, vcf, opts(assembly="hg19"))
    assert report.skipped == {SkipReason.UNPLACED_CONTIG: 2}
    assert report.count_source is CountSource.INFO
    got = sorted((r["reference_name"], r["start"]) for r in await rows(db, "ds"))
    assert got == [("1", 99), ("1", 899), ("MT", 49), ("X", 499)]
    d = await datasets.get_dataset(db, "ds")
    assert d is not None
    assert d.assembly == "GRCh37"


async def test_strict_makes_a_problem_fatal_and_changes_nothing(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    good = write_vcf(tmp_path / "g.vcf", ["1 100 . C T 50 PASS AC=2;AN=2"])
    await load_vcf(database_url, good, opts())
    before = await rows(db, "ds")
    bad = write_vcf(
        tmp_path / "b.vcf", ["1 100 . C T 50 PASS AC=1;AN=2", "chrUn_x 5 . C T 50 PASS AC=1;AN=2"]
    )
    with pytest.raises(LoadError, match=r"record 2 \(chrUn_x:5\): unplaced contig"):
        await load_vcf(database_url, bad, opts(strict=True))
    assert await rows(db, "ds") == before
    # without --strict the same file loads and reports the record
    report = await load_vcf(database_url, bad, opts())
    assert report.skipped == {SkipReason.UNPLACED_CONTIG: 1}
    assert report.alleles_stored == 1


async def test_sites_only_counts_from_info_and_presence(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "s.vcf.gz",  # plain gzip, not BGZF
        ["1 100 . C T,G 50 PASS AC=5,0;AN=100", "1 200 . G A 50 LowQual AC=1;AN=100"],
    )
    report = await load_vcf(database_url, vcf, opts())
    assert report.count_source is CountSource.INFO
    assert report.skipped == {SkipReason.NOT_CARRIED: 1}
    got = [(r["vcf_alt"], r["allele_count"], r["allele_number"]) for r in await rows(db, "ds")]
    assert got == [("T", 5, 100), ("A", 1, 100)]
    report = await load_vcf(database_url, vcf, opts(pass_only=True))
    assert report.skipped == {SkipReason.NOT_CARRIED: 1, SkipReason.NOT_PASS: 1}

    bare = tmp_path / "bare.vcf"
    bare.write_text("##fileformat=VCFv4.2\n" + COLUMNS + "\n1\t100\t.\tC\tT\t.\t.\t.\n")
    report = await load_vcf(database_url, bare, opts("bare"))
    assert report.count_source is CountSource.PRESENCE
    (r,) = await rows(db, "bare")
    assert r["allele_count"] is None
    assert r["allele_number"] is None


async def test_gene_symbols_from_geneinfo_csq_and_ann(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(
        tmp_path / "g.vcf",
        [
            "1 100 . C T 50 PASS AC=1;AN=2;GENEINFO=BRCA1:672|NBR2:10230",
            "1 200 . C T 50 PASS AC=1;AN=2;CSQ=T|missense|tp53|ENSG1,T|intron|TP53|ENSG1",
            "1 300 . C T 50 PASS AC=1;AN=2;ANN=T|missense|MODERATE|Kras|ENSG2",
        ],
    )
    await load_vcf(database_url, vcf, opts())
    got = [r["gene_ids"] for r in await rows(db, "ds")]
    assert got == [["BRCA1", "NBR2"], ["TP53"], ["KRAS"]]


async def test_bcf_and_gzip_load_like_plain_vcf(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    records = ["1 100 . A C,G 50 PASS . GT 0|1 2|2", "X 300 . T TA 50 PASS . GT 0/1 1/."]
    plain = write_vcf(tmp_path / "p.vcf", records, ("a", "b"))
    gz = write_vcf(tmp_path / "p.vcf.gz", records, ("a", "b"))
    bcf = htslib_copy(plain, tmp_path / "p.bcf", "wb")
    keys = ("reference_name", "start", "end", "alternate_bases", "allele_count", "allele_number")
    results = []
    for i, path in enumerate((plain, gz, bcf)):
        await load_vcf(database_url, path, opts(f"d{i}"))
        results.append([tuple(r[k] for k in keys) for r in await rows(db, f"d{i}")])
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 3


async def test_unreadable_and_malformed_files_fail_clearly(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.vcf"
    junk.write_text("this is not a VCF\n")
    with pytest.raises(LoadError, match=r"junk\.vcf"):
        await load_vcf(database_url, junk, opts())
    with pytest.raises(LoadError, match="no such file"):
        await load_vcf(database_url, tmp_path / "missing.vcf", opts())
    bad_alt = write_vcf(
        tmp_path / "b.vcf",
        ["1 100 . A G[13 : 123460[ 50 PASS . GT 0/1", "1 200 . A G 50 PASS . GT 0/1"],
        ("s",),
    )
    report = await load_vcf(database_url, bad_alt, opts())
    assert report.skipped == {SkipReason.MALFORMED: 1}
    assert report.alleles_stored == 1  # the good neighbour is kept
    assert await datasets.list_datasets(db) != []


async def test_replace_is_idempotent(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    vcf = write_vcf(tmp_path / "r.vcf", ["1 100 . A G 50 PASS . GT 0/1 1/1"], ("a", "b"))
    first = await load_vcf(database_url, vcf, opts(name="First"))
    before = (await rows(db, "ds"), await datasets.get_dataset(db, "ds"))
    second = await load_vcf(database_url, vcf, opts())
    after = (await rows(db, "ds"), await datasets.get_dataset(db, "ds"))
    assert first.alleles_stored == second.alleles_stored == 1
    assert before[0] == after[0]
    assert before[1] is not None
    assert after[1] is not None
    assert after[1].name == "First"  # kept when not given again
    assert (after[1].sample_count, after[1].variant_count, after[1].call_count) == (2, 1, 2)


async def test_append_adds_chromosomes_and_checks_samples(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    one = write_vcf(tmp_path / "c1.vcf", ["1 100 . A G 50 PASS . GT 0/1 1/1"], ("a", "b"))
    two = write_vcf(tmp_path / "c2.vcf", ["X 100 . A G 50 PASS . GT 1/. 0/1"], ("b", "a"))
    await load_vcf(database_url, one, opts())
    await load_vcf(database_url, two, opts(mode="append"))
    await load_vcf(database_url, two, opts(mode="append"))  # idempotent
    got = [
        (r["reference_name"], r["carrier_samples"], r["carrier_dosage"])
        for r in await rows(db, "ds")
    ]
    assert got == [("1", [0, 1], [1, 2]), ("X", [0, 1], [1, 1])]
    d = await datasets.get_dataset(db, "ds")
    assert d is not None
    assert (d.sample_count, d.variant_count, d.call_count) == (2, 2, 4)
    other = write_vcf(tmp_path / "o.vcf", ["2 100 . A G 50 PASS . GT 0/1"], ("zz",))
    with pytest.raises(LoadError, match="samples differ"):
        await load_vcf(database_url, other, opts(mode="append"))


async def test_sample_selection(db: asyncpg.Connection, database_url: str, tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "s.vcf", ["1 100 . A G 50 PASS . GT 0/1 1/1 0/0"], ("a", "b", "c"))
    report = await load_vcf(database_url, vcf, opts(samples=("a", "c")))
    assert report.samples == 2
    (r,) = await rows(db, "ds")
    assert (r["allele_count"], r["allele_number"], r["carrier_samples"]) == (1, 4, [0])
    await load_vcf(database_url, vcf, opts("ex", exclude_samples=("b",)))
    assert [x["allele_count"] for x in await rows(db, "ex")] == [1]
    with pytest.raises(LoadError, match="not in the file: zz"):
        await load_vcf(database_url, vcf, opts(samples=("zz",)))
