"""The 401/403 decision for datasets a request names explicitly. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from beacon.access import Caller, dataset_access
from beacon.errors import Forbidden, Unauthenticated
from beacon.model import Dataset


def require_dataset_access(
    caller: Caller, requested_ids: Iterable[str], datasets: Mapping[str, Dataset]
) -> None:
    """Refuse a request that explicitly names a dataset ``caller`` may not see.

    ``datasets`` maps id -> dataset for every dataset of this beacon; ids it does not hold are
    left to the caller of this function (unknown ids are not an access question). Raises
    :class:`Unauthenticated` (401) when the caller is anonymous, so a token could help, and
    :class:`Forbidden` (403) when an authenticated caller lacks the tier or grant. Requests
    that name no dataset are never refused here: they are answered from the visible ones.
    """
    for dataset_id in requested_ids:
        dataset = datasets.get(dataset_id)
        if dataset is None or dataset_access(caller, dataset) is not None:
            continue
        if caller.subject is None:
            raise Unauthenticated(
                f"dataset {dataset_id} requires authentication", parameter="datasetIds"
            )
        raise Forbidden(f"not permitted to query dataset {dataset_id}", parameter="datasetIds")


def bearer_challenge(error: Unauthenticated) -> str:
    """The ``WWW-Authenticate`` value for a 401 (RFC 6750 section 3).

    A presented but invalid token gets ``error="invalid_token"``; a missing one gets the
    bare challenge. The description is never echoed: it needs no quoting rules that way.
    """
    if error.parameter == "Authorization":
        return 'Bearer realm="beacon", error="invalid_token"'
    return 'Bearer realm="beacon"'
