"""Who the beacon trusts: token issuers, visa issuers, and how visas map to datasets.

Parsed once, at start-up, from the trusted-issuers file (TOML or JSON, see ``docs/access.md``)
into frozen objects. Parsing is pure; :func:`load_auth_config` only adds reading the file.
Every error is an :class:`beacon.errors.InvalidRequest` naming the offending key, so a
misconfigured beacon refuses to start instead of accepting tokens it should not.
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from beacon.errors import InvalidRequest

# Asymmetric JWS algorithms only. "none" and the HMAC family (HS*) are never accepted: an HMAC
# "verified" with an issuer's public key proves nothing, since everybody holds that key.
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256", "PS256", "ES256", "RS384", "PS384", "ES384")

# The Registered Access bona fide researcher definition (Dyke et al. 2018, EJHG), the value
# ELIXIR / Life Science AAI assert for both visa types.
BONA_FIDE_POLICY = "https://doi.org/10.1038/s41431-018-0219-y"

# Who may assert each visa type for it to count. A grant or a researcher status asserted by
# the user ("self") is worthless; accepting terms is, by nature, something the user does.
DEFAULT_GRANT_BY: tuple[str, ...] = ("dac", "so", "system")
DEFAULT_STATUS_BY: tuple[str, ...] = ("so", "system", "peer")
DEFAULT_TERMS_BY: tuple[str, ...] = ("self", "so", "system", "dac", "peer")


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    """An OIDC provider whose bearer tokens the beacon accepts.

    ``issuer`` is compared byte for byte with the token's ``iss`` and with the ``issuer`` of
    its discovery document. ``audiences``: the token's ``aud`` must contain one of them.
    ``userinfo``: when the token carries no ``ga4gh_passport_v1`` claim, ask the issuer's
    userinfo endpoint for it.
    """

    issuer: str
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    jwks_uri: str | None = None
    userinfo: bool = False


@dataclass(frozen=True, slots=True)
class VisaIssuer:
    """A broker or data access committee whose signed visas the beacon believes.

    ``datasets``: the full dataset identifiers this issuer may grant (``None``: any of ours).
    ``require_same_subject``: the visa's ``sub`` must equal the token's.
    """

    issuer: str
    algorithms: tuple[str, ...]
    jwks_uri: str | None = None
    datasets: frozenset[str] | None = None
    require_same_subject: bool = True


@dataclass(frozen=True, slots=True)
class BonaFidePolicy:
    """Which ``AcceptedTermsAndPolicies`` and ``ResearcherStatus`` visas make a registered user."""

    accepted_terms: frozenset[str] = frozenset({BONA_FIDE_POLICY})
    researcher_status: frozenset[str] = frozenset({BONA_FIDE_POLICY})
    terms_by: frozenset[str] = frozenset(DEFAULT_TERMS_BY)
    status_by: frozenset[str] = frozenset(DEFAULT_STATUS_BY)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Everything the OIDC / Passport authenticator needs, validated.

    ``dataset_identifiers`` maps a dataset's full identifier (as a ControlledAccessGrants visa
    names it) to our dataset id; ``dataset_identifier_base`` adds ``base + id`` for every id.
    Times are seconds.
    """

    token_issuers: tuple[TokenIssuer, ...]
    visa_issuers: tuple[VisaIssuer, ...] = ()
    dataset_identifiers: Mapping[str, str] | None = None
    dataset_identifier_base: str | None = None
    bona_fide: BonaFidePolicy = BonaFidePolicy()
    grant_by: frozenset[str] = frozenset(DEFAULT_GRANT_BY)
    registered_requires_bona_fide: bool = True
    leeway_s: float = 30.0
    http_timeout_s: float = 5.0
    jwks_min_refresh_interval_s: float = 60.0
    jwks_max_age_s: float = 3600.0
    userinfo_cache_s: float = 60.0
    max_token_bytes: int = 64 * 1024
    max_visas: int = 200

    def token_issuer(self, iss: str) -> TokenIssuer | None:
        """The configured token issuer named exactly ``iss``, if any."""
        return next((i for i in self.token_issuers if i.issuer == iss), None)

    def visa_issuer(self, iss: str) -> VisaIssuer | None:
        """The configured visa issuer named exactly ``iss``, if any."""
        return next((i for i in self.visa_issuers if i.issuer == iss), None)

    def dataset_for_identifier(self, identifier: str) -> str | None:
        """Our dataset id for a grant's full ``identifier``; exact matches only, never suffixes."""
        explicit = (self.dataset_identifiers or {}).get(identifier)
        if explicit is not None:
            return explicit
        base = self.dataset_identifier_base
        if base and identifier.startswith(base):
            rest = identifier[len(base) :]
            if rest and _is_dataset_id(rest):
                return rest
        return None


