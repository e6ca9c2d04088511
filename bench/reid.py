"""Re-identification harness: the Shringarpure-Bustamante membership attack over HTTP.

Simulates a cohort with the coalescent (msprime), loads the beacon's participants from a VCF
with ``beacon.ingest.load_vcf``, serves it with ``beacon.web.create_app`` on loopback, and
runs the likelihood-ratio attack (Shringarpure & Bustamante 2015, AJHG 97:631) against
members and non-members, with the defences off and with the default public configuration.
Prints detection power at a 5 % false-positive rate and the utility cost (share of honest
queries for alleles the cohort holds that were answered "no" or refused).

    .venv/bin/python bench/reid.py                 # ~1,000 participants, a few minutes
    .venv/bin/python bench/reid.py --quick         # smaller, for a smoke run

Attackers:

* classic: the published test. The attacker knows allele frequencies (from a reference panel
  of the same population) and queries the target's alternate alleles, rarest first. Under
  H0 (not in the beacon) an allele of frequency f is absent with probability (1-f)^(2N);
  under H1 with probability delta (1-f)^(2N-2). Large statistics reject H0.
* aware: knows the beacon's published policy (k: alleles carried by fewer than k
  participants are hidden; s: each allele's own threshold is k plus a secret draw in [0, s))
  and uses the exact answer probabilities under it, P(yes | H0) = mean over t of
  P(Bin(N, c) >= t) and P(yes | H1) = mean over t of P(Bin(N-1, c) >= t-1), t = k .. k+s-1,
  with c the carrier frequency (the key is secret, so each t is equally likely), querying the
  target's most informative alleles first. With k = 1 it is the classic attacker.

The default public configuration is attacked as it is and, in the same run, with each
``--spreads`` value instead of its own (0 = every allele's threshold is exactly k).

Each target's attack runs within one full query budget (the budget is reset between targets,
as if every target were attacked from a fresh address: the most generous assumption for the
attacker). Answers are deterministic, so repeated alleles are answered from a cache; this
changes the load on the server, not what the attacker learns.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import numpy as np
from aiohttp import web

from beacon.config import Settings
from beacon.ingest import LoadOptions, load_vcf
from beacon.model import Granularity
from beacon.policy import DEFAULT_POLICY, OPEN_POLICY, UNLIMITED_BUDGET, DisclosurePolicy
from beacon.storage import db, embedded, migrate, privacy
from beacon.web import create_app

DELTA = 1e-6  # the attacker's assumed sequencing-error rate (as in the published test)
DATASET = "cohort"
FPR = 0.05


@dataclass(frozen=True)
class Cohort:
    """Dosages (sites x individuals) and site descriptions; columns are individuals."""

    positions: np.ndarray  # 1-based, unique, increasing
    ref: list[str]
    alt: list[str]
    dosage: np.ndarray  # int8, sites x individuals
    beacon: np.ndarray  # column indexes of the beacon's participants
    reference: np.ndarray  # the attacker's reference panel
    outsiders: np.ndarray  # non-member targets
    honest: np.ndarray  # patients of honest users (not in the beacon)


def simulate(
    participants: int, reference: int, outsiders: int, honest: int, length_mb: float, seed: int
) -> Cohort:
    import msprime

    n = participants + reference + outsiders + honest
    ts = msprime.sim_ancestry(
        samples=n,
        population_size=10_000,
        sequence_length=length_mb * 1e6,
        recombination_rate=1e-8,
        random_seed=seed,
    )
    ts = msprime.sim_mutations(
        ts, rate=1.25e-8, random_seed=seed + 1, model=msprime.BinaryMutationModel()
    )
    single = np.array([len(s.mutations) == 1 for s in ts.sites()], dtype=bool)
    haplotypes = ts.genotype_matrix()[single]
    positions = np.array([int(s.position) + 1 for s in ts.sites()])[single]
    keep = np.concatenate([[True], np.diff(positions) > 0])  # one allele per position
    haplotypes, positions = haplotypes[keep], positions[keep]
    dosage = (haplotypes[:, 0::2] + haplotypes[:, 1::2]).astype(np.int8)
    rng = random.Random(seed)
    ref, alt = [], []
    for _ in positions:
        a, b = rng.sample("ACGT", 2)
        ref.append(a)
        alt.append(b)
    order = np.arange(n)
    cut = np.cumsum([participants, reference, outsiders])
    return Cohort(
        positions,
        ref,
        alt,
        dosage,
        order[: cut[0]],
        order[cut[0] : cut[1]],
        order[cut[1] : cut[2]],
        order[cut[2] :],
    )


def write_vcf(cohort: Cohort, path: Path) -> int:
    """The beacon participants' genotypes as a VCF; returns the number of records."""
    gt = np.array(["0/0", "0/1", "1/1"])
    members = cohort.dosage[:, cohort.beacon]
    names = [f"P{i:05d}" for i in range(members.shape[1])]
    written = 0
    with path.open("w") as out:
        out.write("##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n")
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(names))
        out.write("\n")
        for i in np.nonzero(members.sum(axis=1) > 0)[0]:
            calls = "\t".join(gt[members[i]])
            out.write(
                f"1\t{cohort.positions[i]}\t.\t{cohort.ref[i]}\t{cohort.alt[i]}\t50\tPASS\t.\tGT\t{calls}\n"
            )
            written += 1
    return written


