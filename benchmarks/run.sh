#!/usr/bin/env bash
# Run the benchmarks and write docs/BENCHMARKS.md: `bash benchmarks/run.sh` runs every part,
# `bash benchmarks/run.sh serving recipes` only those (tracking, serving, drift, loop, recipes,
# ui, cli).
# MLflow runs in its own virtual environment (benchmarks/.venv-mlflow, created here with
# `pip install mlflow` when missing); modelyard runs in the project's .venv.
# The recipes run in RECIPES_PY (default: the project's .venv); give it the Python of an
# environment with `modelyard[torch,text]` to measure the CNN and the sentence embeddings too;
# RECIPES_UNTIL=HH:MM (UTC) starts no recipe run that the longest one so far says would end
# after it (those are reported as not run).
# Every part measures each side REPEAT times (default 3; the loop LOOP_REPEAT, default 5) in
# one invocation and reports the median with min and max (benchmarks/_report.py has the rules).
set -euo pipefail
cd "$(dirname "$0")/.."

PARTS=${*:-tracking serving drift loop recipes ui cli}
want() { [[ " $PARTS " == *" $1 "* ]]; }
for part in $PARTS; do
  case "$part" in
    tracking|serving|drift|loop|recipes|ui|cli) ;;
    *) echo "unknown benchmark part '$part': choose from tracking serving drift loop recipes ui cli" >&2
       exit 2 ;;
  esac
done

OUR_PY=${OUR_PY:-.venv/bin/python}
RECIPES_PY=${RECIPES_PY:-$OUR_PY}
MLFLOW_VENV=benchmarks/.venv-mlflow
REPEAT=${REPEAT:-3}

results=benchmarks/results
mkdir -p "$results"
work=$(mktemp -d /tmp/modelyard-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

if want tracking || want serving || want ui || want cli; then
if ! "$MLFLOW_VENV/bin/python" -c "import mlflow" >/dev/null 2>&1; then
  echo "creating $MLFLOW_VENV with MLflow ..." >&2
  python3 -m venv "$MLFLOW_VENV"
  "$MLFLOW_VENV/bin/pip" install -q mlflow
fi
fi

if want tracking; then
# Outside any git repository, so neither side spends time asking git for the commit.
echo "== tracking: modelyard" >&2
(cd "$work" && "$OLDPWD/$OUR_PY" "$OLDPWD/benchmarks/bench_tracking.py" modelyard \
  --workdir "$work/modelyard" --out "$OLDPWD/$results/tracking-modelyard.json" --repeat "$REPEAT")
echo "== tracking: MLflow" >&2
(cd "$work" && "$OLDPWD/$MLFLOW_VENV/bin/python" "$OLDPWD/benchmarks/bench_tracking.py" mlflow \
  --workdir "$work/mlflow" --out "$OLDPWD/$results/tracking-mlflow.json" --repeat "$REPEAT")

"$OUR_PY" benchmarks/bench_tracking.py report \
  "$results/tracking-modelyard.json" "$results/tracking-mlflow.json" --markdown docs/BENCHMARKS.md
fi

# Serving: modelyard serve vs a minimal FastAPI endpoint, `mlflow models serve`, BentoML with
# adaptive batching and without (benchmarks/.venv-bentoml, created here with `pip install
# bentoml` when missing; reported as failed if that fails), and the floors (a raw ASGI app on
# the same uvicorn, in-process predict_proba). Replaces its section of docs/BENCHMARKS.md.
if want serving; then
BENTO_VENV=benchmarks/.venv-bentoml
if ! "$BENTO_VENV/bin/python" -c "import bentoml, sklearn, joblib" >/dev/null 2>&1; then
  echo "creating $BENTO_VENV with BentoML ..." >&2
  python3 -m venv "$BENTO_VENV" && "$BENTO_VENV/bin/pip" install -q bentoml scikit-learn \
    || echo "BentoML could not be installed; its row will say skipped" >&2
fi
echo "== serving" >&2
"$OUR_PY" benchmarks/bench_serving.py run --workdir "$work/serving" \
  --out "$results/serving.json" --seconds "${SERVE_SECONDS:-5}" --repeat "$REPEAT"
"$OUR_PY" benchmarks/bench_serving.py report "$results/serving.json" --markdown docs/BENCHMARKS.md
fi

# Data drift: modelyard vs Evidently (benchmarks/.venv-evidently, created here with
# `pip install evidently` when missing; Evidently 0.7 needs pandas < 3) and plain SciPy/NumPy
# loops, at 100k and 1M rows; each measurement in its own process for its peak memory.
# Evidently's measurement at one size stops after EVIDENTLY_LIMIT_S seconds (1200 by default),
# so the part always ends; a stopped one is reported as failed, not as a time.
if want drift; then
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
      --limit-s "${EVIDENTLY_LIMIT_S:-1200}" --out "$results/drift-evidently-$rows.json"
  fi
done
"$OUR_PY" benchmarks/bench_drift.py report "$results"/drift-*.json --markdown docs/BENCHMARKS.md
fi

# Loop: planted drift to a new champion answering requests, on 2 cores (taskset when present).
if want loop; then
echo "== loop" >&2
PIN=""
if command -v taskset >/dev/null 2>&1; then PIN="taskset -c 0,1"; fi
(cd "$work" && $PIN "$OLDPWD/$OUR_PY" "$OLDPWD/benchmarks/bench_loop.py" run \
  --workdir "$work/loop" --out "$OLDPWD/$results/loop.json" --repeat "${LOOP_REPEAT:-5}")
"$OUR_PY" benchmarks/bench_loop.py report "$results/loop.json" --markdown docs/BENCHMARKS.md
fi

# The dashboard: 10,000 runs in modelyard's store and the same runs in an MLflow SQLite store;
# the runs page's data against MLflow's search endpoint, and the long run page in chromium
# (UI_RUNS to change the count). Writes docs/benchmarks/ui.md and its section here.
if want ui; then
echo "== ui" >&2
(cd "$work" && "$OLDPWD/$OUR_PY" "$OLDPWD/benchmarks/bench_ui.py" run --runs "${UI_RUNS:-10000}" \
  --repeat "$((REPEAT > 5 ? REPEAT : 5))" --project "$work/ui" \
  --mlflow-python "$OLDPWD/$MLFLOW_VENV/bin/python" --out "$OLDPWD/$results/ui.json")
"$OUR_PY" benchmarks/bench_ui.py report "$results/ui.json" --page docs/benchmarks/ui.md \
  --markdown docs/BENCHMARKS.md
fi

if want cli; then
echo "== cli" >&2
"$OUR_PY" benchmarks/bench_cli.py --mlflow-python "$MLFLOW_VENV/bin/python" \
  --rounds "$((REPEAT > 5 ? REPEAT : 5))" --out "$results/cli.json" --markdown docs/BENCHMARKS.md
fi

# Recipes: each reference system in full, the whole way, with its figures and the loop's answer.
if want recipes; then
echo "== recipes" >&2
case "$RECIPES_PY" in /*) recipes_py=$RECIPES_PY ;; *) recipes_py=$PWD/$RECIPES_PY ;; esac
(cd "$work" && "$recipes_py" "$OLDPWD/benchmarks/bench_recipes.py" run ${RECIPES:+--only $RECIPES} \
  --workdir "$work/recipes" --out "$OLDPWD/$results/recipes.json" --repeat "$REPEAT" \
  ${RECIPES_UNTIL:+--until "$RECIPES_UNTIL"})
"$OUR_PY" benchmarks/bench_recipes.py report "$results/recipes.json" --markdown docs/BENCHMARKS.md \
  --pages docs/recipes
fi
