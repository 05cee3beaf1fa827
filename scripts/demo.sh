#!/usr/bin/env bash
# The demo: installs modelyard into .venv, then runs the whole loop on a real data set in a
# fresh project folder (./yard-demo by default; pass another folder as the first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/modelyard demo --dir "${1:-yard-demo}"
