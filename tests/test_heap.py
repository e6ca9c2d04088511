"""beacon.heap: startup objects leave the collector's view, young passes are spaced out, and
later garbage is still collected."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
import beacon.web  # a server's worth of modules
from beacon.heap import GEN0_THRESHOLD, freeze_startup_heap, space_young_passes

older = gc.get_threshold()[1:]
space_young_passes()
assert gc.get_threshold() == (GEN0_THRESHOLD, *older), gc.get_threshold()
frozen = freeze_startup_heap()
assert frozen > 10_000, frozen
assert gc.get_freeze_count() == frozen

class Node:
    pass

for _ in range(100):
    n = Node()
    n.self = n  # a cycle: only the collector frees it
del n
assert gc.collect() >= 100

collected = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collected.append(info["generation"]))
for _ in range(1_000):  # well over CPython's 700 allocations, well under the new threshold
    n = Node()
    n.self = n
assert collected == [], collected
for _ in range(GEN0_THRESHOLD):
    n = Node()
    n.self = n
assert 0 in collected, collected  # a young pass ran on its own, at the new threshold
print("ok", frozen)
"""


def test_freeze_startup_heap_in_a_fresh_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
