"""Fit, evaluate, log and register a model from a spec."""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

from ..errors import InvalidInput
from ..registry import Lineage, infer_signature
from ._estimator import (
    build_estimator,
    default_search_space,
    infer_task,
    prepare_categoricals,
    with_preprocessing,
)
from ._executor import Executor
from ._holdout import cut
from ._metrics import default_primary, evaluate, label_scorer, lower_is_better, scorer_for
from ._ranking import train_ranking
from ._result import TrainResult
from ._spec import TrainSpec, TuneSpec, load_spec
from ._study import study_key
from ._tune import resolve_names, tune
from ._workspace import Workspace

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["TrainResult", "train"]


def _columns(spec: TrainSpec, frame: pd.DataFrame) -> list[str]:
    if spec.target not in frame.columns:
        raise InvalidInput(
            f"target column {spec.target!r} is not in dataset {spec.dataset!r}; "
            f"its columns: {', '.join(map(str, frame.columns))}"
        )
    features = list(spec.features) or [c for c in frame.columns if c != spec.target]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"feature column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not in dataset {spec.dataset!r}; its columns: {', '.join(map(str, frame.columns))}"
        )
    if spec.target in features:
        raise InvalidInput(f"the target {spec.target!r} is also listed as a feature; remove it")
    return features


def _progress(enabled: bool) -> AbstractContextManager[Progress | None]:
    if not enabled:
        return nullcontext()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())


