"""Disclosure policy: how much each access tier may learn from one dataset. Pure.

A dataset's :class:`DisclosurePolicy` says, per access tier, the highest
:class:`~beacon.model.Granularity` an answer may have, how low counts are reported, and how
many eligible participants must carry an allele before anonymous callers may learn that it
exists (k-anonymity, each allele's own threshold drawn above k from a keyed hash).
:class:`QueryBudget` says how many queries an identity may make per window. Nothing here
does I/O; storage and the web layer call these functions.

Counts follow the Beacon v2 (v2.2) ``countPrecision`` / ``countAdjustedTo`` convention:

* ``exact`` counts are reported as they are;
* with a *floor* of ``t``, a count ``0 < n < t`` is reported as ``t`` with precision
  ``imprecise`` and ``countAdjustedTo: [t]`` (the true value is between 1 and ``t``);
* with *rounding* to ``t``, a count ``n > 0`` is reported as the next multiple of ``t`` at or
  above ``n`` with precision ``rounded`` and ``countAdjustedTo: [t]`` (a non-zero count never
  becomes zero, so counts always agree with ``exists``).

A caller who may see records of a dataset could count them, so counts are adjusted only for
callers whose granularity on that dataset is below ``record``.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beacon.errors import InvalidRequest
from beacon.model import CountMode, DisclosurePolicy, Granularity

if TYPE_CHECKING:
    from beacon.access import Caller, Tier

__all__ = [
    "DEFAULT_POLICY",
    "OPEN_POLICY",
    "UNLIMITED_BUDGET",
    "AdjustedCount",
    "CountMode",
    "CountPrecision",
    "DisclosurePolicy",
    "QueryBudget",
    "adjust_count",
    "allele_draw",
    "allele_min_carriers",
    "budget_identity",
    "budget_limit",
    "combined_precision",
    "eligible_carriers",
    "hides_allele",
    "load_budget",
    "max_granularity",
    "policy_from_json",
    "policy_to_json",
]


class CountPrecision(enum.StrEnum):
    """Beacon v2 ``countPrecision`` of a reported count."""

    EXACT = "exact"
    IMPRECISE = "imprecise"
    ROUNDED = "rounded"


_TIERS = ("anonymous", "registered", "controlled")


DEFAULT_POLICY = DisclosurePolicy()
"""The protective default: anonymous boolean (k = 20), registered count (floor 5), controlled
record."""

OPEN_POLICY = DisclosurePolicy(
    anonymous=Granularity.RECORD,
    registered=Granularity.RECORD,
    controlled=Granularity.RECORD,
    count_mode=CountMode.EXACT,
    count_threshold=1,
    public_min_carriers=0,
    public_min_carriers_spread=0,
)
"""Everything a visible dataset holds, exactly (for open data such as public reference panels)."""


def max_granularity(policy: DisclosurePolicy, tier: Tier) -> Granularity:
    """The highest granularity ``policy`` allows callers of ``tier``."""
    if tier == "anonymous":
        return policy.anonymous
    if tier == "registered":
        return policy.registered
    return policy.controlled


@dataclass(frozen=True, slots=True)
class AdjustedCount:
    """A count as reported: ``value``, its ``precision``, and the threshold applied (or None)."""

    value: int
    precision: CountPrecision
    adjusted_to: int | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"countPrecision": ..., "countAdjustedTo": [t]}`` (the latter only if adjusted)."""
        out: dict[str, Any] = {"countPrecision": self.precision.value}
        if self.adjusted_to is not None:
            out["countAdjustedTo"] = [self.adjusted_to]
        return out


def adjust_count(count: int, policy: DisclosurePolicy, granularity: Granularity) -> AdjustedCount:
    """``count`` as a caller answered at ``granularity`` may see it.

    ``granularity`` is the caller's maximum on this dataset: at ``record`` counts are exact.
    Zero is always reported as zero. Raises ``ValueError`` for a negative count.
    """
    if count < 0:
        raise ValueError(f"a count cannot be negative: {count}")
    t = policy.count_threshold
    if count == 0 or granularity is Granularity.RECORD or policy.count_mode is CountMode.EXACT:
        return AdjustedCount(count, CountPrecision.EXACT)
    if policy.count_mode is CountMode.FLOOR:
        if count < t:
            return AdjustedCount(t, CountPrecision.IMPRECISE, t)
        return AdjustedCount(count, CountPrecision.EXACT)
    rounded = math.ceil(count / t) * t
    return AdjustedCount(rounded, CountPrecision.ROUNDED, t)


