#!/usr/bin/env bash
# The test command: installs what the project needs, starts a PostgreSQL server for the
# store tests, then runs ruff, mypy, the layer contract (import-linter) and pytest. Extra
# arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ "${MODELYARD_TEST_PG:-1}" != 0 ] && [ -z "${MODELYARD_TEST_PG_URL:-}" ]; then
  eval "$(bash scripts/postgres.sh start)"
  # a failing script inside $(...) does not stop this one: CI must not skip PostgreSQL
  if [ "${CI:-}" = true ] && [ -z "${MODELYARD_TEST_PG_URL:-}" ]; then
    echo "CI=true: no PostgreSQL server for the store tests" >&2
    exit 1
  fi
  if [ -n "${MODELYARD_TEST_PG_DIR:-}" ]; then
    trap 'bash scripts/postgres.sh stop "$MODELYARD_TEST_PG_DIR"' EXIT
  fi
fi

# Debian's chromium for the dashboard's browser tests (Playwright drives it; no download).
if [ -f scripts/browser.sh ]; then
  eval "$(bash scripts/browser.sh)"
fi

echo "== ruff"
.venv/bin/ruff check src tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== import-linter (the layers of DESIGN.md)"
.venv/bin/lint-imports --no-cache
echo "== pytest"
.venv/bin/python -m pytest "$@"