def train(
    workspace: Workspace,
    spec: str | os.PathLike[str] | dict[str, Any] | TrainSpec,
    *,
    tune_trials: int | None = None,
    progress: bool = False,
    aliases: tuple[str, ...] | None = None,
    executor: Executor | None = None,
    study_storage: str | None = None,
) -> TrainResult:
    """Fit, evaluate, log and register a model as a spec says.

    Args:
        workspace: where the data is read and the run and version recorded (a
            :class:`~modelyard.Yard`, or any :class:`Workspace`).
        spec: a spec file (.toml, .yaml, .py), a dict, or a :class:`TrainSpec`.
        tune_trials: run this many Optuna trials (each a child run) and keep the best;
            overrides the spec's ``[tune] trials``.
        progress: show rich progress bars.
        aliases: point these aliases at the new version (overrides the spec's).
        executor: where tuning trials run (in this process by default; a
            ``modelyard.distributed.RayExecutor`` runs them in parallel on Ray). A spec that
            says ``executor = "ray"`` needs one.
        study_storage: the Optuna storage that keeps the tuning study, so that a killed
            tuning job resumes (:func:`study_storage` of the metadata database's URL);
            ``None`` keeps it in memory.

    Returns:
        The run, the registered version and the metrics.

    Raises:
        InvalidInput: the spec, dataset, columns or estimator are wrong.
        NotFound: the dataset version does not exist.
        Conflict: another process is tuning the same study now.

    Example:
        >>> result = yard.train("specs/cancer.toml", tune_trials=20)  # doctest: +SKIP
        >>> result.metrics["roc_auc"]  # doctest: +SKIP
        0.99
    """
    spec = load_spec(spec)
    if tune_trials is not None:
        spec = replace(spec, tune=replace(spec.tune, trials=tune_trials))
    if aliases is not None:
        spec = replace(spec, aliases=aliases)
    if spec.task == "ranking":
        return train_ranking(workspace, spec, aliases=spec.aliases)
    if executor is None and spec.executor != "local" and spec.tune.trials > 0:
        raise InvalidInput(
            f"the spec runs its tuning trials on {spec.executor!r} (executor = "
            f"\"{spec.executor}\"); run it with `modelyard train SPEC`, or pass executor="
            "modelyard.distributed.RayExecutor() (set executor = \"local\" to tune here)")
    version = workspace.datasets.get(spec.dataset)
    frame = workspace.datasets.load(version.ref)
    features = _columns(spec, frame)
    frame = frame.dropna(subset=[spec.target])
    X, y = prepare_categoricals(frame[features]), frame[spec.target]
    base = build_estimator(spec.estimator)
    task = infer_task(base, y) if spec.task == "auto" else spec.task
    n_classes = int(y.nunique()) if task == "classification" else 0
    if task == "classification" and n_classes < 2:
        raise InvalidInput(f"target {spec.target!r} has a single class; nothing to learn")
    estimator = base if spec.preprocess == "none" else with_preprocessing(base, X)
    primary = spec.primary_metric or default_primary(task, n_classes)
    train_df, test_df, split = cut(frame, target=spec.target, features=features, task=task,
                                   test_size=spec.test_size, seed=spec.seed)
    X_train, y_train = prepare_categoricals(train_df[features]), train_df[spec.target]
    X_test, y_test = prepare_categoricals(test_df[features]), test_df[spec.target]
    with _progress(progress) as bars, workspace.runs.start(
        spec.run_name or f"train-{spec.model}", experiment=spec.experiment,
        tags={"model": spec.model, "task": task, **spec.tags},
    ) as run:
        run.log_input(version, role="train")
        run.log_params({
            "estimator": " > ".join(e.cls or type(e.obj).__name__ for e in spec.estimator),
            "dataset": version.ref, "target": spec.target, "n_features": len(features),
            "test_size": spec.test_size, "seed": spec.seed, "cv": spec.cv,
            "primary_metric": primary,
        })
        run.log_dict(spec.to_dict(), "spec.json")
        best_params: dict[str, Any] = {}
        if spec.tune.trials > 0:
            best_params = _tune(spec.tune, estimator, base, X_train, y_train, task=task,
                                primary=primary, n_classes=n_classes, seed=spec.seed,
                                run=run, bars=bars, executor=executor,
                                storage=study_storage,
                                study_name=_study_name(spec, version.ref, features, primary))
            full = resolve_names(estimator, list(best_params))
            prefix = _final_prefix(estimator, base)
            estimator = clone(estimator).set_params(
                **{full[k]: v for k, v in best_params.items()})
            base = clone(base).set_params(**{full[k][len(prefix):]: v for k, v in
                                             best_params.items() if full[k].startswith(prefix)})
            run.log_params({f"best.{k}": v for k, v in best_params.items()})
        # the parameters the registered model is fitted with (tuned values included)
        run.log_params({f"param.{k}": v for k, v in _flat_params(base).items()})
        metrics: dict[str, float] = {}
        if spec.cv > 1:
            metrics.update(_cross_validate(estimator, X_train, y_train, task=task,
                                           n_classes=n_classes, names=spec.metrics,
                                           folds=spec.cv, seed=spec.seed, bars=bars))
        if spec.threshold:
            estimator = _with_threshold(estimator, spec.threshold, y_train, seed=spec.seed)
        fit_task = bars.add_task("fit", total=1) if bars else None
        started = time.perf_counter()
        model = clone(estimator).fit(X_train, y_train)
        metrics["fit_time_s"] = time.perf_counter() - started
        if bars is not None and fit_task is not None:
            bars.update(fit_task, completed=1)
        proba = model.predict_proba(X_test) if hasattr(model, "predict_proba") else None
        scores, extras = evaluate(task, y_test, model.predict(X_test), proba,
                                  getattr(model, "classes_", None), spec.metrics)
        metrics.update(scores)
        if spec.threshold:
            metrics["threshold"] = float(model.best_threshold_)
        run.log_metrics(metrics)
        if "confusion_matrix" in extras:
            run.log_dict(extras["confusion_matrix"], "confusion_matrix.json")
        signature = None
        if spec.image is not None:
            image = dict(spec.image)
            signature = infer_signature(X_train.head(50), model).with_image(
                str(image.pop("name", "image")), **image)
        classes = getattr(model, "classes_", None)
        lineage = Lineage(
            task=task, target=spec.target, features=tuple(features), primary_metric=primary,
            higher_is_better=not lower_is_better(primary), split=split, spec=spec.to_dict(),
            classes=() if classes is None else tuple(np.asarray(classes).tolist()),
            threshold=({"value": metrics["threshold"], "chosen_for": spec.threshold}
                       if spec.threshold else None))
        registered = workspace.models.register(
            spec.model, model, run_id=run.id, dataset_version=version, signature=signature,
            input_example=X_train.head(50), metrics=metrics, lineage=lineage)
        run.set_tag("model_version", registered.ref)
    for alias in spec.aliases:
        workspace.models.alias(spec.model, alias, registered.version,
                               reason=f"set by training run {run.id}")
    return TrainResult(run_id=run.id, model_version=workspace.models.get(registered.ref),
                       metrics=metrics, best_params=best_params, task=task)


