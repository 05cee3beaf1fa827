"""Evaluation metrics for classifiers and regressors, and their scikit-learn scorers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from ..errors import InvalidInput

__all__ = ["CLASSIFICATION_METRICS", "LOWER_IS_BETTER", "REGRESSION_METRICS", "evaluate",
           "lower_is_better", "scorer_for"]

CLASSIFICATION_METRICS = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss",
)
REGRESSION_METRICS = ("mae", "rmse", "r2")
# Binary metrics with a parameter after '@': recall at a false-positive rate of at most x
# (``recall_at_fpr@0.05``), and the mean cost per row when a false negative costs x times a
# false positive (``cost@10``). Not in the default list: asked for by name.
PARAMETRIC_METRICS = {"recall_at_fpr": 0.05, "cost": 10.0}
# Metrics where lower is better; everything else is maximised.
LOWER_IS_BETTER = {"log_loss", "mae", "rmse", "cost"}


def _split(name: str) -> tuple[str, float | None]:
    """``recall_at_fpr@0.01`` -> (``recall_at_fpr``, 0.01); a plain name -> (name, None)."""
    base, _, arg = name.partition("@")
    if base not in PARAMETRIC_METRICS:
        return name, None
    if not arg:
        return base, PARAMETRIC_METRICS[base]
    try:
        value = float(arg)
    except ValueError:
        raise InvalidInput(f"metric {name!r}: {arg!r} after '@' is not a number") from None
    if not (0 < value < 1 if base == "recall_at_fpr" else value > 0):
        raise InvalidInput(f"metric {name!r}: the value after '@' must be "
                           + ("in (0, 1)" if base == "recall_at_fpr" else "positive"))
    return base, value


def lower_is_better(name: str) -> bool:
    """Whether smaller values of metric ``name`` are better (``log_loss``, ``cost@10`` ...)."""
    return _split(name)[0] in LOWER_IS_BETTER


def _check(task: str, names: tuple[str, ...]) -> tuple[str, ...]:
    known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    extra = tuple(PARAMETRIC_METRICS) if task == "classification" else ()
    unknown = [n for n in names if n not in known and _split(n)[0] not in extra]
    if unknown:
        raise InvalidInput(
            f"unknown {task} metric{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"choose from {', '.join(known + tuple(f'{m}@x' for m in extra))}"
        )
    return names or known


def _positive(y_true: Any, pos_label: Any) -> Any:
    # The positive class: given, or the larger of the labels (as scikit-learn orders them).
    return np.unique(np.asarray(y_true))[-1] if pos_label is None else pos_label


def recall_at_fpr(y_true: Any, score: Any, max_fpr: float, pos_label: Any = None) -> float:
    """The highest recall any threshold on ``score`` reaches with a false-positive rate of at
    most ``max_fpr`` (the positive class: ``pos_label``, else the larger label)."""
    pos_label = _positive(y_true, pos_label)
    fpr, tpr, _ = skm.roc_curve(y_true, score, pos_label=pos_label)
    return float(tpr[fpr <= max_fpr].max())


def expected_cost(y_true: Any, y_pred: Any, fn_cost: float, pos_label: Any = None) -> float:
    """The mean cost per row when a false positive costs 1 and a false negative ``fn_cost``
    (the positive class: ``pos_label``, else the larger label)."""
    pos_label = _positive(y_true, pos_label)
    t = np.asarray(y_true) == pos_label
    p = np.asarray(y_pred) == pos_label
    return float(((~t & p).sum() + fn_cost * (t & ~p).sum()) / max(len(t), 1))


def _cost_score(y_true: Any, y_pred: Any, *, fn_cost: float, pos_label: Any) -> float:
    return -expected_cost(y_true, y_pred, fn_cost, pos_label)


def _fpr_score(y_true: Any, y_pred: Any, *, max_fpr: float, pos_label: Any) -> float:
    # Recall when the false-positive rate is within bounds; below any such value otherwise.
    pos_label = _positive(y_true, pos_label)
    t = np.asarray(y_true) == pos_label
    p = np.asarray(y_pred) == pos_label
    fpr = (~t & p).sum() / max((~t).sum(), 1)
    return float((t & p).sum() / max(t.sum(), 1)) if fpr <= max_fpr else -float(fpr)


def label_scorer(metric: str, pos_label: Any) -> Any:
    """A scikit-learn scorer on predicted labels for choosing a decision threshold.

    ``cost@x`` is negated (higher is better); ``recall_at_fpr@x`` scores recall where the
    false-positive rate is at most x; other names go to scikit-learn's scorers.
    """
    base, value = _split(metric)
    if base == "cost":
        return skm.make_scorer(_cost_score, fn_cost=value, pos_label=pos_label)
    if base == "recall_at_fpr":
        return skm.make_scorer(_fpr_score, max_fpr=value, pos_label=pos_label)
    return scorer_for("classification", metric)[0]


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
        elif _split(name)[0] == "cost":
            if binary:
                out[name] = expected_cost(y_true, y_pred, _split(name)[1] or 0.0, labels[1])
        elif proba is None:
            continue  # probability metrics need predict_proba
        elif name == "log_loss":
            out[name] = float(skm.log_loss(y_true, proba, labels=labels))
        elif len(set(np.asarray(y_true).tolist())) < 2:
            continue  # ranking metrics are undefined with one class present
        elif _split(name)[0] == "recall_at_fpr":
            if binary:
                out[name] = recall_at_fpr(y_true, proba[:, 1], _split(name)[1] or 0.0,
                                          labels[1])
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


def scorer_for(task: str, metric: str, n_classes: int = 2) -> tuple[Any, bool]:
    """The scikit-learn scorer (a name, or a scorer object for ``cost@x`` and
    ``recall_at_fpr@x``) for a metric, and whether it is negated."""
    binary = n_classes == 2
    base, value = _split(metric)
    if base == "cost" and binary:
        return skm.make_scorer(_cost_score, fn_cost=value, pos_label=None), True
    if base == "recall_at_fpr" and binary:
        return skm.make_scorer(recall_at_fpr, response_method="predict_proba",
                               max_fpr=value), False
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
    if metric not in table:
        raise InvalidInput(f"metric {metric!r} needs a binary target")
    return table[metric]


def default_primary(task: str, n_classes: int) -> str:
    """The metric that tuning optimises and comparisons use by default."""
    if task == "regression":
        return "rmse"
    return "roc_auc" if n_classes == 2 else "f1"
