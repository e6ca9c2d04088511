#!/usr/bin/env bash
# The demo network: embedded PostgreSQL, three beacons (two GRCh38, one of them sites-only,
# and one GRCh37) loaded with synthetic data, and an aggregator in front of them.
# Prints the URLs and example queries; Ctrl-C stops everything. Needs only python3 >= 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