def _with_threshold(estimator: Any, metric: str, y: pd.Series, *, seed: int) -> Any:
    """The estimator wrapped so that its decision threshold is the one that scores best on
    ``metric`` in 5-fold cross-validation on the training part; it is then refit on all of
    it and predicts with that threshold wherever it is loaded."""
    from sklearn.model_selection import TunedThresholdClassifierCV

    labels = sorted(y.unique().tolist())
    if len(labels) != 2:
        raise InvalidInput(f"evaluation.threshold = {metric!r} needs a binary target; "
                           f"{y.name!r} has {len(labels)} classes")
    folds = int(min(5, y.value_counts().min()))
    if folds < 2:
        raise InvalidInput("evaluation.threshold needs at least 2 rows of each class")
    return TunedThresholdClassifierCV(
        estimator, scoring=label_scorer(metric, labels[1]),
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed), random_state=seed)


def _final_prefix(estimator: Any, base: Any) -> str:
    """The prefix of ``base``'s own parameters inside ``estimator`` (``model__`` when the
    automatic preprocessing wraps it; empty when it is the estimator itself)."""
    return "" if estimator is base else "model__"


def _is_structure(value: Any) -> bool:
    """An estimator, or a list of (name, estimator) steps: shown by their own params."""
    if hasattr(value, "get_params"):
        return True
    return isinstance(value, list | tuple) and any(
        hasattr(v, "get_params") or (isinstance(v, tuple) and _is_structure(list(v)))
        for v in value)


def _flat_params(estimator: Any) -> dict[str, str]:
    params = estimator.get_params(deep=True)
    return {k: repr(v) if not isinstance(v, str | int | float | bool | None) else str(v)
            for k, v in params.items() if not _is_structure(v)}


def _tune(
    spec: TuneSpec, estimator: Any, base: Any, X: pd.DataFrame, y: pd.Series, *, task: str,
    primary: str, n_classes: int, seed: int, run: Any, bars: Progress | None,
    executor: Executor | None, storage: str | None, study_name: str,
) -> dict[str, Any]:
    space = dict(spec.params) or default_search_space(base)
    if not space:
        raise InvalidInput(
            f"no search space for {type(base).__name__}: add [tune.params] to the spec, e.g. "
            "C = { low = 0.001, high = 100, log = true }"
        )
    scoring, negated = scorer_for(task, primary, n_classes)
    bar = bars.add_task(f"tune ({primary})", total=spec.trials) if bars else None

    def on_trial(number: int, score: float, best: float) -> None:
        if bars is not None and bar is not None:
            bars.update(bar, advance=1,
                        description=f"tune ({primary}: best {best:.4f})")

    best_params, best_score = tune(
        estimator, X, y, space=space, trials=spec.trials, scoring=scoring, negated=negated,
        task=task, cv=spec.cv, seed=seed, timeout_s=spec.timeout_s, parent=run,
        on_trial=on_trial, executor=executor, storage=storage, study_name=study_name,
    )
    run.log_metric(f"tune_best_cv_{primary}", best_score)
    return best_params


def _study_name(spec: TrainSpec, data: str, features: list[str], primary: str) -> str:
    """The tuning study's name: what it searches, not how many trials or where they run."""
    searched = spec.to_dict()
    for key in ("run_name", "aliases", "tags", "source", "executor", "experiment"):
        searched.pop(key, None)
    searched["tune"] = {k: v for k, v in searched["tune"].items()
                        if k not in ("trials", "timeout_s")}
    return study_key(spec.model, {"spec": searched, "data": data, "features": features,
                                  "primary": primary})


def _cross_validate(
    estimator: Any, X: pd.DataFrame, y: pd.Series, *, task: str, n_classes: int,
    names: tuple[str, ...], folds: int, seed: int, bars: Progress | None,
) -> dict[str, float]:
    from ._metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS

    wanted = names or (CLASSIFICATION_METRICS if task == "classification"
                       else REGRESSION_METRICS)
    if task == "classification" and n_classes > 2:
        wanted = tuple(m for m in wanted if m != "pr_auc")
    scorers = {m: scorer_for(task, m, n_classes) for m in wanted}
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=seed)
                if task == "classification" else KFold(folds, shuffle=True, random_state=seed))
    bar = bars.add_task(f"cross-validate ({folds} folds)", total=1) if bars else None
    result = cross_validate(estimator, X, y, cv=splitter,
                            scoring={m: s for m, (s, _) in scorers.items()},
                            error_score=np.nan)
    if bars is not None and bar is not None:
        bars.update(bar, completed=1)
    out: dict[str, float] = {}
    for metric, (_, negated) in scorers.items():
        values = result[f"test_{metric}"] * (-1 if negated else 1)
        if not np.all(np.isnan(values)):
            out[f"cv_{metric}_mean"] = float(np.nanmean(values))
            out[f"cv_{metric}_std"] = float(np.nanstd(values))
    return out
