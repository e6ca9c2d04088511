"""Request metrics in the Prometheus text exposition format (version 0.0.4).

A :class:`Metrics` object counts requests by endpoint (the route template, never the
concrete path, which may hold an allele), method and status, and keeps a latency histogram
per endpoint. Each worker process has its own; the ``worker`` label tells them apart.
Pure bookkeeping: no I/O, no global state.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Upper bounds of the latency histogram, in seconds."""


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))
    total_s: float = 0.0
    samples: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
        self.total_s += seconds
        self.samples += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters and histograms of one worker process."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._latency: dict[str, _Histogram] = defaultdict(_Histogram)
        self._store_errors = 0

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request; ``seconds`` is its wall-clock duration."""
        self._requests[(endpoint, method, status)] += 1
        self._latency[endpoint].observe(seconds)

    def store_unavailable(self) -> None:
        """Record one request that failed because the database could not answer."""
        self._store_errors += 1

    def render(self, exact_index: tuple[int | None, int, int] | None = None) -> str:
        """The metrics as Prometheus text; ``exact_index`` is the worker's in-memory index as
        (alleles held, ``None`` while there is none; builds; drops)."""
        w = _label(self.worker)
        lines = [
            "# HELP beacon_requests_total HTTP requests answered, by endpoint, method, status.",
            "# TYPE beacon_requests_total counter",
        ]
        for (endpoint, method, status), count in sorted(self._requests.items()):
            lines.append(
                f'beacon_requests_total{{worker="{w}",endpoint="{_label(endpoint)}",'
                f'method="{_label(method)}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP beacon_request_duration_seconds Time to answer a request, by endpoint.",
            "# TYPE beacon_request_duration_seconds histogram",
        ]
        for endpoint, hist in sorted(self._latency.items()):
            labels = f'worker="{w}",endpoint="{_label(endpoint)}"'
            cumulative = 0
            for bound, count in zip(BUCKETS_S, hist.counts, strict=False):
                cumulative += count
                lines.append(
                    f'beacon_request_duration_seconds_bucket{{{labels},le="{bound}"}} {cumulative}'
                )
            lines.append(
                f'beacon_request_duration_seconds_bucket{{{labels},le="+Inf"}} {hist.samples}'
            )
            lines.append(f"beacon_request_duration_seconds_sum{{{labels}}} {hist.total_s:.6f}")
            lines.append(f"beacon_request_duration_seconds_count{{{labels}}} {hist.samples}")
        lines += [
            "# HELP beacon_store_unavailable_total Requests refused because the store was down.",
            "# TYPE beacon_store_unavailable_total counter",
            f'beacon_store_unavailable_total{{worker="{w}"}} {self._store_errors}',
        ]
        if exact_index is not None:
            alleles, builds, drops = exact_index
            lines += [
                "# HELP beacon_exact_index_alleles Alleles in memory for exact lookups "
                "(-1: none, lookups ask PostgreSQL).",
                "# TYPE beacon_exact_index_alleles gauge",
                f'beacon_exact_index_alleles{{worker="{w}"}} {-1 if alleles is None else alleles}',
                "# HELP beacon_exact_index_builds_total In-memory indexes built.",
                "# TYPE beacon_exact_index_builds_total counter",
                f'beacon_exact_index_builds_total{{worker="{w}"}} {builds}',
                "# HELP beacon_exact_index_drops_total In-memory indexes dropped by a change "
                "or a lost listener.",
                "# TYPE beacon_exact_index_drops_total counter",
                f'beacon_exact_index_drops_total{{worker="{w}"}} {drops}',
            ]
        return "\n".join(lines) + "\n"
