#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest against a real PostgreSQL
# (embedded by default; set BEACON_TEST_DATABASE_URL to use a server you run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
echo "== ruff"; ruff check beacon aggregator tests bench
echo "== ruff format"; ruff format --check beacon aggregator tests bench
echo "== mypy"; mypy
echo "== pytest"; exec python -m pytest "$@"
