"""Pure visa judgement: every rule of beacon.auth.passport, without any network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from beacon.auth.config import BONA_FIDE_POLICY, parse_auth_config
from beacon.auth.passport import Entitlements, Visa, entitlements, parse_visa

DAC = "https://dac.example.org"
BROKER = "https://login.example.org"
NOW = 1_700_000_000
CONFIG = parse_auth_config(
    {
        "audience": "https://beacon.example.org",
        "issuers": [{"issuer": BROKER}],
        "visa_issuers": [
            {"issuer": BROKER, "datasets": ["https://beacon.example.org/datasets/open"]},
            {"issuer": DAC},
            {"issuer": "https://elsewhere.example.org", "require_same_subject": False},
        ],
        "dataset_identifier_base": "https://beacon.example.org/datasets/",
    }
)
GRANT = Visa(
    issuer=DAC,
    subject="alice",
    type="ControlledAccessGrants",
    value="https://beacon.example.org/datasets/ds1",
    source="https://dac.example.org",
    by="dac",
    asserted=NOW - 100,
    expires=NOW + 100,
    has_conditions=False,
)
TERMS = replace(GRANT, type="AcceptedTermsAndPolicies", value=BONA_FIDE_POLICY, by="self")
STATUS = replace(GRANT, type="ResearcherStatus", value=BONA_FIDE_POLICY, by="so")


def judge(*visas: Visa, subject: str = "alice") -> Entitlements:
    return entitlements(visas, subject=subject, config=CONFIG, now=NOW)


def test_grant_and_bona_fide() -> None:
    assert judge(GRANT) == Entitlements(False, frozenset({"ds1"}))
    assert judge(TERMS, STATUS) == Entitlements(True, frozenset())
    assert judge(TERMS) == Entitlements(False, frozenset())
    assert judge(STATUS) == Entitlements(False, frozenset())


@pytest.mark.parametrize(
    "visa",
    [
        replace(GRANT, issuer="https://untrusted.example.org"),
        replace(GRANT, subject="mallory"),
        replace(GRANT, has_conditions=True),
        replace(GRANT, asserted=NOW + 3600),
        replace(GRANT, expires=NOW - 3600),
        replace(GRANT, by="self"),
        replace(GRANT, by="peer"),
        replace(GRANT, by=None),
        replace(GRANT, value="https://other.example.org/datasets/ds1"),
        replace(GRANT, value="ds1"),
        replace(GRANT, type="controlledaccessgrants"),
        # the broker may grant only the dataset it is configured for
        replace(GRANT, issuer=BROKER),
    ],
)
def test_grant_that_does_not_count(visa: Visa) -> None:
    assert judge(visa).controlled_datasets == frozenset()


def test_issuer_limited_to_some_datasets_grants_those() -> None:
    visa = replace(GRANT, issuer=BROKER, value="https://beacon.example.org/datasets/open")
    assert judge(visa).controlled_datasets == frozenset({"open"})


def test_issuer_that_allows_other_subjects() -> None:
    visa = replace(GRANT, issuer="https://elsewhere.example.org", subject="alice@elsewhere")
    assert judge(visa).controlled_datasets == frozenset({"ds1"})


@pytest.mark.parametrize(
    "status",
    [
        replace(STATUS, by="self"),
        replace(STATUS, value="https://example.org/some-other-policy"),
        replace(STATUS, subject="bob"),
    ],
)
def test_researcher_status_that_does_not_count(status: Visa) -> None:
    assert judge(TERMS, status).bona_fide is False


def test_parse_visa() -> None:
    claims = {
        "iss": DAC,
        "sub": "alice",
        "exp": NOW + 100,
        "ga4gh_visa_v1": {
            "type": "ControlledAccessGrants",
            "value": "https://beacon.example.org/datasets/ds1",
            "source": "https://dac.example.org",
            "by": "dac",
            "asserted": NOW - 100,
        },
    }
    assert parse_visa(claims) == GRANT
    body = claims["ga4gh_visa_v1"]
    assert isinstance(body, dict)
    for broken in (
        {**body, "asserted": "yesterday"},
        {**body, "asserted": True},
        {**body, "value": ""},
        {**body, "source": None},
        {**body, "by": 3},
        "not an object",
    ):
        assert parse_visa({**claims, "ga4gh_visa_v1": broken}) is None
