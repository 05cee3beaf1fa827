"""Autologging for scikit-learn: ``fit`` logs params, fit time and training metrics.

:func:`autolog` wraps the ``fit`` of every scikit-learn estimator class (once per class that
defines ``fit``). The wrapper does nothing unless a run is active in the current thread
(``with yard.run(...)``); then the outermost ``fit`` logs, and the fits it makes inside
(pipeline steps, cross-validation clones) do not. Logging never breaks a fit: its errors go to
the ``modelyard.tracking`` logger.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from ._active import ActiveRun, active_run

__all__ = ["autolog", "autolog_enabled"]

log = logging.getLogger("modelyard.tracking")

_MAX_PARAM_CHARS = 1000
_lock = threading.Lock()
_patched: dict[type, Callable[..., Any]] = {}
_depth = threading.local()


def autolog_enabled() -> bool:
    """Whether :func:`autolog` has patched scikit-learn."""
    return bool(_patched)


def autolog(disable: bool = False) -> None:
    """Make scikit-learn's ``fit`` log to the active run, or undo that.

    When a run is active in the thread (``with yard.run(...)``), the outermost ``fit`` logs:

    - the estimator's params (``get_params(deep=False)``, nested dicts flattened with ``.``,
      values as text); params already logged with another value are skipped;
    - ``fit_time_s``;
    - training metrics on the data it was fitted on: classifiers ``training_accuracy``,
      ``training_precision``, ``training_recall``, ``training_f1`` (weighted), and with
      ``predict_proba`` ``training_log_loss`` and ``training_roc_auc``; regressors
      ``training_mae``, ``training_rmse``, ``training_r2``.

    Args:
        disable: restore the original ``fit`` methods.

    Example:
        >>> from modelyard.tracking import autolog
        >>> autolog()  # doctest: +SKIP
        >>> with yard.run("rf") as run:  # doctest: +SKIP
        ...     RandomForestClassifier().fit(X, y)
        >>> autolog(disable=True)  # doctest: +SKIP
    """
    with _lock:
        if disable:
            for cls, original in _patched.items():
                cls.fit = original  # type: ignore[attr-defined]
            _patched.clear()
            return
        if _patched:
            return
        from sklearn.utils import all_estimators

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimators = all_estimators()
        for _, est_cls in estimators:
            owner = next((c for c in est_cls.__mro__ if "fit" in vars(c)), None)
            if owner is None or owner in _patched or not callable(vars(owner)["fit"]):
                continue
            original = vars(owner)["fit"]
            _patched[owner] = original
            owner.fit = _wrap(original)


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        run = active_run()
        depth = getattr(_depth, "n", 0)
        if run is None or depth:
            return original(self, *args, **kwargs)
        # Fits made inside (pipeline steps, CV clones) and by the metrics code (label
        # binarizers) see depth > 0 and do not log.
        _depth.n = depth + 1
        try:
            started = time.perf_counter()
            result = original(self, *args, **kwargs)
            elapsed = time.perf_counter() - started
            X = args[0] if args else kwargs.get("X")
            y = args[1] if len(args) > 1 else kwargs.get("y")
            try:
                _log_fit(run, self, X, y, elapsed)
            except Exception as exc:
                log.warning("autolog could not log the fit of %s: %s", type(self).__name__,
                            exc)
        finally:
            _depth.n = depth
        return result

    fit.__modelyard_autolog__ = True  # type: ignore[attr-defined]
    return fit


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)[:_MAX_PARAM_CHARS]
    return flat


def _log_fit(run: ActiveRun, estimator: Any, X: Any, y: Any, elapsed: float) -> None:
    params = _flatten(estimator.get_params(deep=False))
    stored = run.params
    fresh = {k: v for k, v in params.items() if k not in stored}
    if fresh:
        run.log_params(fresh)
    metrics = {"fit_time_s": elapsed}
    if X is not None and y is not None:
        metrics.update(_training_metrics(estimator, X, y))
    run.log_metrics({k: v for k, v in metrics.items() if not math.isnan(v)})


def _training_metrics(estimator: Any, X: Any, y: Any) -> dict[str, float]:
    from sklearn import metrics as m
    from sklearn.base import is_classifier, is_regressor

    scores: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if is_classifier(estimator) and hasattr(estimator, "predict"):
            pred = estimator.predict(X)
            scores["training_accuracy"] = m.accuracy_score(y, pred)
            prf = m.precision_recall_fscore_support(y, pred, average="weighted",
                                                    zero_division=0)
            scores.update(training_precision=prf[0], training_recall=prf[1],
                          training_f1=prf[2])
            if hasattr(estimator, "predict_proba"):
                try:
                    proba = estimator.predict_proba(X)
                    classes = estimator.classes_
                    scores["training_log_loss"] = m.log_loss(y, proba, labels=classes)
                    scores["training_roc_auc"] = (
                        m.roc_auc_score(y, proba[:, 1]) if len(classes) == 2
                        else m.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
                    )
                except (AttributeError, ValueError) as exc:
                    log.debug("autolog skipped probability metrics: %s", exc)
        elif is_regressor(estimator) and hasattr(estimator, "predict"):
            pred = estimator.predict(X)
            scores["training_mae"] = m.mean_absolute_error(y, pred)
            scores["training_rmse"] = math.sqrt(m.mean_squared_error(y, pred))
            scores["training_r2"] = m.r2_score(y, pred)
    return {k: float(v) for k, v in scores.items()}
