"""``beacon consent``, ``beacon policy``, ``beacon audit`` and ``beacon budget``.

* ``beacon consent set DATASET FILE`` applies a consent file (:mod:`beacon.consent`);
  ``beacon consent withdraw DATASET SAMPLE...`` withdraws participants at once;
  ``beacon consent show DATASET`` lists each sample's consent.
* ``beacon policy show [DATASET]`` prints disclosure policies; ``beacon policy set DATASET
  --anonymous boolean ...`` changes one (unnamed options keep their value).
* ``beacon audit [--since ISO] [--who SUBJECT_OR_ADDRESS] [--limit N]`` prints the newest
  audit entries, one per line.
* ``beacon budget reset [IDENTITY]`` forgets one identity's query budget (or all).

Each opens the configured store and brings its schema up to date first. Sample ids are never
printed by ``set``/``withdraw`` (only counts), so operator logs do not collect them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from beacon.cli import command
from beacon.config import Settings
from beacon.errors import InvalidRequest
from beacon.model import Granularity
from beacon.policy import OPEN_POLICY, CountMode, DisclosurePolicy, policy_to_json

if TYPE_CHECKING:
    from beacon.storage.db import Connection


async def _connect(settings: Settings) -> Connection:
    from beacon.storage import db, migrate

    dsn = await asyncio.to_thread(db.resolve_dsn, settings)
    conn = await db.connect(dsn)
    try:
        await migrate.upgrade(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


# --- consent ---------------------------------------------------------------------------------


def _configure_consent(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="consent_command", required=True, metavar="ACTION")
    s = sub.add_parser("set", help="apply a consent file (sample<TAB>all|aggregate|none, DUO)")
    s.add_argument("dataset", help="dataset id")
    s.add_argument("file", type=Path, help="consent file (see docs/access.md)")
    w = sub.add_parser("withdraw", help="withdraw participants now (one transaction)")
    w.add_argument("dataset", help="dataset id")
    w.add_argument("samples", nargs="+", metavar="SAMPLE", help="sample ids")
    sh = sub.add_parser("show", help="list each sample's consent")
    sh.add_argument("dataset", help="dataset id")


@command("consent", "participant consent: set from a file, withdraw, show", _configure_consent)
def _consent(args: argparse.Namespace, settings: Settings) -> int:
    from beacon import participants
    from beacon.consent import MAX_FILE_BYTES, parse_consent_file
    from beacon.storage import privacy

    consent_file = None
    if args.consent_command == "set":
        path: Path = args.file
        if not path.is_file():
            raise InvalidRequest(f"{path}: no such file", parameter="file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidRequest(f"{path}: larger than {MAX_FILE_BYTES} bytes", parameter="file")
        consent_file = parse_consent_file(path.read_text(encoding="utf-8"))

    async def run() -> int:
        conn = await _connect(settings)
        try:
            if args.consent_command == "show":
                rows = await privacy.sample_consents(conn, args.dataset)
                for s in rows:
                    state = (
                        "withdrawn"
                        if s.consent.value == "none"
                        else ("removed" if s.removed else "active")
                    )
                    print(f"{s.sample_id}\t{s.consent.value}\t{state}")
                if not rows:
                    print(f"(no samples in {args.dataset})", file=sys.stderr)
                return 0
            if args.consent_command == "withdraw":
                report = await participants.withdraw(conn, args.dataset, args.samples)
            else:
                assert consent_file is not None
                report = await participants.apply_consent(conn, args.dataset, consent_file)
        finally:
            await conn.close()
        print(report.summary())
        return 0

    return asyncio.run(run())


# --- policy ----------------------------------------------------------------------------------


def _configure_policy(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    sh = sub.add_parser("show", help="print disclosure policies (one dataset or all)")
    sh.add_argument("dataset", nargs="?", help="dataset id (default: every dataset)")
    s = sub.add_parser("set", help="change a dataset's disclosure policy")
    s.add_argument("dataset", help="dataset id")
    grains = [g.value for g in Granularity]
    for tier in ("anonymous", "registered", "controlled"):
        s.add_argument(f"--{tier}", choices=grains, help=f"highest granularity for {tier} callers")
    s.add_argument("--count-mode", choices=[m.value for m in CountMode], help="low counts")
    s.add_argument("--count-threshold", type=int, help="floor, or rounding step (>= 1)")
    s.add_argument(
        "--public-min-carriers", type=int, help="k: hide rarer alleles from anonymous callers"
    )
    s.add_argument(
        "--public-min-carriers-spread",
        type=int,
        help="s: each allele's own threshold is k plus a secret draw in [0, s) (0 = exactly k)",
    )
    base = s.add_mutually_exclusive_group()
    base.add_argument("--default", action="store_true", help="start from the default policy")
    base.add_argument("--open", action="store_true", help="start from the open policy")


def _policy_line(dataset_id: str, policy: DisclosurePolicy) -> str:
    fields = " ".join(f"{k}={v}" for k, v in policy_to_json(policy).items())
    return f"{dataset_id}\t{fields}"


@command("policy", "per-dataset disclosure policy: show or set", _configure_policy)
def _policy(args: argparse.Namespace, settings: Settings) -> int:
    from beacon.storage import privacy

    async def run() -> int:
        conn = await _connect(settings)
        try:
            if args.policy_command == "show":
                if args.dataset:
                    policies = {args.dataset: await privacy.get_policy(conn, args.dataset)}
                else:
                    policies = await privacy.dataset_policies(conn)
                for dataset_id, policy in sorted(policies.items()):
                    print(_policy_line(dataset_id, policy))
                return 0
            if args.default:
                current = DisclosurePolicy()
            elif args.open:
                current = OPEN_POLICY
            else:
                current = await privacy.get_policy(conn, args.dataset)
            updated = DisclosurePolicy(
                anonymous=Granularity(args.anonymous or current.anonymous),
                registered=Granularity(args.registered or current.registered),
                controlled=Granularity(args.controlled or current.controlled),
                count_mode=CountMode(args.count_mode or current.count_mode),
                count_threshold=current.count_threshold
                if args.count_threshold is None
                else args.count_threshold,
                public_min_carriers=current.public_min_carriers
                if args.public_min_carriers is None
                else args.public_min_carriers,
                public_min_carriers_spread=current.public_min_carriers_spread
                if args.public_min_carriers_spread is None
                else args.public_min_carriers_spread,
            )
            await privacy.set_policy(conn, args.dataset, updated)
            print(_policy_line(args.dataset, updated))
            return 0
        finally:
            await conn.close()

    return asyncio.run(run())


# --- audit -----------------------------------------------------------------------------------


def _configure_audit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="only entries at or after this ISO 8601 time")
    p.add_argument("--who", help="only this subject or client address")
    p.add_argument("--limit", type=int, default=100, help="newest N entries (default 100)")


@command("audit", "print the audit log of answered queries (newest first)", _configure_audit)
def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from beacon.storage import privacy

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError as exc:
            raise InvalidRequest(f"--since: not an ISO 8601 time: {args.since!r}") from exc
        if since.tzinfo is None:
            since = since.astimezone()
    if args.limit < 1:
        raise InvalidRequest("--limit must be at least 1", parameter="limit")

    async def run() -> int:
        conn = await _connect(settings)
        try:
            entries = await privacy.read_audit(conn, since=since, who=args.who, limit=args.limit)
        finally:
            await conn.close()
        for e in entries:
            assert e.at is not None
            who = e.subject or "-"
            datasets = ",".join(
                f"{d}:{g.value}" for d, g in zip(e.datasets, e.granularities, strict=True)
            )
            exists = "-" if e.exists is None else str(e.exists).lower()
            print(
                f"{e.at.isoformat()}\t{e.tier}\t{who}\t{e.client_address or '-'}\t{e.endpoint}"
                f"\t{e.returned_granularity.value}\texists={exists}\t{e.status}\t{datasets or '-'}"
            )
        return 0

    return asyncio.run(run())


# --- budget ----------------------------------------------------------------------------------


def _configure_budget(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="budget_command", required=True, metavar="ACTION")
    r = sub.add_parser("reset", help="forget an identity's budget (or every identity's)")
    r.add_argument("identity", nargs="?", help="sub:<subject> or addr:<address> (default: all)")


@command("budget", "per-identity query budgets", _configure_budget)
def _budget(args: argparse.Namespace, settings: Settings) -> int:
    from beacon.storage import privacy

    async def run() -> int:
        conn = await _connect(settings)
        try:
            n = await privacy.reset_budget(conn, args.identity)
        finally:
            await conn.close()
        print(f"reset {n} budget(s)")
        return 0

    return asyncio.run(run())
