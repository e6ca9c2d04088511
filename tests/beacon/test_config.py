"""Every setting is documented in docs/configuration.md, and the documentation names no
setting that does not exist."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from beacon import config
from beacon.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "configuration.md").read_text()


def _code_variables() -> set[str]:
    sources = [Path(config.__file__).read_text()]
    # Settings parsed by helpers outside config.py (the query budget) name their variables too.
    from beacon import policy

    sources.append(Path(policy.__file__).read_text())
    found = set()
    for source in sources:
        # env.get("X"), env["X"], helper(env, "X"): the variables actually read
        found |= set(re.findall(r'env(?:\.get\(|\[|, )"(BEACON_[A-Z0-9_]+)"', source))
        for prefix in re.findall(r'f"(BEACON_[A-Z0-9_]+)\{', source):
            # f"BEACON_BUDGET_{tier.upper()}": documented per tier
            found |= {v for v in re.findall(r"`(BEACON_[A-Z0-9_]+)`", DOC) if v.startswith(prefix)}
    return found


def test_every_settings_field_is_documented() -> None:
    missing = [f.name for f in dataclasses.fields(Settings) if f"`{f.name}`" not in DOC]
    assert not missing, f"Settings fields missing from docs/configuration.md: {missing}"


def test_every_variable_is_documented_and_every_documented_variable_exists() -> None:
    in_code = _code_variables()
    documented = set(re.findall(r"`(BEACON_[A-Z0-9_]+)`", DOC))
    assert in_code - documented == set(), "undocumented variables"
    assert documented - in_code == set(), "documented variables the code does not read"


def test_documented_variables_are_read() -> None:
    env = {
        "BEACON_PORT": "6000",
        "BEACON_WORKERS": "2",
        "BEACON_DB_QUERY_TIMEOUT_S": "1.5",
        "BEACON_CORS_ORIGINS": "https://a.example, https://b.example",
        "BEACON_MAX_BODY_BYTES": "1000",
    }
    settings = load_settings(env)
    assert (settings.port, settings.workers, settings.db_query_timeout_s) == (6000, 2, 1.5)
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.max_body_bytes == 1000
