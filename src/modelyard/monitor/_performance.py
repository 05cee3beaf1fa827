"""Model quality on delayed labels: predictions joined with the feedback that arrived.

A window's quality counts only its labelled predictions. It reports their share
(``coverage``) and how long labels took (``label_delay_*_s``: feedback time minus
prediction time), so a recent window with few labels is read as "not known yet" rather than
"bad". Re-evaluating a window later joins the labels that arrived since; the stored result
is replaced. Alerts on quality wait for ``min_labelled_rows`` labelled predictions.

A window's rows are counted per model version (``_windows.VersionCounts``): each version's
labelled predictions are scored apart and against its own registered metrics, so accuracy
right after a promotion is not a blend of the old champion's and the new one's. A label
joins on ``(request_id, row)``, so it scores both the served row and a shadow's prediction
of the same row, each in its own version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..store import LabelColumns

__all__ = ["LabelIndex", "Performance", "PerformanceCounts"]


class LabelIndex:
    """Feedback labels ready to be joined with log batches on ``(request_id, row)``."""

    def __init__(self, labels: LabelColumns) -> None:
        self.labels = labels.label
        self.table = pa.table({
            "request_id": pa.array(labels.request_id, type=pa.string()),
            "row": pa.array(labels.row.astype(np.int32), type=pa.int32()),
            "__label": pa.array(np.arange(len(labels.label), dtype=np.int64)),
            "__at": pa.array(labels.at, type=pa.float64()),
        })

    def __len__(self) -> int:
        return len(self.labels)

    def match(self, batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions in ``batch`` of labelled rows, their label indices and label times."""
        if not len(self.labels):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        keys = pa.table({"request_id": batch.column("request_id"),
                         "row": pc.cast(batch.column("row"), pa.int32()),
                         "__pos": pa.array(np.arange(batch.num_rows, dtype=np.int64))})
        joined = keys.join(self.table, ["request_id", "row"], join_type="inner")
        return (joined.column("__pos").to_numpy(), joined.column("__label").to_numpy(),
                joined.column("__at").to_numpy())