# --- the attack statistics --------------------------------------------------------------------


def _binom_sf(x: int, n: int, p: np.ndarray) -> np.ndarray:
    """P(Bin(n, p) > x), elementwise in p, for small x (x < 0 gives 1)."""
    if x < 0:
        return np.ones_like(p)
    cdf = np.zeros_like(p)
    logp, log1p = np.log(p), np.log1p(-p)
    for j in range(x + 1):
        lc = math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
        cdf += np.exp(lc + j * logp + (n - j) * log1p)
    return np.clip(1.0 - cdf, 0.0, 1.0)


@dataclass(frozen=True)
class Model:
    """Per-site log-likelihood ratios (H1 over H0) of a "yes" and a "no", and the order in
    which the attacker prefers to ask (most informative first)."""

    llr_yes: np.ndarray
    llr_no: np.ndarray
    priority: np.ndarray


def attacker_model(cohort: Cohort, k: int, spread: int = 0) -> Model:
    n = len(cohort.beacon)
    panel = cohort.dosage[:, cohort.reference]
    f = (panel.sum(axis=1) + 0.5) / (2 * panel.shape[1] + 1)  # never 0 or 1
    if k <= 1:  # the published test
        absent0 = (1 - f) ** (2 * n)
        absent1 = DELTA * (1 - f) ** (2 * n - 2)
        p0, p1 = 1 - absent0, 1 - absent1
        priority = -f  # rarest first
    else:
        c = 1 - (1 - f) ** 2
        thresholds = range(k, k + max(spread, 1))
        p0 = np.mean([_binom_sf(t - 1, n, c) for t in thresholds], axis=0)
        p1 = np.mean([_binom_sf(t - 2, n - 1, c) for t in thresholds], axis=0) * (1 - DELTA)
    p0 = np.clip(p0, 1e-300, 1 - 1e-12)
    p1 = np.clip(p1, 1e-300, 1 - 1e-12)
    llr_yes, llr_no = np.log(p1 / p0), np.log((1 - p1) / (1 - p0))
    if k > 1:
        priority = p1 * llr_yes + (1 - p1) * llr_no  # expected evidence if a member
    return Model(llr_yes, llr_no, priority)


def power_at(members: list[float], outsiders: list[float], fpr: float = FPR) -> float:
    threshold = float(np.quantile(np.array(outsiders), 1 - fpr))
    return float(np.mean(np.array(members) > threshold))


# --- the beacon over HTTP ---------------------------------------------------------------------


