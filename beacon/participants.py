"""Participant consent applied to the store: consent files and withdrawals.

A withdrawal is a sample removal (:func:`beacon.storage.datasets.remove_samples`: the
sample's contribution leaves every allele count, carrier count, frequency and record, and
alleles nobody else carries disappear) that keeps the sample row, marked ``consent = none``
and ``withdrawn_at``, and records the withdrawal in the consent register, which outlives
reloads so a later load of the same file leaves the sample out. Everything happens in ONE
transaction under the dataset's load lock: a query sees the dataset either entirely before
or entirely after the withdrawal.

``aggregate`` consent needs no change to the counts: record-level answers are per allele
(counts and frequencies), never per sample, so such a sample never appears as an individual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from beacon.consent import ConsentFile
from beacon.errors import InvalidRequest, NotFound
from beacon.model import Consent
from beacon.storage import datasets, privacy
from beacon.storage.db import Connection, unavailable_as_error


@dataclass(frozen=True, slots=True)
class ConsentReport:
    """What applying consent changed: samples whose consent changed, samples withdrawn now
    (their contribution removed), and whether the data use conditions were replaced."""

    dataset_id: str
    changed: int
    withdrawn: tuple[str, ...]
    data_use_updated: bool

    def summary(self) -> str:
        """One line for operators (sample ids are not printed)."""
        return (
            f"{self.dataset_id}: consent changed for {self.changed} sample(s),"
            f" {len(self.withdrawn)} withdrawn now"
            + ("; data use conditions updated" if self.data_use_updated else "")
        )


def _unknown(dataset_id: str, unknown: Sequence[str]) -> NotFound:
    shown = ", ".join(sorted(unknown)[:5]) + (" ..." if len(unknown) > 5 else "")
    return NotFound(
        f"{len(unknown)} sample(s) not in dataset {dataset_id}: {shown}", parameter="samples"
    )


async def withdraw(conn: Connection, dataset_id: str, sample_ids: Sequence[str]) -> ConsentReport:
    """Withdraw ``sample_ids`` from ``dataset_id`` at once (one transaction, see the module).

    Withdrawing an already withdrawn sample changes nothing. Raises :class:`NotFound` for an
    unknown dataset or sample (naming ``dataset`` or ``samples``) before changing anything,
    and :class:`InvalidRequest` for an empty sample list.
    """
    if not sample_ids:
        raise InvalidRequest("name at least one sample to withdraw", parameter="samples")
    return await apply_consent(
        conn, dataset_id, ConsentFile(samples=dict.fromkeys(sample_ids, Consent.NONE))
    )


async def apply_consent(conn: Connection, dataset_id: str, consent: ConsentFile) -> ConsentReport:
    """Apply a consent file to ``dataset_id`` in one transaction.

    Samples moved to ``none`` are withdrawn (their contribution removed at once); ``all``
    and ``aggregate`` are recorded. Samples the file does not name keep their consent; DUO
    codes, when the file has any, replace the dataset's data use conditions.

    Raises :class:`NotFound` for an unknown dataset or sample, and :class:`InvalidRequest`
    for a withdrawn sample given consent again (its data are no longer stored: it can only
    come back through a reload after its consent is recorded). Nothing changes on error.
    """
    async with unavailable_as_error(), conn.transaction():
        await privacy.lock_dataset(conn, dataset_id)
        stored = {s.sample_id: s for s in await privacy.sample_consents(conn, dataset_id)}
        unknown = [s for s in consent.samples if s not in stored]
        if unknown:
            raise _unknown(dataset_id, unknown)
        revived = sorted(
            s
            for s, scope in consent.samples.items()
            if scope is not Consent.NONE and stored[s].consent is Consent.NONE
        )
        if revived:
            raise InvalidRequest(
                f"{len(revived)} sample(s) of {dataset_id} were withdrawn and their data removed"
                f" ({', '.join(revived[:5])}); a withdrawal cannot be undone in place",
                parameter="file",
            )
        changed = await privacy.record_consent(conn, dataset_id, consent.samples)
        leaving = tuple(
            s
            for s, scope in consent.samples.items()
            if scope is Consent.NONE and not stored[s].removed
        )
        newly_none = [s for s, scope in consent.samples.items() if scope is Consent.NONE]
        if newly_none:
            await datasets.remove_samples(conn, dataset_id, newly_none)
            await privacy.mark_withdrawn(conn, dataset_id, newly_none)
        conditions = consent.data_use_conditions()
        if conditions is not None:
            await privacy.set_data_use_conditions(conn, dataset_id, conditions)
    return ConsentReport(dataset_id, changed, leaving, conditions is not None)
