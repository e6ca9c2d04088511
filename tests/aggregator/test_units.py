"""Pure parts of the aggregator: breaker, v1 conversion, configuration, answer parsing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.answers import parse_v2_answer
from aggregator.breaker import Breaker, BreakerState
from aggregator.client import Fetched, FetchKind
from aggregator.config import ConfigError, MemberApi, load_config, parse_config
from aggregator.outcome import MemberStatus
from aggregator.v1 import NotExpressible, parse_v1_answer, to_v1_params
from beacon.request import parse_g_variants

REPO = Path(__file__).resolve().parents[2]


def test_breaker_opens_probes_and_closes() -> None:
    b = Breaker(failures=2, reset_s=10.0)
    assert b.allow(0.0)
    b.record_failure(0.0)
    assert b.state(0.0) is BreakerState.CLOSED
    b.record_failure(1.0)
    assert b.state(1.0) is BreakerState.OPEN
    assert not b.allow(5.0)
    assert b.state(11.0) is BreakerState.HALF_OPEN
    assert b.allow(11.0)  # the probe
    assert not b.allow(11.0)  # only one probe at a time
    b.record_failure(12.0)  # probe failed: open again, for a full reset period
    assert b.state(12.0) is BreakerState.OPEN
    assert not b.allow(21.0)
    assert b.allow(22.0)
    b.record_success()
    assert b.state(22.0) is BreakerState.CLOSED
    assert b.allow(22.0)


def test_breaker_release_lets_another_probe_through() -> None:
    b = Breaker(failures=1, reset_s=0.0)
    b.record_failure(0.0)
    assert b.allow(0.0)
    assert not b.allow(0.0)
    b.release()
    assert b.allow(0.0)


def req(**params: str):  # type: ignore[no-untyped-def]
    return parse_g_variants({"assemblyId": "GRCh38", "referenceName": "chr1", **params}, None)


def test_v1_snp_keeps_coordinates() -> None:
    params = to_v1_params(req(start="100", referenceBases="A", alternateBases="T"))
    assert params == {
        "referenceName": "1",
        "assemblyId": "GRCh38",
        "start": "100",
        "referenceBases": "A",
        "alternateBases": "T",
        "includeDatasetResponses": "HIT",
    }


def test_v1_indels_are_padded_with_a_wildcard_base() -> None:
    deletion = to_v1_params(req(start="100", referenceBases="CA", alternateBases="C"))
    assert isinstance(deletion, dict)
    # trimmed: A deleted at 101 -> v1: N A > N at 100
    assert (deletion["start"], deletion["referenceBases"], deletion["alternateBases"]) == (
        "100",
        "NA",
        "N",
    )
    insertion = to_v1_params(req(start="100", referenceBases="C", alternateBases="CGG"))
    assert isinstance(insertion, dict)
    assert (insertion["start"], insertion["referenceBases"], insertion["alternateBases"]) == (
        "100",
        "N",
        "NGG",
    )


def test_v1_range_and_inexpressible_queries() -> None:
    # v1's start + end are one allele's exact bounds, not an overlap window.
    ranged = to_v1_params(req(start="100", end="200", variantType="DEL"))
    assert isinstance(ranged, NotExpressible)
    bracket = to_v1_params(req(start="100,110", end="200,210", variantType="DEL"))
    assert isinstance(bracket, dict)
    assert (bracket["startMin"], bracket["startMax"], bracket["endMin"], bracket["endMax"]) == (
        "100",
        "110",
        "200",
        "210",
    )
    assert bracket["variantType"] == "DEL"
    # every allele in a bracket, or a deletion by its empty alternate: no v1 spelling
    assert isinstance(to_v1_params(req(start="100,110", end="200,210")), NotExpressible)
    no_alt = req(start="100,110", end="200,210", alternateBases="-")
    assert isinstance(to_v1_params(no_alt), NotExpressible)
    by_alt = to_v1_params(req(start="100,110", end="100,210", alternateBases="T"))
    assert isinstance(by_alt, dict)
    assert (by_alt["alternateBases"], by_alt["referenceBases"]) == ("T", "N")
    gene = parse_g_variants({"geneId": "BRCA1"}, None)
    assert isinstance(to_v1_params(gene), NotExpressible)
    no_assembly = parse_g_variants(
        {"referenceName": "1", "start": "5", "referenceBases": "A", "alternateBases": "T"}, None
    )
    assert isinstance(to_v1_params(no_assembly, ("GRCh37", "GRCh38")), NotExpressible)
    assert isinstance(to_v1_params(no_assembly, ("GRCh37",)), dict)


def fetched(doc: object) -> Fetched:
    return Fetched(FetchKind.OK, 1.0, 200, doc)


def test_v1_answers() -> None:
    good = parse_v1_answer(
        "m",
        "M",
        fetched(
            {
                "beaconId": "org.v1",
                "exists": True,
                "datasetAlleleResponses": [
                    {"datasetId": "d", "exists": True, "variantCount": 2, "frequency": 0.5}
                ],
            }
        ),
    )
    assert good.status is MemberStatus.ANSWERED
    assert good.count == 2
    assert good.count_exact
    assert parse_v1_answer("m", "M", fetched({"exists": "yes"})).status is MemberStatus.ERROR
    errored = parse_v1_answer("m", "M", fetched({"exists": None, "error": {"errorCode": 400}}))
    assert errored.status is MemberStatus.ERROR
    assert errored.exists is None


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"responseSummary": {}},
        {"responseSummary": {"exists": "yes"}},
        {"responseSummary": {"exists": 1}},
        {"responseSummary": {"exists": True, "numTotalResults": -1}},
        {"responseSummary": {"exists": True, "numTotalResults": "3"}},
        {"responseSummary": {"exists": True}, "response": {"resultSets": [{"exists": True}]}},
        {"responseSummary": {"exists": True}, "response": {"resultSets": "all"}},
        {"responseSummary": {"exists": True}, "info": {"beaconNetwork": {"exists": "maybe"}}},
    ],
)
def test_malformed_v2_answers_are_errors_not_no(doc: object) -> None:
    outcome = parse_v2_answer("m", "M", fetched(doc))
    assert outcome.status is MemberStatus.ERROR
    assert outcome.exists is None
    assert outcome.message
    assert outcome.message.startswith("malformed answer")


def test_config_parses_and_names_bad_keys(tmp_path: Path) -> None:
    path = tmp_path / "network.toml"
    path.write_text(
        '[network]\nid = "org.n"\noverall_timeout_s = 4\nschema_dir = "schemas"\n'
        '[[members]]\nid = "a"\nurl = "https://a.example/api/"\napi = "v1"\n'
        'assemblies = ["hg19"]\nforward_token = true\n'
    )
    config = load_config(path)
    assert config.id == "org.n"
    assert config.overall_timeout_s == 4.0
    assert config.schema_dir == tmp_path / "schemas"
    (member,) = config.members
    assert member.url == "https://a.example/api"
    assert member.api is MemberApi.V1
    assert member.assemblies == ("GRCh37",)
    assert member.forward_token
    cases = {
        "members[0].url": {"members": [{"id": "a", "url": "ftp://x"}]},
        "members[0].api": {"members": [{"id": "a", "url": "http://x", "api": "v3"}]},
        "members[1].id": {
            "members": [{"id": "a", "url": "http://x"}, {"id": "a", "url": "http://y"}]
        },
        "network.overall_timeout_s": {"network": {"overall_timeout_s": "soon"}},
        "network.colour": {"network": {"colour": "blue"}},
        "network.hedge_quantile": {"network": {"hedge_quantile": 1.0}},
        "network.hedge_max_share": {"network": {"hedge_max_share": 1.5}},
        "members[0].assemblies": {
            "members": [{"id": "a", "url": "http://x", "assemblies": ["hg5"]}]
        },
    }
    for key, doc in cases.items():
        with pytest.raises(ConfigError) as caught:
            parse_config(doc)
        assert caught.value.key == key
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.toml")


def test_every_setting_is_documented() -> None:
    from aggregator.config import MEMBER_KEYS, NETWORK_KEYS

    doc = (REPO / "docs" / "aggregator.md").read_text()
    missing = [k for k in sorted(NETWORK_KEYS | MEMBER_KEYS) if f"`{k}`" not in doc]
    assert missing == []


def test_importing_the_aggregator_loads_none_of_the_beacon_machinery() -> None:
    code = (
        "import sys, pkgutil, importlib, aggregator\n"
        "for m in pkgutil.walk_packages(aggregator.__path__, 'aggregator.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[:2] in "
        "(['beacon','storage'], ['beacon','ingest'], ['beacon','web'], ['beacon','serve'])"
        " or n == 'asyncpg' or n == 'cyvcf2')\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == ""
