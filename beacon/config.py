"""Frozen settings for one beacon, built from the environment by :func:`load_settings`.

Nothing reads the environment at import time; callers pass a mapping (``os.environ`` in the
CLI, a literal dict in tests). Every setting is documented in ``docs/configuration.md``; a
test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from beacon.client_address import Network, parse_networks
from beacon.errors import InvalidRequest
from beacon.policy import QueryBudget, load_budget


def default_data_dir() -> Path:
    """Per-user data directory: ``$XDG_DATA_HOME/beacon-network`` or ``~/.local/share/...``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "beacon-network"


@dataclass(frozen=True, slots=True)
class Settings:
    """Settings of one beacon process. Units are in the names (``_s`` seconds, ``_bytes``)."""

    database_url: str | None = None
    """``postgresql://...`` DSN; ``None`` selects the embedded PostgreSQL under ``data_dir``."""
    data_dir: Path = Path(".data")
    beacon_id: str = "org.example.beacon"
    beacon_name: str = "Beacon"
    organization_id: str = "org.example"
    organization_name: str = "Example organisation"
    welcome_url: str | None = None
    environment: str = "dev"
    host: str = "127.0.0.1"
    port: int = 5050
    workers: int = 1
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_query_timeout_s: float = 5.0
    db_coalesce: int = 8
    """Most identical variant lookups sent as one statement (1: never combined)."""
    exact_index_max_alleles: int = 2_000_000
    """Most stored alleles each worker keeps in memory for exact lookups (0: none)."""
    max_body_bytes: int = 64 * 1024
    cors_origins: tuple[str, ...] = ("*",)
    log_level: str = "INFO"
    trusted_issuers_file: Path | None = None
    """TOML/JSON file of trusted token and visa issuers; ``None`` = every caller anonymous."""
    auth_audience: tuple[str, ...] = ()
    auth_algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256", "RS384", "PS384", "ES384")
    auth_leeway_s: float = 30.0
    auth_http_timeout_s: float = 5.0
    query_budget: QueryBudget = field(default_factory=QueryBudget)
    """Queries per identity and window, per tier (``BEACON_BUDGET_*``, see docs/access.md)."""
    audit_log: bool = True
    """Record every answered query in the audit log (``BEACON_AUDIT_LOG=off`` disables)."""
    trusted_proxies: tuple[Network, ...] = ()
    """Reverse proxies whose ``X-Forwarded-For`` names the client (``beacon.client_address``);
    empty: the peer address is the client."""


_ENV_PREFIX = "BEACON_"


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{key} must be an integer, got {raw!r}", parameter=key) from exc


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{key} must be a number, got {raw!r}", parameter=key) from exc


def _csv(env: Mapping[str, str], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    return tuple(v.strip() for v in raw.split(",") if v.strip())


def _networks(env: Mapping[str, str], key: str) -> tuple[Network, ...]:
    try:
        return parse_networks(_csv(env, key, ()))
    except ValueError as exc:
        raise InvalidRequest(f"{key}: {exc}", parameter=key) from exc


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from ``BEACON_*`` variables in ``env``.

    Raises :class:`InvalidRequest` (naming the variable) for values that do not parse.
    """
    d = Settings()
    data_dir = env.get("BEACON_DATA_DIR")
    origins = env.get("BEACON_CORS_ORIGINS")
    return Settings(
        database_url=env.get("BEACON_DATABASE_URL") or None,
        data_dir=Path(data_dir) if data_dir else default_data_dir(),
        beacon_id=env.get("BEACON_ID", d.beacon_id),
        beacon_name=env.get("BEACON_NAME", d.beacon_name),
        organization_id=env.get("BEACON_ORGANIZATION_ID", d.organization_id),
        organization_name=env.get("BEACON_ORGANIZATION_NAME", d.organization_name),
        welcome_url=env.get("BEACON_WELCOME_URL") or None,
        environment=env.get("BEACON_ENVIRONMENT", d.environment),
        host=env.get("BEACON_HOST", d.host),
        port=_int(env, "BEACON_PORT", d.port),
        workers=_int(env, "BEACON_WORKERS", d.workers),
        db_pool_min=_int(env, "BEACON_DB_POOL_MIN", d.db_pool_min),
        db_pool_max=_int(env, "BEACON_DB_POOL_MAX", d.db_pool_max),
        db_query_timeout_s=_float(env, "BEACON_DB_QUERY_TIMEOUT_S", d.db_query_timeout_s),
        db_coalesce=_int(env, "BEACON_DB_COALESCE", d.db_coalesce),
        exact_index_max_alleles=_int(
            env, "BEACON_EXACT_INDEX_MAX_ALLELES", d.exact_index_max_alleles
        ),
        max_body_bytes=_int(env, "BEACON_MAX_BODY_BYTES", d.max_body_bytes),
        cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip())
        if origins
        else d.cors_origins,
        log_level=env.get("BEACON_LOG_LEVEL", d.log_level).upper(),
        trusted_issuers_file=Path(env["BEACON_TRUSTED_ISSUERS"])
        if env.get("BEACON_TRUSTED_ISSUERS")
        else None,
        auth_audience=_csv(env, "BEACON_AUDIENCE", d.auth_audience),
        auth_algorithms=_csv(env, "BEACON_AUTH_ALGORITHMS", d.auth_algorithms),
        auth_leeway_s=_float(env, "BEACON_AUTH_LEEWAY_S", d.auth_leeway_s),
        auth_http_timeout_s=_float(env, "BEACON_AUTH_HTTP_TIMEOUT_S", d.auth_http_timeout_s),
        query_budget=load_budget(env),
        audit_log=env.get("BEACON_AUDIT_LOG", "on").strip().lower() not in {"off", "0", "false"},
        trusted_proxies=_networks(env, "BEACON_TRUSTED_PROXIES"),
    )