def combined_precision(counts: list[AdjustedCount]) -> AdjustedCount | None:
    """The precision of a sum of adjusted counts (for a response summary).

    ``None`` for no counts. The sum is ``exact`` only if every part is; otherwise it takes the
    least precise part's precision (``imprecise`` over ``rounded``) and the largest threshold.
    """
    if not counts:
        return None
    total = sum(c.value for c in counts)
    inexact = [c for c in counts if c.precision is not CountPrecision.EXACT]
    if not inexact:
        return AdjustedCount(total, CountPrecision.EXACT)
    precision = (
        CountPrecision.IMPRECISE
        if any(c.precision is CountPrecision.IMPRECISE for c in inexact)
        else CountPrecision.ROUNDED
    )
    threshold = max(c.adjusted_to or 0 for c in inexact)
    return AdjustedCount(total, precision, threshold or None)


def eligible_carriers(
    carriers: int | None, allele_count: int | None, ploidy: int = 2
) -> int | None:
    """A lower bound on the number of eligible participants carrying an allele.

    ``carriers`` (from genotypes, withdrawn samples already removed) when known; otherwise
    ``ceil(allele_count / ploidy)`` (sites-only data); ``None`` when neither is known.
    """
    if carriers is not None:
        return carriers
    if allele_count is not None:
        return math.ceil(allele_count / max(ploidy, 1))
    return None


def allele_draw(
    key: str, reference_name: str, start: int, reference_bases: str, alternate_bases: str
) -> int:
    """An allele's keyed pseudo-random number in ``[0, 2**32)``: the first four bytes of
    SHA-256 over ``key:reference_name:start:reference_bases:alternate_bases`` (UTF-8), read
    as an unsigned big-endian integer.

    The allele is in the stored form (0-based ``start``, trimmed bases). ``key`` is the
    store's secret (``threshold_key``); without it the number cannot be predicted. The same
    allele gets the same number in every dataset. :mod:`beacon.storage.queries` computes the
    same number in SQL; a test holds the two together.
    """
    text = f"{key}:{reference_name}:{start}:{reference_bases}:{alternate_bases}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def allele_min_carriers(policy: DisclosurePolicy, draw: int) -> int:
    """The number of eligible carriers an allele needs before anonymous callers may learn of
    it: k (``public_min_carriers``) plus ``draw`` modulo the spread s
    (``public_min_carriers_spread``), so between k and k + s - 1; never below k. ``draw`` is
    :func:`allele_draw` of the allele. 0 when k-anonymity is off (k <= 1)."""
    k = policy.public_min_carriers
    if k <= 1:
        return 0
    spread = policy.public_min_carriers_spread
    return k + (draw % spread if spread > 1 else 0)


def hides_allele(
    policy: DisclosurePolicy,
    tier: Tier,
    carriers: int | None,
    allele_count: int | None,
    ploidy: int = 2,
    *,
    draw: int = 0,
) -> bool:
    """Whether an allele must be left out of answers to callers of ``tier``.

    Only anonymous callers are subject to k-anonymity: the allele needs
    :func:`allele_min_carriers` eligible carriers (``draw`` is its :func:`allele_draw`). An
    allele whose carriers are unknown is hidden when k applies (fail closed).
    """
    needed = allele_min_carriers(policy, draw)
    if tier != "anonymous" or needed == 0:
        return False
    lower_bound = eligible_carriers(carriers, allele_count, ploidy)
    return lower_bound is None or lower_bound < needed


# --- JSON (configuration, /datasets, the stored column) ---------------------------------------


def _granularity(raw: object, field: str) -> Granularity:
    try:
        return Granularity(str(raw).lower())
    except ValueError as exc:
        choices = ", ".join(g.value for g in Granularity)
        raise InvalidRequest(f"{field} must be one of {choices}", parameter=field) from exc


