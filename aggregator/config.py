"""The network's configuration: ``network.toml`` parsed once into a frozen :class:`NetworkConfig`.

Units are in the names (``_s`` seconds, ``_bytes`` bytes). Every key is documented in
``docs/aggregator.md``; a test keeps the two in step. :func:`parse_config` is pure and raises
:class:`ConfigError` naming the offending key; :func:`load_config` only adds the file read.

Example::

    [network]
    id = "org.example.network"
    name = "Example network"
    overall_timeout_s = 5.0

    [[members]]
    id = "site-a"
    url = "https://beacon.site-a.example/api"
    api = "v2"
    timeout_s = 2.0
    forward_token = true
    assemblies = ["GRCh38"]
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from beacon import normalize
from beacon.errors import InvalidRequest


class ConfigError(ValueError):
    """The configuration cannot be used; ``key`` names the offending setting."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class MemberApi(enum.StrEnum):
    """Which Beacon API a member speaks."""

    V2 = "v2"
    V1 = "v1"


@dataclass(frozen=True, slots=True)
class MemberConfig:
    """One member beacon as configured.

    ``url`` is the member's API root (``/info``, ``/g_variants`` are below it; for v1 members
    ``/`` is the info document and ``/query`` the query). ``assemblies`` empty means "learn them
    from the member's map/datasets"; configured ones take precedence.
    """

    id: str
    url: str
    api: MemberApi = MemberApi.V2
    name: str | None = None
    timeout_s: float = 2.0
    forward_token: bool = False
    assemblies: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """The aggregator's settings and its member list."""

    id: str = "org.example.network"
    name: str = "Beacon network"
    description: str = ""
    organization_id: str = "org.example"
    organization_name: str = "Example organisation"
    welcome_url: str | None = None
    environment: str = "dev"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    overall_timeout_s: float = 5.0
    """Deadline for the whole fan-out; a member still running then is reported as timed out."""
    max_response_bytes: int = 4 * 1024 * 1024
    """Largest member response body read; a larger one is an error for that member."""
    max_body_bytes: int = 64 * 1024
    """Largest request body the aggregator accepts from its own callers."""
    verify_tls: bool = True
    ca_file: Path | None = None
    connections_per_member: int = 64
    breaker_failures: int = 3
    """Consecutive failures (timeouts, refused connections, 5xx, garbage) that open a breaker."""
    breaker_reset_s: float = 30.0
    """How long an open breaker skips its member before letting one probe through."""
    hedge: bool = True
    """Send a second request to a member that is slower than usual (:mod:`aggregator.hedge`)."""
    hedge_quantile: float = 0.95
    """A call still running after this quantile of the member's recent answer times is hedged."""
    hedge_max_share: float = 0.1
    """At most this share of a member's calls get a second request."""
    refresh_interval_s: float = 300.0
    """How often members' info/configuration/map are fetched again (0 = only at start)."""
    schema_dir: Path | None = None
    """Folder of the official Beacon v2 JSON Schemas; members' documents are validated
    against them when set, against the built-in structural checks always."""
    max_hops: int = 4
    """Deepest chain of nested aggregators a query may travel."""
    cors_origins: tuple[str, ...] = ("*",)
    members: tuple[MemberConfig, ...] = ()

    def member(self, member_id: str) -> MemberConfig | None:
        return next((m for m in self.members if m.id == member_id), None)


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

NETWORK_KEYS = frozenset(
    {
        "id",
        "name",
        "description",
        "organization_id",
        "organization_name",
        "welcome_url",
        "environment",
        "host",
        "port",
        "workers",
        "overall_timeout_s",
        "max_response_bytes",
        "max_body_bytes",
        "verify_tls",
        "ca_file",
        "connections_per_member",
        "breaker_failures",
        "breaker_reset_s",
        "hedge",
        "hedge_quantile",
        "hedge_max_share",
        "refresh_interval_s",
        "schema_dir",
        "max_hops",
        "cors_origins",
    }
)
MEMBER_KEYS = frozenset(
    {"id", "url", "api", "name", "timeout_s", "forward_token", "assemblies", "enabled"}
)


def _str(table: Mapping[str, Any], key: str, where: str, default: str | None) -> str | None:
    value = table.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ConfigError("must be a string", key=f"{where}{key}")
    return value


