"""The access seam: who is asking, and what each dataset lets them see.

Every query carries a :class:`Caller`. :func:`dataset_access` decides, purely, whether a
dataset is visible to that caller and at which maximum :class:`Granularity`; invisible datasets
are never queried. An :class:`Authenticator` turns a request's ``Authorization`` header into a
:class:`Caller`; :class:`AnonymousAuthenticator` is the default until a real one is configured.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Protocol

from beacon.model import Dataset, Granularity, SecurityLevel
from beacon.policy import max_granularity


class Tier(enum.StrEnum):
    """How far a caller is trusted, ordered: anonymous < registered < controlled."""

    ANONYMOUS = "anonymous"
    REGISTERED = "registered"
    CONTROLLED = "controlled"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]


_TIER_RANK = {Tier.ANONYMOUS: 0, Tier.REGISTERED: 1, Tier.CONTROLLED: 2}


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity behind one request.

    ``subject`` is the authenticated subject (``None`` when anonymous); ``controlled_datasets``
    are the ids of datasets the caller holds a ControlledAccessGrants visa for;
    ``client_address`` is the peer address, or behind trusted proxies the address they forwarded
    (``beacon.client_address``); used for budgets and logs, never for access.
    """

    subject: str | None
    tier: Tier
    controlled_datasets: frozenset[str]
    client_address: str | None

    @classmethod
    def anonymous(cls, address: str | None = None) -> Caller:
        """An unauthenticated caller from ``address`` (one shared immutable object per
        recently seen address: most requests are anonymous, and a caller is asked for on
        every one of them)."""
        return _anonymous(address)

    @property
    def access_key(self) -> tuple[Tier, frozenset[str]]:
        """What :func:`dataset_access` depends on: callers with equal keys see the same
        datasets at the same granularities."""
        return (self.tier, self.controlled_datasets)


@functools.lru_cache(maxsize=4096)
def _anonymous(address: str | None) -> Caller:
    return Caller(
        subject=None, tier=Tier.ANONYMOUS, controlled_datasets=frozenset(), client_address=address
    )


def dataset_tier(caller: Caller, dataset: Dataset) -> Tier:
    """The tier ``caller`` has *on this dataset*: controlled only with a grant for its id,
    otherwise the caller's tier capped at registered. Pure."""
    if dataset.id in caller.controlled_datasets:
        return Tier.CONTROLLED
    if caller.tier.rank >= Tier.REGISTERED.rank:
        return Tier.REGISTERED
    return Tier.ANONYMOUS


def dataset_access(caller: Caller, dataset: Dataset) -> Granularity | None:
    """The most ``caller`` may learn from ``dataset``; ``None`` means the dataset is invisible.

    PUBLIC datasets are visible to everyone, REGISTERED ones to callers of tier registered or
    above, CONTROLLED ones only to callers holding a grant for that dataset id. A visible
    dataset answers up to the granularity its :class:`~beacon.model.DisclosurePolicy` gives
    the caller's :func:`dataset_tier`. Pure.
    """
    level = dataset.security_level
    tier = dataset_tier(caller, dataset)
    if level is SecurityLevel.REGISTERED and tier.rank < Tier.REGISTERED.rank:
        return None
    if level is SecurityLevel.CONTROLLED and tier is not Tier.CONTROLLED:
        return None
    return max_granularity(dataset.policy, tier)


def permitted_datasets(
    caller: Caller, datasets: list[Dataset] | tuple[Dataset, ...]
) -> dict[str, Granularity]:
    """Dataset id -> maximum granularity, for every dataset ``caller`` may see. Pure."""
    permitted: dict[str, Granularity] = {}
    for dataset in datasets:
        granularity = dataset_access(caller, dataset)
        if granularity is not None:
            permitted[dataset.id] = granularity
    return permitted


class Authenticator(Protocol):
    """Turns a request's credentials into a :class:`Caller`.

    ``authorization`` is the raw ``Authorization`` header (``None`` when absent). Implementations
    raise :class:`beacon.errors.Unauthenticated` for credentials that are present but invalid;
    absent credentials give an anonymous caller.
    """

    async def identify(self, authorization: str | None, client_address: str | None) -> Caller:
        """The caller behind these credentials."""
        ...


class AnonymousAuthenticator:
    """Treats every request as anonymous (the default when no identity provider is set)."""

    async def identify(self, authorization: str | None, client_address: str | None) -> Caller:
        """Always :meth:`Caller.anonymous`; credentials are ignored, never logged."""
        del authorization
        return Caller.anonymous(client_address)
