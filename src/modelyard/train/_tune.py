"""Hyper-parameter tuning with Optuna; every trial is a child run."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from ..errors import InvalidInput

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
) -> tuple[dict[str, Any], float]:
    """Search the space for the parameters with the best cross-validated score.

    Each trial is logged as a child run of ``parent`` with its params (named as the space
    names them) and ``cv_score``. Names are resolved by :func:`resolve_names`, so a space
    written for the bare estimator tunes it inside the automatic preprocessing or a pipeline.

    Returns:
        The best parameters under the space's names, and their score (in the metric's own
        sense, not negated).

    Raises:
        InvalidInput: a name is not a parameter; every trial failed.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    full = resolve_names(estimator, list(space))
    splitter = (StratifiedKFold(cv, shuffle=True, random_state=seed)
                if task == "classification" else KFold(cv, shuffle=True, random_state=seed))
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    best = {"score": -math.inf}

    def objective(trial: Any) -> float:
        params = {name: _suggest(trial, name, dist) for name, dist in space.items()}
        candidate = clone(estimator).set_params(**{full[k]: v for k, v in params.items()})
        with parent.child(f"trial-{trial.number}") as child:
            child.log_params(params)
            child.set_tag("optuna.trial", str(trial.number))
            scores = cross_val_score(candidate, X, y, cv=splitter, scoring=scoring,
                                     error_score=np.nan)
            score = float(np.nanmean(scores)) if not np.all(np.isnan(scores)) else -math.inf
            shown = -score if negated else score
            if math.isfinite(score):
                child.log_metric("cv_score", shown)
        if on_trial is not None:
            best["score"] = max(best["score"], score)
            on_trial(trial.number, -score if negated else score,
                     -best["score"] if negated else best["score"])
        return score

    study.optimize(objective, n_trials=trials, timeout=timeout_s)
    if not math.isfinite(study.best_value):
        raise InvalidInput("every tuning trial failed; check the search space and the data")
    value = -study.best_value if negated else study.best_value
    return dict(study.best_params), float(value)