def _number(table: Mapping[str, Any], key: str, where: str, default: float, *, low: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError("must be a number", key=f"{where}{key}")
    if value < low:
        raise ConfigError(f"must be at least {low}", key=f"{where}{key}")
    return float(value)


def _int(table: Mapping[str, Any], key: str, where: str, default: int, *, low: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError("must be an integer", key=f"{where}{key}")
    if value < low:
        raise ConfigError(f"must be at least {low}", key=f"{where}{key}")
    return value


def _bool(table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", key=f"{where}{key}")
    return value


def _unknown_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError("unknown setting", key=f"{where}{key}")


def _member(raw: Any, index: int) -> MemberConfig:
    where = f"members[{index}]."
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", key=f"members[{index}]")
    _unknown_keys(raw, MEMBER_KEYS, where)
    member_id = _str(raw, "id", where, None)
    if member_id is None or not _ID.match(member_id):
        raise ConfigError("must be a short identifier ([A-Za-z0-9._:-])", key=f"{where}id")
    url = _str(raw, "url", where, None)
    if url is None:
        raise ConfigError("is required", key=f"{where}url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("must be an http(s) URL", key=f"{where}url")
    api_raw = _str(raw, "api", where, "v2") or "v2"
    try:
        api = MemberApi(api_raw)
    except ValueError as exc:
        raise ConfigError('must be "v2" or "v1"', key=f"{where}api") from exc
    assemblies_raw = raw.get("assemblies", [])
    if not isinstance(assemblies_raw, list) or not all(isinstance(a, str) for a in assemblies_raw):
        raise ConfigError("must be a list of assembly names", key=f"{where}assemblies")
    try:
        assemblies = tuple(dict.fromkeys(normalize.assembly(a) for a in assemblies_raw))
    except InvalidRequest as exc:
        raise ConfigError(exc.message, key=f"{where}assemblies") from exc
    return MemberConfig(
        id=member_id,
        url=url.rstrip("/"),
        api=api,
        name=_str(raw, "name", where, None),
        timeout_s=_number(raw, "timeout_s", where, 2.0, low=0.001),
        forward_token=_bool(raw, "forward_token", where, False),
        assemblies=assemblies,
        enabled=_bool(raw, "enabled", where, True),
    )


def _path(value: str | None, base: Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def parse_config(document: Mapping[str, Any], *, base_dir: Path | None = None) -> NetworkConfig:
    """Build a :class:`NetworkConfig` from a parsed TOML document.

    Relative paths (``ca_file``, ``schema_dir``) are taken relative to ``base_dir``. Raises
    :class:`ConfigError` for unknown keys, wrong types, duplicate member ids or URLs.
    """
    _unknown_keys(document, frozenset({"network", "members"}), "")
    network = document.get("network", {})
    if not isinstance(network, Mapping):
        raise ConfigError("must be a table", key="network")
    _unknown_keys(network, NETWORK_KEYS, "network.")
    members_raw = document.get("members", [])
    if not isinstance(members_raw, list):
        raise ConfigError("must be an array of tables ([[members]])", key="members")
    members = tuple(_member(raw, i) for i, raw in enumerate(members_raw))
    seen_ids: set[str] = set()
    seen_urls: set[str] = set()
    for i, m in enumerate(members):
        if m.id in seen_ids:
            raise ConfigError(f"duplicate member id {m.id!r}", key=f"members[{i}].id")
        if m.url in seen_urls:
            raise ConfigError(f"duplicate member url {m.url!r}", key=f"members[{i}].url")
        seen_ids.add(m.id)
        seen_urls.add(m.url)
    w = "network."
    d = NetworkConfig()
    network_id = _str(network, "id", w, d.id)
    assert network_id is not None
    if not _ID.match(network_id):
        raise ConfigError("must be a short identifier ([A-Za-z0-9._:-])", key="network.id")
    hedge_quantile = _number(network, "hedge_quantile", w, d.hedge_quantile, low=0.01)
    if hedge_quantile >= 1.0:
        raise ConfigError("must be below 1 (for example 0.95)", key="network.hedge_quantile")
    hedge_max_share = _number(network, "hedge_max_share", w, d.hedge_max_share, low=0.0)
    if hedge_max_share > 1.0:
        raise ConfigError("must be between 0 and 1", key="network.hedge_max_share")
    origins = network.get("cors_origins", list(d.cors_origins))
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ConfigError("must be a list of origins", key="network.cors_origins")
    return NetworkConfig(
        id=network_id,
        name=_str(network, "name", w, d.name) or d.name,
        description=_str(network, "description", w, d.description) or "",
        organization_id=_str(network, "organization_id", w, d.organization_id) or d.organization_id,
        organization_name=_str(network, "organization_name", w, d.organization_name)
        or d.organization_name,
        welcome_url=_str(network, "welcome_url", w, None),
        environment=_str(network, "environment", w, d.environment) or d.environment,
        host=_str(network, "host", w, d.host) or d.host,
        port=_int(network, "port", w, d.port, low=0),
        workers=_int(network, "workers", w, d.workers, low=1),
        overall_timeout_s=_number(network, "overall_timeout_s", w, d.overall_timeout_s, low=0.001),
        max_response_bytes=_int(network, "max_response_bytes", w, d.max_response_bytes, low=1024),
        max_body_bytes=_int(network, "max_body_bytes", w, d.max_body_bytes, low=1024),
        verify_tls=_bool(network, "verify_tls", w, d.verify_tls),
        ca_file=_path(_str(network, "ca_file", w, None), base_dir),
        connections_per_member=_int(
            network, "connections_per_member", w, d.connections_per_member, low=1
        ),
        breaker_failures=_int(network, "breaker_failures", w, d.breaker_failures, low=1),
        breaker_reset_s=_number(network, "breaker_reset_s", w, d.breaker_reset_s, low=0.0),
        hedge=_bool(network, "hedge", w, d.hedge),
        hedge_quantile=hedge_quantile,
        hedge_max_share=hedge_max_share,
        refresh_interval_s=_number(network, "refresh_interval_s", w, d.refresh_interval_s, low=0.0),
        schema_dir=_path(_str(network, "schema_dir", w, None), base_dir),
        max_hops=_int(network, "max_hops", w, d.max_hops, low=1),
        cors_origins=tuple(origins),
        members=members,
    )


def load_config(path: Path) -> NetworkConfig:
    """Read and parse ``path`` (TOML). Raises :class:`ConfigError` (key ``file``) when the
    file cannot be read or is not TOML, else as :func:`parse_config`."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", key="file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", key="file") from exc
    return parse_config(document, base_dir=path.parent)
