#!/usr/bin/env bash
# Refresh requirements/dev.lock from the ranges in pyproject.toml (core + the dev extra, for
# Python 3.11, every file hash-pinned). Run it on purpose after changing dependencies, then
# commit the lock: scripts/setup.sh installs exactly what it says.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check uv
python3 -m uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes \
  --no-header --annotation-style line --upgrade -o requirements/dev.lock