class Beacon:
    """One running beacon app on loopback and an HTTP client with an answer cache."""

    def __init__(self, dsn: str, settings: Settings, cohort: Cohort) -> None:
        self.dsn, self.settings, self.cohort = dsn, settings, cohort
        self.cache: dict[int, bool | None] = {}
        self.requests = 0
        self.refused = 0

    async def __aenter__(self) -> Beacon:
        self.runner = web.AppRunner(create_app(self.settings, dsn=self.dsn))
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=16),
        )
        self.pool = await db.create_pool(self.dsn, min_size=1, max_size=2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()
        await self.pool.close()
        await self.runner.cleanup()

    async def ask(self, site: int) -> bool | None:
        """Does the beacon hold the alt allele of ``site``? ``None`` when refused (429)."""
        if site in self.cache:
            return self.cache[site]
        c = self.cohort
        params = {
            "assemblyId": "GRCh38",
            "referenceName": "1",
            "start": str(int(c.positions[site]) - 1),
            "referenceBases": c.ref[site],
            "alternateBases": c.alt[site],
            "requestedGranularity": "boolean",
        }
        self.requests += 1
        async with self.http.get(self.base + "/g_variants", params=params) as response:
            if response.status == 429:
                self.refused += 1
                return None  # not cached: a refusal says nothing about the allele
            response.raise_for_status()
            answer = bool((await response.json())["responseSummary"]["exists"])
        self.cache[site] = answer
        return answer

    async def ask_all(self, sites: list[int]) -> list[bool | None]:
        return list(await asyncio.gather(*(self.ask(s) for s in sites)))

    async def fresh_budget(self) -> None:
        await privacy.reset_budget(self.pool)


async def attack(
    beacon: Beacon, model: Model, targets: np.ndarray, max_queries: int
) -> list[float]:
    c = beacon.cohort
    stats = []
    for person in targets:
        carried = np.nonzero(c.dosage[:, person] > 0)[0]
        carried = carried[np.argsort(-model.priority[carried], kind="stable")][:max_queries]
        await beacon.fresh_budget()
        answers = await beacon.ask_all([int(s) for s in carried])
        total = 0.0
        for site, answer in zip(carried, answers, strict=True):
            if answer is True:
                total += model.llr_yes[site]
            elif answer is False:
                total += model.llr_no[site]
        stats.append(total)
    return stats


async def utility_cost(beacon: Beacon, per_patient: int, seed: int) -> tuple[float, int]:
    """Share of honest queries (alleles of patients outside the cohort that the cohort holds)
    answered "no" or refused, and how many such queries were asked."""
    c = beacon.cohort
    rng = np.random.default_rng(seed)
    held = c.dosage[:, c.beacon].sum(axis=1) > 0
    asked = []
    for person in c.honest:
        mine = np.nonzero((c.dosage[:, person] > 0) & held)[0]
        take = rng.choice(mine, size=min(per_patient, len(mine)), replace=False)
        asked.extend(int(s) for s in take)
    await beacon.fresh_budget()
    answers = await beacon.ask_all(asked)
    lost = sum(1 for a in answers if a is not True)
    return lost / max(len(asked), 1), len(asked)


async def budget_check(beacon: Beacon, limit: int) -> tuple[int, int]:
    """One address sends ``limit + 50`` distinct queries: (answered, refused)."""
    await beacon.fresh_budget()
    beacon.cache.clear()
    before = beacon.refused
    sites = list(range(min(limit + 50, len(beacon.cohort.positions))))
    answers = await beacon.ask_all(sites)
    beacon.cache.clear()
    return sum(a is not None for a in answers), beacon.refused - before


# --- main ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cohort = simulate(
        args.participants, args.reference, args.targets, args.honest, args.length_mb, args.seed
    )
    print(
        f"cohort: {len(cohort.beacon)} participants, {len(cohort.positions):,} sites"
        f" ({time.perf_counter() - t0:.0f} s)"
    )
    work = Path(tempfile.mkdtemp(prefix="beacon-reid-"))
    dsn = args.database_url or await asyncio.to_thread(embedded.ensure_database, work, "reid")
    conn = await db.connect(dsn)
    try:
        await migrate.upgrade(conn)
    finally:
        await conn.close()
    vcf = work / "cohort.vcf"
    t1 = time.perf_counter()
    records = write_vcf(cohort, vcf)
    report = await load_vcf(dsn, vcf, LoadOptions(dataset_id=DATASET, assembly="GRCh38"))
    vcf.unlink()
    print(
        f"loaded {records:,} records ({report.alleles_stored:,} alleles) in"
        f" {time.perf_counter() - t1:.0f} s"
    )
    members = cohort.beacon[: args.targets]
    outsiders = cohort.outsiders
    base = Settings(database_url=dsn, data_dir=work, audit_log=False)
    configs: list[tuple[str, DisclosurePolicy, Settings]] = [
        ("defences off", OPEN_POLICY, replace(base, query_budget=UNLIMITED_BUDGET)),
        ("default public configuration", DEFAULT_POLICY, replace(base, audit_log=True)),
    ]
    for spread in args.spreads:
        if spread != DEFAULT_POLICY.public_min_carriers_spread:
            configs.append(
                (
                    f"default but spread {spread}",
                    replace(DEFAULT_POLICY, public_min_carriers_spread=spread),
                    replace(base, audit_log=True),
                )
            )
    rows = []
    for label, policy, settings in configs:
        conn = await db.connect(dsn)
        try:
            await privacy.set_policy(conn, DATASET, policy)
        finally:
            await conn.close()
        assert policy.anonymous is Granularity.BOOLEAN or label == "defences off"
        budget = settings.query_budget.anonymous
        cap = min(args.max_queries, budget) if budget is not None else args.max_queries
        async with Beacon(dsn, settings, cohort) as beacon:
            attackers = {"classic": attacker_model(cohort, 1)}
            if policy.public_min_carriers > 1:
                attackers["aware"] = attacker_model(
                    cohort, policy.public_min_carriers, policy.public_min_carriers_spread
                )
            for name, model in attackers.items():
                t2 = time.perf_counter()
                s_in = await attack(beacon, model, members, cap)
                s_out = await attack(beacon, model, outsiders, cap)
                power = power_at(s_in, s_out)
                rows.append((label, name, power))
                print(
                    f"{label:30s} {name:8s} power at 5% FPR: {power:.3f}"
                    f"  ({len(members)} members vs {len(outsiders)} non-members,"
                    f" <= {cap} queries each, {time.perf_counter() - t2:.0f} s)"
                )
            cost, asked = await utility_cost(beacon, args.per_patient, args.seed)
            print(
                f"{label:30s} utility cost: {cost:.3f} of {asked} honest queries for"
                " alleles the cohort holds answered no or refused"
            )
            print(f"{label:30s} HTTP requests: {beacon.requests:,}")
        if budget is not None:
            # A fresh app: the one above still holds queries leased before the store's budget
            # was reset between phases (docs/access.md: leased queries stay valid).
            async with Beacon(dsn, settings, cohort) as fresh:
                answered, refused = await budget_check(fresh, budget)
            print(
                f"{label:30s} budget: {answered} answered, {refused} refused (429)"
                f" of {budget + 50} queries from one address"
            )
    off = [p for label, _, p in rows if label == "defences off"]
    default = "default public configuration"
    classic = [p for label, name, p in rows if label == default and name == "classic"]
    aware = [p for label, name, p in rows if label == default and name == "aware"]
    aware_text = f"{max(aware):.3f}" if aware else "not run"
    print(
        f"targets: defences off power >= 0.95: {'met' if min(off) >= 0.95 else 'NOT met'};"
        f" default configuration, Shringarpure-Bustamante attack power <= 0.10:"
        f" {'met' if max(classic) <= 0.10 else 'NOT met'} ({max(classic):.3f});"
        f" threshold-aware attacker (beyond the target): {aware_text};"
        f" total {time.perf_counter() - t0:.0f} s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--participants", type=int, default=1000)
    p.add_argument("--reference", type=int, default=500, help="attacker's reference panel")
    p.add_argument("--targets", type=int, default=100, help="members and non-members attacked")
    p.add_argument("--honest", type=int, default=50, help="patients of honest users")
    p.add_argument("--per-patient", type=int, default=20, help="honest queries per patient")
    p.add_argument("--length-mb", type=float, default=20.0, help="simulated sequence (Mb)")
    p.add_argument("--max-queries", type=int, default=300, help="attack queries per target")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--spreads",
        type=lambda text: [int(v) for v in text.split(",") if v],
        default=[0],
        help="also attack the default configuration with these threshold spreads (e.g. 0,10)",
    )
    p.add_argument("--database-url", help="PostgreSQL DSN (default: embedded, temporary)")
    p.add_argument("--quick", action="store_true", help="smaller cohort for a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.participants, args.reference, args.targets = 300, 200, 40
        args.honest, args.length_mb, args.max_queries = 20, 5.0, 100
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
