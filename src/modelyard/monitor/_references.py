"""Reference profiles: what a model version's monitoring compares each window with.

A version's reference is its training data version's statistics, and those of the
version's own predictions on that data; it is computed on first use and stored with the
version. A log window (``window:START/END``) can serve as the reference instead: its served
inputs, and the version's predictions in it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ..errors import InvalidInput, NotFound
from ..registry import Lineage, Models
from ..store import ModelVersion, Store
from ._logread import read_prediction_log
from ._logstore import LogStore
from ._profile import ReferenceProfile, build_profile, feature_kind
from ._windows import parse_time

__all__ = ["version_profile", "window_profile"]

_LOG = logging.getLogger("modelyard.monitor")


def _task(version: ModelVersion) -> str:
    """What the version was trained to do (its lineage), else what its signature says."""
    lineage = Lineage.find(version)
    if lineage is not None and lineage.task:
        return lineage.task
    return str(version.signature.get("outputs", {}).get("task", "other"))


def version_profile(store: Store, models: Models, version: ModelVersion) -> ReferenceProfile:
    """``version``'s stored reference profile, computed from its training data and stored
    on first use (see :meth:`Monitor.profile <._monitor.Monitor.profile>`).

    Raises:
        NotFound: the training data is gone.
        InvalidInput: the version was registered without a dataset version.
    """
    stored = store.monitoring.get_profile(version.id)
    if stored is not None:
        return ReferenceProfile.from_dict(stored.profile)
    if version.dataset_version_id is None:
        raise InvalidInput(
            f"{version.ref} was registered without a dataset version, so it has no "
            "training data to compare with; register it with dataset_version=..., or "
            "monitor against a log window: reference='window:START/END'")
    dataset = store.datasets.get_version_by_id(version.dataset_version_id)
    if dataset is None:
        raise NotFound(f"the training data of {version.ref} is gone")
    frame = pd.read_parquet(store.artifacts.open_verified(dataset.blob_sha256))
    profile = _profile_frame(models, version, frame, f"dataset {dataset.ref}",
                             schema=dataset.schema)
    stored = store.monitoring.put_profile(version.id, dataset.id, profile.to_dict())
    return ReferenceProfile.from_dict(stored.profile)


def _profile_frame(models: Models, version: ModelVersion, frame: pd.DataFrame,
                   source: str, *, schema: Mapping[str, Any] | None = None) -> ReferenceProfile:
    inputs = version.signature.get("inputs")
    if inputs is None:
        lineage = Lineage.find(version)
        names = list(lineage.features) if lineage and lineage.features else list(frame.columns)
        inputs = [{"name": n, "type": _logical(frame[n])} for n in names
                  if n in frame.columns]
    types = {c["name"]: c["type"] for c in inputs if c["name"] in frame.columns}
    ranges: dict[str, tuple[Any, Any]] = {}
    allowed: dict[str, tuple[str, ...]] = {}
    for col in (schema or {}).get("columns", []):
        if col.get("name") in types:
            ranges[col["name"]] = (col.get("min"), col.get("max"))
            if col.get("categories"):
                allowed[col["name"]] = tuple(str(c) for c in col["categories"])
    for spec in inputs:
        if spec.get("categories") and spec["name"] not in allowed:
            allowed[spec["name"]] = tuple(str(c) for c in spec["categories"])
    task = _task(version)
    classes_raw = version.signature.get("outputs", {}).get("classes")
    classes = tuple(classes_raw) if classes_raw else None
    predictions = _reference_predictions(models, version, frame[list(types)], task, classes)
    return build_profile(frame, types, model=version.model, version=version.version,
                         source=source, ranges=ranges, allowed=allowed,
                         predictions=predictions, task=task, classes=classes)


def _reference_predictions(models: Models, version: ModelVersion, frame: pd.DataFrame,
                           task: str, classes: tuple[Any, ...] | None,
                           ) -> dict[str, tuple[Any, str]]:
    try:
        predictor = models.load(version)
        # Each distinct row is scored once (a recommender's reference is one row per rating
        # of a few hundred users); the predictions are then spread back over every row.
        rows, back = _distinct_rows(frame)
        predicted = np.asarray(predictor.predict(rows))[back]
        out: dict[str, tuple[Any, str]] = {"prediction": (
            predicted, "categorical" if task == "classification" else "float")}
        if task == "classification" and predictor.has_predict_proba and classes and \
                len(classes) == 2:
            out["score"] = (np.asarray(predictor.predict_proba(rows))[:, -1][back], "float")
        return out
    except Exception as exc:  # a model that cannot score its own data: no prediction drift
        _LOG.warning("no reference predictions for %s: %s", version.ref, exc)
        return {}


def _distinct_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """The distinct rows of ``frame`` and, for every row, the position of its copy there."""
    if len(frame) == 0 or len(frame.columns) == 0:
        return frame, np.arange(len(frame))
    try:
        keys = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (arrays, lists): score every row
        return frame, np.arange(len(frame))
    _, first, back = np.unique(keys, return_index=True, return_inverse=True)
    if len(first) > len(frame) // 2:  # mostly distinct: scoring them all is cheaper
        return frame, np.arange(len(frame))
    return frame.iloc[first], back.ravel()


def window_profile(model: str, text: str, log_root: LogStore,
                   version: ModelVersion) -> ReferenceProfile:
    """A reference from a log window: its served inputs, and ``version``'s predictions
    in it (another version's predictions are no reference for this one's)."""
    start_text, _, end_text = text.partition("/")
    start, end = parse_time(start_text or None), parse_time(end_text or None)
    table = read_prediction_log(log_root, model, start, end)
    if "alias" in table.column_names:
        table = table.filter(pc.invert(pc.fill_null(
            pc.equal(table.column("alias"), "shadow"), False)))
    if table.num_rows == 0:
        raise InvalidInput(f"the reference window {text!r} of {model!r} has no logged "
                           "predictions")
    types = {c["name"]: c["type"] for c in version.signature.get("inputs", [])
             if f"input.{c['name']}" in table.column_names}
    columns = {n: table.column(f"input.{n}") for n in types}
    classes_raw = version.signature.get("outputs", {}).get("classes")
    classes = tuple(classes_raw) if classes_raw else None
    task = _task(version)
    own = table.filter(pc.equal(table.column("version"), version.version))
    predictions: dict[str, tuple[Any, str]] = {}
    if "prediction" in own.column_names and own.num_rows:
        predictions["prediction"] = (own.column("prediction"), "categorical"
                                     if task == "classification" else "float")
        if classes and len(classes) == 2 and f"proba.{classes[-1]}" in own.column_names:
            predictions["score"] = (own.column(f"proba.{classes[-1]}"), "float")
    else:
        _LOG.info("the reference window %s of %s holds no predictions of %s: no "
                  "prediction drift for it", text, model, version.ref)
    return build_profile(columns, types, model=model, version=None,
                         source=f"log window {text}", predictions=predictions, task=task,
                         classes=classes)


def _logical(column: pd.Series[Any]) -> str:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "float"
    kind = "categorical" if isinstance(dtype, pd.CategoricalDtype) else "string"
    return kind if feature_kind(kind) else "string"
