"""Hyper-parameter tuning with Optuna; every trial is a child run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from ..errors import InvalidInput
from ._executor import Executor, InProcessExecutor
from ._study import open_study

__all__ = ["resolve_names", "tune"]


def _final_path(estimator: Any) -> str:
    """The parameter prefix of the step that predicts: ``model__`` inside the automatic
    preprocessing, ``clf__`` of a user's ``Pipeline([..., ("clf", ...)])``, nested as deep
    as pipelines go; empty for a bare estimator."""
    steps = getattr(estimator, "steps", None)
    if not steps:
        return ""
    name, last = steps[-1]
    return f"{name}__{_final_path(last)}"


def resolve_names(estimator: Any, names: list[str]) -> dict[str, str]:
    """Map search-space names, as users write them (the estimator's own parameters:
    ``learning_rate``), to the full names of ``estimator`` (``model__learning_rate`` when
    the automatic preprocessing or a pipeline wraps it). A full name is kept as it is.

    Raises:
        InvalidInput: a name is no parameter of the estimator, or it names parameters of
            several steps (the message lists them: write one of them in full).
    """
    valid = estimator.get_params(deep=True)
    final = _final_path(estimator)
    resolved: dict[str, str] = {}
    unknown: list[str] = []
    for name in names:
        if name in valid:
            resolved[name] = name
            continue
        matches = sorted(k for k in valid if k.endswith(f"__{name}"))
        preferred = [k for k in matches if k == final + name]
        if preferred or len(matches) == 1:
            resolved[name] = (preferred or matches)[0]
        elif matches:
            raise InvalidInput(f"cannot tune {name!r}: several steps have it "
                               f"({', '.join(matches)}); write the one you mean in full")
        else:
            unknown.append(name)
    if unknown:
        own = sorted(k[len(final):] for k in valid if k.startswith(final) and "__" not in
                     k[len(final):]) if final else sorted(k for k in valid if "__" not in k)
        raise InvalidInput(
            f"cannot tune {', '.join(unknown)}: not parameters of "
            f"{type(estimator).__name__}; its parameters: {', '.join(own[:20])}")
    return resolved


def _suggest(trial: Any, name: str, dist: dict[str, Any]) -> Any:
    if "choices" in dist:
        return trial.suggest_categorical(name, list(dist["choices"]))
    low, high = dist["low"], dist["high"]
    log = bool(dist.get("log", False))
    if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
        return trial.suggest_int(name, low, high, log=log, step=int(dist.get("step", 1)))
    return trial.suggest_float(name, float(low), float(high), log=log,
                               step=dist.get("step") if not log else None)


def _cv_score(candidate: Any, data: tuple[pd.DataFrame, pd.Series], splitter: Any,
              scoring: Any) -> float:
    """One trial's work, wherever the executor runs it: the mean cross-validated score
    (``-inf`` when every fold failed). Module-level, so that it pickles."""
    X, y = data
    scores = cross_val_score(candidate, X, y, cv=splitter, scoring=scoring, error_score=np.nan)
    return float(np.nanmean(scores)) if not np.all(np.isnan(scores)) else -math.inf


def tune(
    estimator: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    space: dict[str, dict[str, Any]],
    trials: int,
    scoring: str,
    negated: bool,
    task: str,
    cv: int,
    seed: int,
    timeout_s: float | None,
    parent: Any,
    on_trial: Callable[[int, float, float], None] | None = None,
    executor: Executor | None = None,
    storage: str | None = None,
    study_name: str = "tune",
) -> tuple[dict[str, Any], float]:
    """Search the space for the parameters with the best cross-validated score.

    Each trial is logged as a child run of ``parent`` with its params (named as the space
    names them) and ``cv_score``. Names are resolved by :func:`resolve_names`, so a space
    written for the bare estimator tunes it inside the automatic preprocessing or a pipeline.
    The executor decides where trials run: one after another in this process, or
    ``executor.slots`` at a time on a cluster; the tuner (asking Optuna, logging, telling
    it the score) is the same. With ``storage``, the study is kept there and an unfinished
    one with this name is resumed (see :mod:`modelyard.train._study`): ``trials`` counts
    the finished trials of the study, those of a killed job included.

    Returns:
        The best parameters under the space's names, and their score (in the metric's own
        sense, not negated).

    Raises:
        InvalidInput: a name is not a parameter; every trial failed.
        Conflict: another process is tuning the same study now.
    """
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    executor = executor or InProcessExecutor()
    full = resolve_names(estimator, list(space))
    splitter = (StratifiedKFold(cv, shuffle=True, random_state=seed)
                if task == "classification" else KFold(cv, shuffle=True, random_state=seed))
    # Several trials in flight: the sampler assumes the running ones score badly, so that
    # parallel trials do not all sample the same promising corner.
    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=executor.slots > 1)
    handle = open_study(storage, study_name, sampler=sampler)
    study = handle.study
    parent.set_tags({"tune.study": handle.name, "tune.executor": executor.name,
                     "tune.slots": executor.slots})
    if handle.resumed or handle.requeued:
        parent.set_tags({"tune.resumed_trials": handle.resumed,
                         "tune.requeued_trials": handle.requeued})
    sign = -1.0 if negated else 1.0
    best = -math.inf
    for old in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        best = max(best, float(old.value))
        if on_trial is not None:
            on_trial(old.number, sign * float(old.value), sign * best)
    done, failed, last_error = handle.resumed, 0, ""
    deadline = None if timeout_s is None else time.monotonic() + float(timeout_s)
    data = executor.share((X, y))
    inflight: dict[Future[Any], tuple[Any, Any]] = {}
    finished_by: str | None = None
    try:
        while True:
            while (len(inflight) < executor.slots and done + len(inflight) < trials
                   and failed <= trials and (deadline is None or time.monotonic() < deadline)):
                trial = study.ask()
                params = {name: _suggest(trial, name, dist) for name, dist in space.items()}
                candidate = clone(estimator).set_params(
                    **{full[k]: v for k, v in params.items()})
                child = parent.child(f"trial-{trial.number}", tags={
                    "optuna.trial": str(trial.number), "optuna.study": handle.name})
                child.log_params(params)
                inflight[executor.submit(_cv_score, candidate, data, splitter, scoring)] = (
                    trial, child)
            if not inflight:
                break
            ready, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for future in sorted(ready, key=lambda f: inflight[f][0].number):
                trial, child = inflight.pop(future)
                try:
                    score = float(future.result())
                except Exception as exc:  # the trial's worker is gone, or it could not run
                    failed += 1
                    last_error = f"{type(exc).__name__}: {exc}"
                    study.tell(trial, state=TrialState.FAIL)
                    child.end("failed", last_error[:2000])
                    continue
                study.tell(trial, score)
                if math.isfinite(score):
                    child.log_metric("cv_score", sign * score)
                child.end("finished")
                done += 1
                best = max(best, score)
                if on_trial is not None:
                    on_trial(trial.number, sign * score, sign * best)
        finished_by = str(parent.id)
    finally:
        for _, child in inflight.values():
            child.end("killed", "tuning stopped before this trial ended")
        handle.close(finished_by)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete or not math.isfinite(study.best_value):
        raise InvalidInput("every tuning trial failed; check the search space and the data"
                           + (f" (last error: {last_error})" if last_error else ""))
    return dict(study.best_params), float(sign * study.best_value)
