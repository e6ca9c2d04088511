"""Helpers shared by the benchmarks (run as scripts: ``bench/`` is on ``sys.path``)."""

from __future__ import annotations

import shutil
import subprocess


def ensure_wrk() -> str:
    """Path of Debian's ``wrk`` load generator, installing it with apt-get when missing.

    Raises ``SystemExit`` when it cannot be had.
    """
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not available")
    return found