@dataclass(frozen=True)
class Performance:
    """Model quality on one window's labelled predictions.

    Attributes:
        n_predictions: predictions in the window.
        n_labelled: those with a label so far.
        coverage: ``n_labelled / n_predictions``.
        metrics: accuracy, precision, recall, f1, roc_auc (classifiers; binary ones on the
            positive class, the last class, else macro-averaged), or mae, rmse
            (regressors); empty without labels.
        baseline: the same metrics as registered with the model version (its test split).
        label_delay_p50_s: median time from prediction to label.
        label_delay_p90_s: 90th percentile.
        label_delay_max_s: longest.
    """

    n_predictions: int
    n_labelled: int
    coverage: float
    metrics: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    label_delay_p50_s: float | None = None
    label_delay_p90_s: float | None = None
    label_delay_max_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Performance:
        """Read the JSON form back."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def _normalise(values: list[Any] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in arr):
        return arr.astype(np.float64)
    return np.asarray([str(v) for v in arr], dtype=object)


@dataclass
class PerformanceCounts:
    """The labelled predictions of a window (memory grows with labelled rows only)."""

    classes: tuple[Any, ...] | None = None
    n_predictions: int = 0
    y_true: list[Any] = field(default_factory=list)
    y_pred: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    delays: list[np.ndarray] = field(default_factory=list)

    def update(self, batch: pa.RecordBatch, labels: LabelIndex, *,
               rows: np.ndarray | None = None,
               matched: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        """Join one log batch with the labels and keep the labelled rows.

        Args:
            batch: log rows.
            labels: the labels to join.
            rows: count only these rows of ``batch`` (a boolean mask), e.g. one version's.
            matched: ``labels.match(batch)`` when already joined (one join per batch,
                however many versions' rows it holds).
        """
        self.n_predictions += batch.num_rows if rows is None else int(rows.sum())
        pos, idx, at = matched if matched is not None else labels.match(batch)
        if rows is not None and pos.size:
            keep = rows[pos]
            pos, idx, at = pos[keep], idx[keep], at[keep]
        if not pos.size:
            return
        take = pa.array(pos)
        self.y_true.extend(labels.labels[i] for i in idx.tolist())
        self.y_pred.append(np.asarray(pc.take(batch.column("prediction"), take).to_numpy(
            zero_copy_only=False)))
        ts = pc.take(batch.column("ts"), take).cast(pa.int64()).to_numpy() / 1e6
        self.delays.append(at - ts)
        if self.classes:
            names = [f"proba.{c}" for c in self.classes]
            if all(n in batch.schema.names for n in names):
                self.scores.append(np.column_stack([
                    np.asarray(pc.take(batch.column(n), take).to_numpy(zero_copy_only=False),
                               dtype=np.float64) for n in names]))

    def result(self, task: str, baseline: Mapping[str, float] | None = None) -> Performance:
        """The quality metrics of the labelled rows."""
        n = len(self.y_true)
        delays = np.concatenate(self.delays) if self.delays else np.zeros(0)
        metrics: dict[str, float] = {}
        if n:
            y_pred = np.concatenate(self.y_pred)
            metrics = (_classification(self.y_true, y_pred, self.classes, self.scores)
                       if task == "classification" else _regression(self.y_true, y_pred))
        wanted = set(metrics) or {"accuracy", "precision", "recall", "f1", "roc_auc", "mae",
                                  "rmse"}
        base = {k: float(v) for k, v in (baseline or {}).items()
                if k in wanted and isinstance(v, int | float)}
        return Performance(
            n_predictions=self.n_predictions, n_labelled=n,
            coverage=n / self.n_predictions if self.n_predictions else 0.0,
            metrics=metrics, baseline=base,
            label_delay_p50_s=float(np.quantile(delays, 0.5)) if n else None,
            label_delay_p90_s=float(np.quantile(delays, 0.9)) if n else None,
            label_delay_max_s=float(delays.max()) if n else None)


def _classification(y_true_raw: list[Any], y_pred_raw: np.ndarray,
                    classes: tuple[Any, ...] | None,
                    scores: list[np.ndarray]) -> dict[str, float]:
    from sklearn import metrics as skm

    y_true, y_pred = _normalise(y_true_raw), _normalise(y_pred_raw)
    if y_true.dtype != y_pred.dtype:  # labels and predictions of different kinds: compare text
        y_true = np.asarray([str(v) for v in y_true_raw], dtype=object)
        y_pred = np.asarray([str(v) for v in y_pred_raw.tolist()], dtype=object)
    labels = (list(_normalise(list(classes))) if classes and _normalise(list(classes)).dtype
              == y_true.dtype else sorted(set(y_true.tolist()) | set(y_pred.tolist())))
    binary = len(labels) == 2
    avg = "binary" if binary else "macro"
    extra: dict[str, Any] = {"pos_label": labels[-1]} if binary else {"labels": labels}
    out = {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                     ("f1", skm.f1_score)):
        out[name] = float(fn(y_true, y_pred, average=avg, zero_division=0, **extra))
    if scores and len(set(y_true.tolist())) > 1:
        proba = np.concatenate(scores)
        if proba.shape[0] == len(y_true) and not np.isnan(proba).any():
            if binary:
                out["roc_auc"] = float(skm.roc_auc_score(y_true == labels[-1], proba[:, -1]))
            elif set(y_true.tolist()) <= set(labels):
                out["roc_auc"] = float(skm.roc_auc_score(
                    y_true, proba / proba.sum(axis=1, keepdims=True), multi_class="ovr",
                    labels=labels))
    return out


def _regression(y_true_raw: list[Any], y_pred_raw: np.ndarray) -> dict[str, float]:
    y_true = np.asarray([math.nan if v is None else float(v) for v in y_true_raw])
    y_pred = np.asarray(y_pred_raw, dtype=np.float64)
    ok = ~(np.isnan(y_true) | np.isnan(y_pred))
    if not ok.any():
        return {}
    err = y_true[ok] - y_pred[ok]
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2)))}