def _int(raw: object, field: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidRequest(f"{field} must be an integer", parameter=field)
    return raw


_KNOWN_KEYS = frozenset(
    {*_TIERS, "countMode", "countThreshold", "publicMinCarriers", "publicMinCarriersSpread"}
)


def policy_from_json(
    data: Mapping[str, Any] | None, base: DisclosurePolicy = DEFAULT_POLICY
) -> DisclosurePolicy:
    """Parse a policy object (camelCase keys); absent keys keep ``base``'s values.

    Accepts ``{"anonymous": "boolean", "registered": "count", "controlled": "record",
    "countMode": "floor", "countThreshold": 5, "publicMinCarriers": 5,
    "publicMinCarriersSpread": 20}``. Raises
    :class:`InvalidRequest` naming the offending key (unknown keys are errors too).
    """
    if not data:
        return base
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise InvalidRequest(f"unknown policy key {unknown[0]!r}", parameter=unknown[0])
    values: dict[str, Any] = {
        "anonymous": base.anonymous,
        "registered": base.registered,
        "controlled": base.controlled,
        "count_mode": base.count_mode,
        "count_threshold": base.count_threshold,
        "public_min_carriers": base.public_min_carriers,
        "public_min_carriers_spread": base.public_min_carriers_spread,
    }
    for tier in _TIERS:
        if tier in data:
            values[tier] = _granularity(data[tier], tier)
    if "countMode" in data:
        try:
            values["count_mode"] = CountMode(str(data["countMode"]).lower())
        except ValueError as exc:
            choices = ", ".join(m.value for m in CountMode)
            raise InvalidRequest(
                f"countMode must be one of {choices}", parameter="countMode"
            ) from exc
    if "countThreshold" in data:
        values["count_threshold"] = _int(data["countThreshold"], "countThreshold")
    if "publicMinCarriers" in data:
        values["public_min_carriers"] = _int(data["publicMinCarriers"], "publicMinCarriers")
    if "publicMinCarriersSpread" in data:
        values["public_min_carriers_spread"] = _int(
            data["publicMinCarriersSpread"], "publicMinCarriersSpread"
        )
    return DisclosurePolicy(**values)


def policy_to_json(policy: DisclosurePolicy) -> dict[str, Any]:
    """The camelCase object :func:`policy_from_json` reads (round-trips exactly)."""
    return {
        "anonymous": policy.anonymous.value,
        "registered": policy.registered.value,
        "controlled": policy.controlled.value,
        "countMode": policy.count_mode.value,
        "countThreshold": policy.count_threshold,
        "publicMinCarriers": policy.public_min_carriers,
        "publicMinCarriersSpread": policy.public_min_carriers_spread,
    }


# --- Query budget ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryBudget:
    """Queries an identity may make per ``window_s`` seconds, per tier (``None`` = unlimited).

    The identity is the token subject, or the client address for anonymous callers (see
    :func:`budget_identity`). Raises :class:`InvalidRequest` for a negative limit or a window
    shorter than one second.
    """

    anonymous: int | None = 1000
    registered: int | None = 10000
    controlled: int | None = None
    window_s: int = 86400

    def __post_init__(self) -> None:
        for tier in _TIERS:
            limit = getattr(self, tier)
            if limit is not None and limit < 0:
                raise InvalidRequest(f"the {tier} budget must not be negative", parameter=tier)
        if self.window_s < 1:
            raise InvalidRequest("the budget window must be at least 1 s", parameter="window_s")


UNLIMITED_BUDGET = QueryBudget(anonymous=None, registered=None, controlled=None)


def budget_limit(budget: QueryBudget, tier: Tier) -> int | None:
    """The number of queries per window ``budget`` gives callers of ``tier`` (None: no limit)."""
    if tier == "anonymous":
        return budget.anonymous
    if tier == "registered":
        return budget.registered
    return budget.controlled


def budget_identity(caller: Caller) -> str:
    """The key a caller's budget is kept under: ``sub:<subject>`` or ``addr:<address>``.

    Anonymous callers without a known address share the single key ``addr:unknown`` (so an
    unidentifiable caller can never obtain a fresh budget).
    """
    if caller.subject:
        return f"sub:{caller.subject}"
    return f"addr:{caller.client_address or 'unknown'}"


def load_budget(env: Mapping[str, str]) -> QueryBudget:
    """:class:`QueryBudget` from ``BEACON_BUDGET_ANONYMOUS``, ``..._REGISTERED``,
    ``..._CONTROLLED`` (a count, or ``unlimited``) and ``BEACON_BUDGET_WINDOW_S``.

    Absent variables keep the defaults. Raises :class:`InvalidRequest` naming the variable.
    """
    d = QueryBudget()
    limits: dict[str, int | None] = {}
    for tier in _TIERS:
        key = f"BEACON_BUDGET_{tier.upper()}"
        raw = env.get(key, "").strip()
        if not raw:
            limits[tier] = getattr(d, tier)
        elif raw.lower() in {"unlimited", "none"}:
            limits[tier] = None
        else:
            limits[tier] = _env_int(raw, key)
    raw_window = env.get("BEACON_BUDGET_WINDOW_S", "").strip()
    window = _env_int(raw_window, "BEACON_BUDGET_WINDOW_S") if raw_window else d.window_s
    try:
        return QueryBudget(
            anonymous=limits["anonymous"],
            registered=limits["registered"],
            controlled=limits["controlled"],
            window_s=window,
        )
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, parameter="BEACON_BUDGET") from exc


def _env_int(raw: str, key: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{key} must be an integer, got {raw!r}", parameter=key) from exc
