"""beacon.heap: startup objects leave the collector's view; later garbage is still collected."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
import beacon.web  # a server's worth of modules
from beacon.heap import freeze_startup_heap

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
print("ok", frozen)
"""


def test_freeze_startup_heap_in_a_fresh_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
