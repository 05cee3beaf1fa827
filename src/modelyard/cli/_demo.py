"""``modelyard demo``: the loop so far, narrated, on a real data set that a package ships."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ModelyardError
from ._app import app, open_from_cli
from ._render import console, number, table

BASELINE_SPEC = """\
# A logistic-regression baseline on the Wisconsin breast-cancer data.
model = "cancer"
dataset = "cancer@latest"
target = "malignant"
run_name = "baseline-logreg"

[[pipeline]]
class = "sklearn.preprocessing.StandardScaler"

[[pipeline]]
class = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 2000 }

[evaluation]
test_size = 0.25
cv = 5
primary_metric = "roc_auc"
"""

BOOSTED_SPEC = """\
# Gradient boosting, tuned by Optuna (modelyard train boosted.toml --tune 8).
model = "cancer"
dataset = "cancer@latest"
target = "malignant"
run_name = "hist-gradient-boosting"

[estimator]
class = "sklearn.ensemble.HistGradientBoostingClassifier"
params = { max_iter = 150, early_stopping = false }

[evaluation]
test_size = 0.25
primary_metric = "roc_auc"

[tune.params]
learning_rate = { low = 0.02, high = 0.3, log = true }
max_leaf_nodes = { low = 4, high = 32 }
"""


# Features a new scanner reports larger: the drift the demo plants.
_SHIFTED = ("mean_radius", "worst_radius", "mean_area", "worst_area", "mean_perimeter",
            "worst_perimeter", "mean_texture", "worst_texture")


def _step(n: int, text: str) -> None:
    from ..recipes import step_heading

    step_heading(console(), n, text)


@app.command()
def demo(
    name: Annotated[str | None, typer.Argument(
        help="A reference system to run: fraud, images, movies or sentiment. "
             "Without one: the breast-cancer tour.")] = None,
    rows: Annotated[int | None, typer.Option(
        help="Run a recipe on a slice of this many rows.")] = None,
    folder: Annotated[Path, typer.Option("--dir", help="Project folder for the demo.")] = Path(
        "yard-demo"),
    trials: Annotated[int, typer.Option(help="Optuna trials for the tuned model.")] = 8,
    loop: Annotated[bool, typer.Option(
        "--loop/--no-loop", help="Then serve, plant drift and close the loop.")] = True,
) -> None:
    """Ingest, version, train (tracked and tuned), register, alias, load and predict; then
    serve, stream traffic, plant drift and let the loop retrain, gate, canary and promote.

    With a NAME, run that reference system (``modelyard demo fraud``) the whole way."""
    started = time.perf_counter()
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if name is not None:
        _recipe(name, folder, rows=rows, trials=trials, loop=loop, started=started)
        return
    from sklearn.datasets import load_breast_cancer

    with open_from_cli(folder) as yard:
        _step(1, "Ingest real data (scikit-learn's copy of the Wisconsin breast-cancer set)")
        raw = load_breast_cancer(as_frame=True)
        frame = raw.frame.rename(columns=lambda c: str(c).replace(" ", "_"))
        frame["malignant"] = (raw.target == 0).astype(int)
        frame = frame.drop(columns=["target"])
        csv = folder / "cancer.csv"
        frame.to_csv(csv, index=False)
        version = yard.datasets.ingest(csv, name="cancer",
                                       description="Wisconsin diagnostic breast cancer")
        again = yard.datasets.ingest(csv, name="cancer")
        console().print(f"{csv.name} -> {version.ref}: {version.n_rows} rows, "
                        f"{version.n_columns} columns, content hash {version.content_hash[:12]}")
        console().print(f"ingesting the same file again gives {again.ref} (nothing stored twice)")

        _step(2, "Validate new data against the stored schema")
        bad = frame.head(40).copy()
        bad.loc[:4, "mean_radius"] = -1.0
        bad = bad.drop(columns=["worst_area"])
        report = yard.datasets.validate(bad, version.ref)
        for v in report.violations:
            console().print(f"  [yellow]{v['rule']}[/] in {v['column']}: {v['count']} rows")

        _step(3, "Train a tracked baseline (5-fold CV) and register it")
        (folder / "baseline.toml").write_text(BASELINE_SPEC, encoding="utf-8")
        (folder / "boosted.toml").write_text(BOOSTED_SPEC, encoding="utf-8")
        base = yard.train(folder / "baseline.toml", progress=True, aliases=("champion",))
        cv_mean = base.metrics.get("cv_roc_auc_mean", float("nan"))
        console().print(f"registered {base.ref} as champion: roc_auc "
                        f"{base.metrics['roc_auc']:.4f} (5-fold CV {cv_mean:.4f})")

        _step(4, f"Tune gradient boosting with Optuna ({trials} trials, each a child run)")
        boosted = yard.train(folder / "boosted.toml", tune_trials=trials, progress=True,
                             aliases=("challenger",))
        console().print(f"registered {boosted.ref} as challenger: roc_auc "
                        f"{boosted.metrics['roc_auc']:.4f}")

        _step(5, "Compare champion and challenger; promote the better one")
        better = boosted if boosted.metrics["roc_auc"] > base.metrics["roc_auc"] else base
        if better is boosted:
            yard.models.alias("cancer", "champion", boosted.model_version.version,
                              reason="higher test roc_auc than the baseline")
        table("cancer versions", ["version", "roc_auc", "pr_auc", "f1", "log_loss"],
              [(r.ref, *(number(r.metrics.get(m)) for m in ("roc_auc", "pr_auc", "f1",
                                                           "log_loss")))
               for r in (base, boosted)])
        console().print(f"cancer@champion -> version {better.model_version.version}")

        _step(6, "Load cancer@champion (hash verified) and predict")
        predictor = yard.models.load("cancer@champion")
        sample = frame.drop(columns=["malignant"]).sample(5, random_state=7)
        proba = predictor.predict_proba(sample)[:, 1]
        table("predictions", ["row", "predicted malignant", "p(malignant)", "truth"],
              [(i, int(p), f"{q:.3f}", int(t)) for i, p, q, t in zip(
                  sample.index, predictor.predict(sample), proba,
                  frame.loc[sample.index, "malignant"], strict=True)])
        record = {str(k): v for k, v in sample.iloc[0].items()}
        record["mean_radius"] = "big"
        del record["worst_area"]
        try:
            predictor.predict(record)
        except ModelyardError as exc:
            console().print(f"bad input is refused with a clear message: [yellow]{exc}[/]")

        _step(7, "Everything is tracked")
        runs = [r for r in yard.runs.list(limit=50) if r.parent_id is None][:5]
        children = len(yard.runs.list(parent_id=runs[0].id, limit=1000)) if runs else 0
        table("latest runs", ["id", "name", "status", "roc_auc", "child runs"],
              [(r.id[:12], r.name, r.status, number(r.metrics.get("roc_auc", "")),
                children if i == 0 else "") for i, r in enumerate(runs)])
        if loop:
            from ..recipes import showcase_loop

            shifted = frame.copy()
            for column in _SHIFTED:
                shifted[column] = shifted[column] * 1.8
            showcase_loop(yard, model="cancer", dataset="cancer", target="malignant",
                          traffic=frame.drop(columns=["malignant"]), drifted=shifted,
                          drift_story="a new scanner reports larger cells",
                          console=console(), first_step=8)
    shown = _relative(folder)
    console().print(
        f"\n[green]done[/] in {time.perf_counter() - started:.1f}s. Explore what it made:\n"
        f"  .venv/bin/modelyard runs list -C {shown}\n"
        f"  .venv/bin/modelyard models versions cancer -C {shown}\n"
        f"  .venv/bin/modelyard models show cancer@champion -C {shown}\n"
        f"  .venv/bin/modelyard datasets show cancer -C {shown}"
        + (f"\n  .venv/bin/modelyard loop history cancer -C {shown}" if loop else "")
    )


def _recipe(name: str, folder: Path, *, rows: int | None, trials: int, loop: bool,
            started: float) -> None:
    from ..recipes import RecipeOptions, get_recipe

    recipe = get_recipe(name)
    console().rule(f"[bold]{recipe.title}")
    with open_from_cli(folder) as yard:
        result = recipe.run(yard, RecipeOptions(rows=rows, trials=trials, loop=loop))
    table(f"{result.model}@champion is v{result.champion_version}", ["metric", "value"],
          [(k, number(v)) for k, v in sorted(result.metrics.items())])
    shown = _relative(folder)
    console().print(
        f"\n[green]done[/] in {time.perf_counter() - started:.1f}s. Explore what it made:\n"
        f"  .venv/bin/modelyard runs list -C {shown}\n"
        f"  .venv/bin/modelyard models versions {result.model} -C {shown}\n"
        f"  .venv/bin/modelyard models show {result.model}@champion -C {shown}"
        + (f"\n  .venv/bin/modelyard loop history {result.model} -C {shown}" if loop else ""))


def _relative(folder: Path) -> str:
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)
