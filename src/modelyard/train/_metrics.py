"""Evaluation metrics for classifiers and regressors, and their scikit-learn scorers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from ..errors import InvalidInput

__all__ = ["CLASSIFICATION_METRICS", "REGRESSION_METRICS", "evaluate", "scorer_for"]

CLASSIFICATION_METRICS = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss",
)
REGRESSION_METRICS = ("mae", "rmse", "r2")
# Metrics where lower is better; everything else is maximised.
LOWER_IS_BETTER = {"log_loss", "mae", "rmse"}


def _check(task: str, names: tuple[str, ...]) -> tuple[str, ...]:
    known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(
            f"unknown {task} metric{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"choose from {', '.join(known)}"
        )
    return names or known


def evaluate(
    task: str,
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    classes: Any = None,
    names: tuple[str, ...] = (),
) -> tuple[dict[str, float], dict[str, Any]]:
    """Score predictions.

    Args:
        task: ``classification`` or ``regression``.
        y_true: true labels or values.
        y_pred: predictions.
        proba: class probabilities (n_rows x n_classes) when the model has them.
        classes: the class labels in the order of ``proba``'s columns.
        names: the metrics wanted (all for the task by default).

    Returns:
        The metric values, and extras (the confusion matrix with its labels).
    """
    wanted = _check(task, names)
    out: dict[str, float] = {}
    extras: dict[str, Any] = {}
    if task == "regression":
        y_t = np.asarray(y_true, dtype=float)
        y_p = np.asarray(y_pred, dtype=float)
        err = y_t - y_p
        values = {
            "mae": float(np.mean(np.abs(err))),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "r2": float(skm.r2_score(y_t, y_p)),
        }
        return {n: values[n] for n in wanted}, extras
    labels = list(classes) if classes is not None else sorted(set(np.asarray(y_true).tolist()))
    binary = len(labels) == 2
    avg = "binary" if binary else "macro"
    pos = {"pos_label": labels[1]} if binary else {}
    for name in wanted:
        if name == "accuracy":
            out[name] = float(skm.accuracy_score(y_true, y_pred))
        elif name in ("precision", "recall", "f1"):
            fn = {"precision": skm.precision_score, "recall": skm.recall_score,
                  "f1": skm.f1_score}[name]
            out[name] = float(fn(y_true, y_pred, average=avg, zero_division=0, **pos))
        elif proba is None:
            continue  # probability metrics need predict_proba
        elif name == "log_loss":
            out[name] = float(skm.log_loss(y_true, proba, labels=labels))
        elif len(set(np.asarray(y_true).tolist())) < 2:
            continue  # ranking metrics are undefined with one class present
        elif name == "roc_auc":
            out[name] = float(skm.roc_auc_score(y_true, proba[:, 1]) if binary else
                              skm.roc_auc_score(y_true, proba, multi_class="ovr",
                                                labels=labels))
        elif name == "pr_auc":
            if binary:
                out[name] = float(skm.average_precision_score(y_true, proba[:, 1], **pos))
            else:
                onehot = np.asarray(y_true)[:, None] == np.asarray(labels)[None, :]
                out[name] = float(skm.average_precision_score(onehot, proba, average="macro"))
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    extras["confusion_matrix"] = {"labels": [_plain(v) for v in labels],
                                  "matrix": matrix.tolist()}
    return out, extras


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def scorer_for(task: str, metric: str, n_classes: int = 2) -> tuple[str, bool]:
    """The scikit-learn scorer name for a metric, and whether it is negated."""
    binary = n_classes == 2
    table = {
        "accuracy": ("accuracy", False),
        "precision": ("precision" if binary else "precision_macro", False),
        "recall": ("recall" if binary else "recall_macro", False),
        "f1": ("f1" if binary else "f1_macro", False),
        "roc_auc": ("roc_auc" if binary else "roc_auc_ovr", False),
        "pr_auc": ("average_precision", False),
        "log_loss": ("neg_log_loss", True),
        "mae": ("neg_mean_absolute_error", True),
        "rmse": ("neg_root_mean_squared_error", True),
        "r2": ("r2", False),
    }
    _check(task, (metric,))
    return table[metric]


def default_primary(task: str, n_classes: int) -> str:
    """The metric that tuning optimises and comparisons use by default."""
    if task == "regression":
        return "rmse"
    return "roc_auc" if n_classes == 2 else "f1"
