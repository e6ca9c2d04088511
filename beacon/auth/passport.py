"""GA4GH Passport visas -> what they entitle the caller to. Pure decisions, no I/O.

A visa reaches this module only after its signature, ``exp`` and ``iat`` were verified
against a trusted visa issuer (:mod:`beacon.auth.tokens`). Here its ``ga4gh_visa_v1`` object
is judged:

* ``ControlledAccessGrants``: ``value`` must equal one of our datasets' FULL identifiers
  (never a trailing id), ``by`` must be a committee or system, and the visa issuer must be
  allowed to grant that dataset.
* ``AcceptedTermsAndPolicies`` plus ``ResearcherStatus`` with the configured values and
  asserters make the caller a registered (bona fide) researcher.
* ``asserted`` must lie in the past and ``source`` must be a non-empty string; a visa with
  ``conditions`` is ignored, since we do not evaluate them and ignoring can only under-grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from beacon.auth.config import AuthConfig

CONTROLLED_ACCESS_GRANTS = "ControlledAccessGrants"
ACCEPTED_TERMS = "AcceptedTermsAndPolicies"
RESEARCHER_STATUS = "ResearcherStatus"


@dataclass(frozen=True, slots=True)
class Visa:
    """A verified visa: who signed it (``issuer``), about whom (``subject``), and its object.

    ``asserted`` and ``expires`` are Unix seconds.
    """

    issuer: str
    subject: str
    type: str
    value: str
    source: str
    by: str | None
    asserted: int
    expires: int
    has_conditions: bool


def parse_visa(claims: Mapping[str, Any]) -> Visa | None:
    """The :class:`Visa` in verified ``claims``, or ``None`` if its visa object is malformed."""
    body = claims.get("ga4gh_visa_v1")
    if not isinstance(body, Mapping):
        return None
    kind, value, source = body.get("type"), body.get("value"), body.get("source")
    asserted, by = body.get("asserted"), body.get("by")
    iss, sub, exp = claims.get("iss"), claims.get("sub"), claims.get("exp")
    if not all(isinstance(v, str) and v for v in (kind, value, source, iss, sub)):
        return None
    if not isinstance(asserted, int) or isinstance(asserted, bool):
        return None
    if not isinstance(exp, int) or isinstance(exp, bool):
        return None
    if by is not None and not isinstance(by, str):
        return None
    return Visa(
        issuer=str(iss),
        subject=str(sub),
        type=str(kind),
        value=str(value),
        source=str(source),
        by=by,
        asserted=int(asserted),
        expires=int(exp),
        has_conditions=bool(body.get("conditions")),
    )


@dataclass(frozen=True, slots=True)
class Entitlements:
    """What a passport's visas entitle to: bona fide status and controlled dataset ids."""

    bona_fide: bool
    controlled_datasets: frozenset[str]


def entitlements(
    visas: Iterable[Visa], *, subject: str, config: AuthConfig, now: float
) -> Entitlements:
    """Judge verified ``visas`` of the token subject ``subject`` at Unix time ``now``. Pure."""
    terms = status = False
    datasets: set[str] = set()
    for visa in visas:
        issuer = config.visa_issuer(visa.issuer)
        if issuer is None:
            continue
        if issuer.require_same_subject and visa.subject != subject:
            continue
        if visa.has_conditions or visa.asserted > now + config.leeway_s:
            continue
        if visa.expires <= now - config.leeway_s:
            continue
        if visa.type == CONTROLLED_ACCESS_GRANTS:
            if visa.by not in config.grant_by:
                continue
            if issuer.datasets is not None and visa.value not in issuer.datasets:
                continue
            dataset_id = config.dataset_for_identifier(visa.value)
            if dataset_id is not None:
                datasets.add(dataset_id)
        elif visa.type == ACCEPTED_TERMS:
            policy = config.bona_fide
            if visa.value in policy.accepted_terms and visa.by in policy.terms_by:
                terms = True
        elif visa.type == RESEARCHER_STATUS:
            policy = config.bona_fide
            if visa.value in policy.researcher_status and visa.by in policy.status_by:
                status = True
    return Entitlements(bona_fide=terms and status, controlled_datasets=frozenset(datasets))