def _is_dataset_id(value: str) -> bool:
    # Same shape as the dataset table's CHECK: no slashes, queries or fragments can sneak in.
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
    return 0 < len(value) <= 128 and value[0].isalnum() and set(value) <= allowed


def is_loopback_url(url: str) -> bool:
    """``True`` when ``url``'s host is a loopback address or ``localhost``."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_fetch_url(url: str, key: str) -> str:
    """``url`` if it is https, or plain http to a loopback host; else InvalidRequest on ``key``."""
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in {"https", "http"}:
        raise InvalidRequest(f"{key} must be an absolute https URL, got {url!r}", parameter=key)
    if parts.scheme == "http" and not is_loopback_url(url):
        raise InvalidRequest(f"{key} must use https (plain http only on loopback)", parameter=key)
    return url


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"{key} must be a string or a list of strings", parameter=key)
    return tuple(value)


def _algorithms(value: Any, key: str) -> tuple[str, ...]:
    algorithms = _strings(value, key)
    bad = [a for a in algorithms if a not in SUPPORTED_ALGORITHMS]
    if bad or not algorithms:
        raise InvalidRequest(
            f"{key}: unsupported algorithm(s) {bad}; allowed: {sorted(SUPPORTED_ALGORITHMS)}",
            parameter=key,
        )
    return algorithms


def _bool(table: Mapping[str, Any], name: str, default: bool, key: str) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{key}.{name} must be true or false", parameter=f"{key}.{name}")
    return value


def _seconds(table: Mapping[str, Any], name: str, default: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidRequest(f"{name} must be a non-negative number of seconds", parameter=name)
    return float(value)


def _only_keys(table: Mapping[str, Any], allowed: Iterable[str], key: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise InvalidRequest(f"{key}: unknown setting(s) {unknown}", parameter=key)


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{key} must be a table", parameter=key)
    return value


def _issuer_url(table: Mapping[str, Any], key: str) -> str:
    issuer = table.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidRequest(f"{key}.issuer is required", parameter=f"{key}.issuer")
    return check_fetch_url(issuer, f"{key}.issuer")


_TOP_KEYS = (
    "issuers",
    "visa_issuers",
    "datasets",
    "dataset_identifier_base",
    "bona_fide",
    "grant_by",
    "registered_requires_bona_fide",
    "audience",
    "algorithms",
    "leeway_s",
    "http_timeout_s",
    "jwks_min_refresh_interval_s",
    "jwks_max_age_s",
    "userinfo_cache_s",
)


def parse_auth_config(
    data: Mapping[str, Any],
    *,
    audience: tuple[str, ...] = (),
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
    leeway_s: float | None = None,
    http_timeout_s: float | None = None,
) -> AuthConfig:
    """Validate the trusted-issuers document ``data`` into an :class:`AuthConfig`. Pure.

    ``audience``/``algorithms``/``leeway_s``/``http_timeout_s`` are the environment's values;
    the file's top-level keys override them and each issuer may override audience and
    algorithms. Raises :class:`InvalidRequest` naming the key for anything invalid, including
    a token issuer left without an audience.
    """
    _only_keys(data, _TOP_KEYS, "trusted issuers")
    if "audience" in data:
        audience = _strings(data["audience"], "audience")
    if "algorithms" in data:
        algorithms = _algorithms(data["algorithms"], "algorithms")
    else:
        algorithms = _algorithms(list(algorithms), "BEACON_AUTH_ALGORITHMS")

    issuers_raw = data.get("issuers", [])
    if not isinstance(issuers_raw, list):
        raise InvalidRequest("issuers must be a list of tables", parameter="issuers")
    token_issuers = []
    for n, raw in enumerate(issuers_raw):
        key = f"issuers[{n}]"
        table = _table(raw, key)
        _only_keys(table, ("issuer", "audience", "algorithms", "jwks_uri", "userinfo"), key)
        aud = _strings(table["audience"], f"{key}.audience") if "audience" in table else audience
        if not aud:
            raise InvalidRequest(
                f"{key}: no audience configured (set BEACON_AUDIENCE or {key}.audience); "
                "without one, tokens minted for any other service would be accepted",
                parameter=f"{key}.audience",
            )
        token_issuers.append(
            TokenIssuer(
                issuer=_issuer_url(table, key),
                audiences=aud,
                algorithms=_algorithms(table["algorithms"], f"{key}.algorithms")
                if "algorithms" in table
                else algorithms,
                jwks_uri=_optional_url(table, "jwks_uri", key),
                userinfo=_bool(table, "userinfo", False, key),
            )
        )

    if not token_issuers:
        raise InvalidRequest("no token issuers configured ([[issuers]])", parameter="issuers")

    visas_raw = data.get("visa_issuers", [])
    if not isinstance(visas_raw, list):
        raise InvalidRequest("visa_issuers must be a list of tables", parameter="visa_issuers")
    visa_issuers = []
    for n, raw in enumerate(visas_raw):
        key = f"visa_issuers[{n}]"
        table = _table(raw, key)
        _only_keys(
            table, ("issuer", "algorithms", "jwks_uri", "datasets", "require_same_subject"), key
        )
        visa_issuers.append(
            VisaIssuer(
                issuer=_issuer_url(table, key),
                algorithms=_algorithms(table["algorithms"], f"{key}.algorithms")
                if "algorithms" in table
                else algorithms,
                jwks_uri=_optional_url(table, "jwks_uri", key),
                datasets=frozenset(_strings(table["datasets"], f"{key}.datasets"))
                if "datasets" in table
                else None,
                require_same_subject=_bool(table, "require_same_subject", True, key),
            )
        )

    datasets_raw = _table(data.get("datasets", {}), "datasets")
    identifiers: dict[str, str] = {}
    for identifier, dataset_id in datasets_raw.items():
        if not isinstance(dataset_id, str) or not _is_dataset_id(dataset_id):
            raise InvalidRequest(
                f"datasets[{identifier!r}] must be a dataset id", parameter="datasets"
            )
        identifiers[identifier] = dataset_id

    base = data.get("dataset_identifier_base")
    if base is not None and (not isinstance(base, str) or not urlsplit(base).scheme):
        raise InvalidRequest(
            "dataset_identifier_base must be an absolute URL such as "
            "'https://beacon.example.org/datasets/'",
            parameter="dataset_identifier_base",
        )

    bona_fide_table = _table(data.get("bona_fide", {}), "bona_fide")
    _only_keys(
        bona_fide_table,
        ("accepted_terms", "researcher_status", "terms_by", "status_by"),
        "bona_fide",
    )
    d = BonaFidePolicy()
    bona_fide = BonaFidePolicy(
        accepted_terms=_set(bona_fide_table, "accepted_terms", d.accepted_terms),
        researcher_status=_set(bona_fide_table, "researcher_status", d.researcher_status),
        terms_by=_set(bona_fide_table, "terms_by", d.terms_by),
        status_by=_set(bona_fide_table, "status_by", d.status_by),
    )
    defaults = AuthConfig(token_issuers=())
    return AuthConfig(
        token_issuers=tuple(token_issuers),
        visa_issuers=tuple(visa_issuers),
        dataset_identifiers=identifiers,
        dataset_identifier_base=base,
        bona_fide=bona_fide,
        grant_by=frozenset(_strings(data["grant_by"], "grant_by"))
        if "grant_by" in data
        else defaults.grant_by,
        registered_requires_bona_fide=_bool(
            data, "registered_requires_bona_fide", True, "trusted issuers"
        ),
        leeway_s=_seconds(data, "leeway_s", leeway_s if leeway_s is not None else 30.0),
        http_timeout_s=_seconds(
            data, "http_timeout_s", http_timeout_s if http_timeout_s is not None else 5.0
        ),
        jwks_min_refresh_interval_s=_seconds(
            data, "jwks_min_refresh_interval_s", defaults.jwks_min_refresh_interval_s
        ),
        jwks_max_age_s=_seconds(data, "jwks_max_age_s", defaults.jwks_max_age_s),
        userinfo_cache_s=_seconds(data, "userinfo_cache_s", defaults.userinfo_cache_s),
    )


def _optional_url(table: Mapping[str, Any], name: str, key: str) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{key}.{name} must be a URL string", parameter=f"{key}.{name}")
    return check_fetch_url(value, f"{key}.{name}")


def _set(table: Mapping[str, Any], name: str, default: frozenset[str]) -> frozenset[str]:
    if name not in table:
        return default
    return frozenset(_strings(table[name], f"bona_fide.{name}"))


def load_auth_config(
    path: Path,
    *,
    audience: tuple[str, ...] = (),
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
    leeway_s: float | None = None,
    http_timeout_s: float | None = None,
) -> AuthConfig:
    """Read and validate the trusted-issuers file (``.json``, else TOML) at ``path``.

    Raises :class:`InvalidRequest` (parameter ``BEACON_TRUSTED_ISSUERS``) when the file cannot
    be read or parsed, and as :func:`parse_auth_config` for invalid content.
    """
    key = "BEACON_TRUSTED_ISSUERS"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"{key}: cannot read {path}: {exc.strerror}", parameter=key) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidRequest(f"{key}: {path} does not parse: {exc}", parameter=key) from exc
    if not isinstance(data, dict):
        raise InvalidRequest(f"{key}: {path} must hold a table / object", parameter=key)
    return parse_auth_config(
        data,
        audience=audience,
        algorithms=algorithms,
        leeway_s=leeway_s,
        http_timeout_s=http_timeout_s,
    )
