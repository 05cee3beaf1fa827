#!/usr/bin/env bash
# Run every benchmark and write docs/BENCHMARKS.md.
# MLflow runs in its own virtual environment (benchmarks/.venv-mlflow, created here with
# `pip install mlflow` when missing); modelyard runs in the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

OUR_PY=${OUR_PY:-.venv/bin/python}
MLFLOW_VENV=benchmarks/.venv-mlflow
REPEAT=${REPEAT:-3}

if ! "$MLFLOW_VENV/bin/python" -c "import mlflow" >/dev/null 2>&1; then
  echo "creating $MLFLOW_VENV with MLflow ..." >&2
  python3 -m venv "$MLFLOW_VENV"
  "$MLFLOW_VENV/bin/pip" install -q mlflow
fi

results=benchmarks/results
mkdir -p "$results"
work=$(mktemp -d /tmp/modelyard-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Outside any git repository, so neither side spends time asking git for the commit.

echo "== tracking: modelyard" >&2
(cd "$work" && "$OLDPWD/$OUR_PY" "$OLDPWD/benchmarks/bench_tracking.py" modelyard \
  --workdir "$work/modelyard" --out "$OLDPWD/$results/tracking-modelyard.json" --repeat "$REPEAT")
echo "== tracking: MLflow" >&2
(cd "$work" && "$OLDPWD/$MLFLOW_VENV/bin/python" "$OLDPWD/benchmarks/bench_tracking.py" mlflow \
  --workdir "$work/mlflow" --out "$OLDPWD/$results/tracking-mlflow.json" --repeat "$REPEAT")

"$OUR_PY" benchmarks/bench_tracking.py report \
  "$results/tracking-modelyard.json" "$results/tracking-mlflow.json" --markdown docs/BENCHMARKS.md

# Serving: modelyard serve vs a minimal FastAPI endpoint, `mlflow models serve` and BentoML
# (benchmarks/.venv-bentoml, created here with `pip install bentoml` when missing; skipped in
# the report if that fails). Appends its section to docs/BENCHMARKS.md.
BENTO_VENV=benchmarks/.venv-bentoml
if ! "$BENTO_VENV/bin/python" -c "import bentoml, sklearn, joblib" >/dev/null 2>&1; then
  echo "creating $BENTO_VENV with BentoML ..." >&2
  python3 -m venv "$BENTO_VENV" && "$BENTO_VENV/bin/pip" install -q bentoml scikit-learn \
    || echo "BentoML could not be installed; its row will say skipped" >&2
fi
echo "== serving" >&2
"$OUR_PY" benchmarks/bench_serving.py run --workdir "$work/serving" \
  --out "$results/serving.json" --seconds "${SERVE_SECONDS:-8}"
"$OUR_PY" benchmarks/bench_serving.py report "$results/serving.json" --markdown docs/BENCHMARKS.md

# Data drift: modelyard vs Evidently (benchmarks/.venv-evidently, created here with
# `pip install evidently` when missing; Evidently 0.7 needs pandas < 3) and plain SciPy/NumPy
# loops, at 100k and 1M rows; each measurement in its own process for its peak memory.
EVIDENTLY_VENV=benchmarks/.venv-evidently
if ! "$EVIDENTLY_VENV/bin/python" -c "import evidently" >/dev/null 2>&1; then
  echo "creating $EVIDENTLY_VENV with Evidently ..." >&2
  python3 -m venv "$EVIDENTLY_VENV" && "$EVIDENTLY_VENV/bin/pip" install -q "evidently==0.7.*" \
    "pandas<3" || echo "Evidently could not be installed; its rows will be missing" >&2
fi
echo "== drift" >&2
rm -f "$results"/drift-*.json
for rows in ${DRIFT_ROWS:-100000 1000000}; do
  for mode in frames profile modelyard scipy numpy-psi; do
    "$OUR_PY" benchmarks/bench_drift.py "$mode" --rows "$rows" --workdir "$work/drift" \
      --out "$results/drift-$mode-$rows.json"
  done
  if "$EVIDENTLY_VENV/bin/python" -c "import evidently" >/dev/null 2>&1; then
    "$EVIDENTLY_VENV/bin/python" benchmarks/bench_drift.py evidently --rows "$rows" \
      --out "$results/drift-evidently-$rows.json"
  fi
done
"$OUR_PY" benchmarks/bench_drift.py report "$results"/drift-*.json --markdown docs/BENCHMARKS.md


# Loop: planted drift to a new champion answering requests, on 2 cores (taskset when present).
echo "== loop" >&2
PIN=""
if command -v taskset >/dev/null 2>&1; then PIN="taskset -c 0,1"; fi
(cd "$work" && $PIN "$OLDPWD/$OUR_PY" "$OLDPWD/benchmarks/bench_loop.py" run \
  --workdir "$work/loop" --out "$OLDPWD/$results/loop.json")
"$OUR_PY" benchmarks/bench_loop.py report "$results/loop.json" --markdown docs/BENCHMARKS.md

# Recipes: each reference system in full, the whole way, with its figures and the loop's answer.
echo "== recipes" >&2
(cd "$work" && "$OLDPWD/$OUR_PY" "$OLDPWD/benchmarks/bench_recipes.py" run \
  --workdir "$work/recipes" --out "$OLDPWD/$results/recipes.json")
"$OUR_PY" benchmarks/bench_recipes.py report "$results/recipes.json" --markdown docs/BENCHMARKS.md
