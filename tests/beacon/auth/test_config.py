"""The trusted-issuers file: what an operator may write, and what refuses to start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from beacon.access import AnonymousAuthenticator
from beacon.auth import OidcAuthenticator, authenticator_from_settings, close_authenticator
from beacon.auth.config import load_auth_config, parse_auth_config
from beacon.config import load_settings
from beacon.errors import InvalidRequest

ISSUER = "https://login.example.org/oidc/"
AUD = ("https://beacon.example.org",)


def _doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"issuers": [{"issuer": ISSUER}]}
    doc.update(over)
    return doc


def test_minimal_document_with_audience_from_environment() -> None:
    config = parse_auth_config(_doc(), audience=AUD)
    issuer = config.token_issuer(ISSUER)
    assert issuer is not None
    assert issuer.audiences == AUD
    assert "none" not in issuer.algorithms
    assert not any(a.startswith("HS") for a in issuer.algorithms)
    assert config.token_issuer(ISSUER.rstrip("/")) is None  # exact match only


@pytest.mark.parametrize(
    ("doc", "parameter"),
    [
        (_doc(), "issuers[0].audience"),
        (_doc(audience="x", algorithms=["HS256"]), "algorithms"),
        (_doc(audience="x", algorithms=["none"]), "algorithms"),
        (_doc(audience="x", algorithms=[]), "algorithms"),
        ({"audience": "x", "issuers": [{"issuer": ISSUER, "algorithms": "HS512"}]}, None),
        ({"audience": "x", "issuers": [{"issuer": "http://login.example.org"}]}, None),
        ({"audience": "x", "issuers": [{"issuer": "login.example.org"}]}, None),
        ({"audience": "x", "issuers": [{}]}, "issuers[0].issuer"),
        ({"audience": "x", "issuers": [{"issuer": ISSUER, "jwks_url": "typo"}]}, "issuers[0]"),
        (_doc(audience="x", visa_issuers=[{"issuer": ISSUER, "jwks_uri": "http://x.org/j"}]), None),
        (_doc(audience="x", datasets={"https://doi.org/x": "bad/id"}), "datasets"),
        (_doc(audience="x", dataset_identifier_base="beacon.example.org"), None),
        (_doc(audience="x", leeway_s=-1), "leeway_s"),
        (_doc(audience="x", unknown=1), "trusted issuers"),
    ],
)
def test_invalid_documents_are_refused(doc: dict[str, Any], parameter: str | None) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_auth_config(doc)
    if parameter is not None:
        assert err.value.parameter == parameter


def test_loopback_issuers_may_use_plain_http() -> None:
    config = parse_auth_config({"audience": "x", "issuers": [{"issuer": "http://127.0.0.1:8080"}]})
    assert config.token_issuers[0].issuer == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("identifier", "dataset_id"),
    [
        ("https://beacon.example.org/datasets/ds1", "ds1"),
        ("https://doi.org/10.1000/legacy", "legacy"),
        ("https://other.example.org/datasets/ds1", None),
        ("ds1", None),
        ("https://beacon.example.org/datasets/", None),
        ("https://beacon.example.org/datasets/ds1/extra", None),
        ("https://beacon.example.org/datasets/ds1?x=1", None),
        ("https://beacon.example.org/datasets/ds1#x", None),
        ("https://beacon.example.org/datasets/../ds1", None),
        ("HTTPS://BEACON.EXAMPLE.ORG/datasets/ds1", None),
    ],
)
def test_grants_map_by_full_identifier_only(identifier: str, dataset_id: str | None) -> None:
    config = parse_auth_config(
        _doc(
            audience="x",
            dataset_identifier_base="https://beacon.example.org/datasets/",
            datasets={"https://doi.org/10.1000/legacy": "legacy"},
        )
    )
    assert config.dataset_for_identifier(identifier) == dataset_id


def test_toml_and_json_files(tmp_path: Path) -> None:
    toml = tmp_path / "issuers.toml"
    toml.write_text(
        f'audience = "https://beacon.example.org"\n'
        f'dataset_identifier_base = "https://beacon.example.org/datasets/"\n'
        f'[[issuers]]\nissuer = "{ISSUER}"\nuserinfo = true\n'
        f'[[visa_issuers]]\nissuer = "{ISSUER}"\n'
        f'datasets = ["https://beacon.example.org/datasets/ds1"]\n'
        f'[bona_fide]\nstatus_by = ["so"]\n'
    )
    from_toml = load_auth_config(toml)
    js = tmp_path / "issuers.json"
    js.write_text(
        json.dumps(
            {
                "audience": "https://beacon.example.org",
                "dataset_identifier_base": "https://beacon.example.org/datasets/",
                "issuers": [{"issuer": ISSUER, "userinfo": True}],
                "visa_issuers": [
                    {"issuer": ISSUER, "datasets": ["https://beacon.example.org/datasets/ds1"]}
                ],
                "bona_fide": {"status_by": ["so"]},
            }
        )
    )
    assert load_auth_config(js) == from_toml
    assert from_toml.token_issuers[0].userinfo is True
    assert from_toml.bona_fide.status_by == frozenset({"so"})


@pytest.mark.parametrize(
    ("content", "parameter"),
    [
        ("[[issuers]\n", "BEACON_TRUSTED_ISSUERS"),
        ("not = [valid", "BEACON_TRUSTED_ISSUERS"),
        ("", "issuers"),
    ],
)
def test_unusable_file_names_the_setting(tmp_path: Path, content: str, parameter: str) -> None:
    path = tmp_path / "issuers.toml"
    path.write_text(content)
    with pytest.raises(InvalidRequest) as err:
        load_auth_config(path)
    assert err.value.parameter == parameter


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as err:
        load_auth_config(tmp_path / "absent.toml")
    assert err.value.parameter == "BEACON_TRUSTED_ISSUERS"


async def test_authenticator_from_settings(tmp_path: Path) -> None:
    assert isinstance(authenticator_from_settings(load_settings({})), AnonymousAuthenticator)
    path = tmp_path / "issuers.toml"
    path.write_text(f'[[issuers]]\nissuer = "{ISSUER}"\n')
    env = {
        "BEACON_TRUSTED_ISSUERS": str(path),
        "BEACON_AUDIENCE": "https://beacon.example.org, https://beacon2.example.org",
        "BEACON_AUTH_ALGORITHMS": "ES256",
        "BEACON_AUTH_LEEWAY_S": "10",
    }
    auth = authenticator_from_settings(load_settings(env))
    assert isinstance(auth, OidcAuthenticator)
    issuer = auth.config.token_issuers[0]
    assert issuer.audiences == ("https://beacon.example.org", "https://beacon2.example.org")
    assert issuer.algorithms == ("ES256",)
    assert auth.config.leeway_s == 10
    await close_authenticator(auth)
    with pytest.raises(InvalidRequest):
        authenticator_from_settings(load_settings({**env, "BEACON_AUTH_ALGORITHMS": "RS256,HS256"}))
    with pytest.raises(InvalidRequest):  # no audience anywhere: refuse to start
        authenticator_from_settings(load_settings({"BEACON_TRUSTED_ISSUERS": str(path)}))


@pytest.mark.parametrize("content", [None, "[[token_issuers]]\nissuer = 42\n", "not toml ["])
def test_serve_stops_before_starting_with_a_bad_issuers_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
) -> None:
    from beacon.cli import main

    path = tmp_path / "issuers.toml"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("BEACON_TRUSTED_ISSUERS", str(path))
    # an unreachable database: the check must come before any attempt to use it
    monkeypatch.setenv("BEACON_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    assert main(["serve", "--port", "0"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("beacon: ")
    assert "trusted issuers" in err.lower().replace("_", " ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
