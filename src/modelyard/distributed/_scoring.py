"""Batch scoring: a model version over a whole dataset version, written as a new version.

The rows are checked against the model's signature once, before any work, by the same
check that guards the prediction service and :meth:`Predictor.predict` (a bad column fails
the whole job with every violation named, and nothing is written). The checked frame is cut
into chunks of ``batch_size`` rows; each chunk is scored by :class:`BatchScorer`, in this
process one after another (``executor="local"``) or as Ray Data blocks on a cluster's
workers (``executor="ray"``, one actor per CPU, the model sent once to each). Both paths
score the same chunks with the same code and keep the rows' order, so their outputs are
identical.

The predictions become a version of a dataset (``<input>-scored-<model>`` by default): the
input's columns, ``prediction`` and, for a classifier, ``proba_<class>`` per class. Its
lineage is a tracked run (experiment ``scoring``) whose inputs are the input version
(role ``score_input``) and the predictions (role ``predictions``) and whose tags name the
model version, so ``modelyard datasets`` and ``modelyard runs`` show where it came from.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ._cluster import RayCluster

if TYPE_CHECKING:
    from ..store import DatasetVersion, ModelVersion
    from ..yard import Yard

__all__ = ["BatchScorer", "ScoreResult", "score"]

SCORERS = ("local", "ray")


class BatchScorer:
    """Score one chunk of checked rows: ``prediction`` and ``proba_<class>`` columns.

    Args:
        model: the fitted model.
        wants_frame: give it the frame (a model fitted on named columns), else an array.
        classes: a classifier's labels in ``predict_proba``'s order; ``None``: no
            probabilities.

    Example:
        >>> BatchScorer(model, wants_frame=True, classes=[0, 1])(chunk)  # doctest: +SKIP
    """

    def __init__(self, model: Any, *, wants_frame: bool, classes: list[Any] | None) -> None:
        self.model = model
        self.wants_frame = wants_frame
        self.classes = classes

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """The predictions of ``chunk``'s rows, in order."""
        data = chunk if self.wants_frame else chunk.to_numpy()
        out = pd.DataFrame({"prediction": np.asarray(self.model.predict(data))})
        if self.classes is not None:
            proba = np.asarray(self.model.predict_proba(data))
            for i, label in enumerate(self.classes):
                out[f"proba_{label}"] = proba[:, i]
        return out


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring job wrote.

    Attributes:
        output: the new (or identical existing) dataset version of the predictions.
        model_version: the model version that scored.
        input: the dataset version scored.
        run_id: the scoring run that records the lineage.
        rows: rows scored.
        seconds: the scoring's wall time (loading and writing excluded).
        executor: ``local`` or ``ray``.
    """

    output: DatasetVersion
    model_version: ModelVersion
    input: DatasetVersion
    run_id: str
    rows: int
    seconds: float
    executor: str


class _RemoteScorer(BatchScorer):
    """A :class:`BatchScorer` on a Ray Data actor: the model comes from the object store
    (put there once by the driver), not pickled into every actor's arguments."""

    def __init__(self, model_ref: Any, *, wants_frame: bool, classes: list[Any] | None) -> None:
        import ray

        super().__init__(ray.get(model_ref), wants_frame=wants_frame, classes=classes)


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size].reset_index(drop=True)


def _score_local(scorer: BatchScorer, frame: pd.DataFrame, size: int,
                 on_rows: Callable[[int], None] | None) -> pd.DataFrame:
    parts = []
    for chunk in _chunks(frame, size):
        parts.append(scorer(chunk))
        if on_rows is not None:
            on_rows(len(chunk))
    return pd.concat(parts, ignore_index=True)


def _score_ray(scorer: BatchScorer, frame: pd.DataFrame, size: int, cluster: RayCluster,
               on_rows: Callable[[int], None] | None) -> pd.DataFrame:
    ray = cluster.connect()
    with warnings.catch_warnings():  # Ray Data's own defaults warn of its own deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        import ray.data

        context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # the output's rows in the input's order
    context.enable_progress_bars = False  # the caller draws its own
    context.print_on_execution_start = False
    # Ray Data narrates each execution at INFO; the caller shows progress and the result
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    actors = min(cluster.cpus(), max(1, -(-len(frame) // size)))
    blocks = ray.data.from_pandas(list(_chunks(frame, size)))
    mapped = blocks.map_batches(
        _RemoteScorer, fn_constructor_kwargs={"model_ref": ray.put(scorer.model),
                                              "wants_frame": scorer.wants_frame,
                                              "classes": scorer.classes},
        batch_size=None, batch_format="pandas", compute=ray.data.ActorPoolStrategy(
            min_size=1, max_size=actors), num_cpus=1)
    parts: list[pd.DataFrame] = []
    for part in mapped.iter_batches(batch_size=None, batch_format="pandas"):
        parts.append(part)
        if on_rows is not None:
            on_rows(len(part))
    return pd.concat(parts, ignore_index=True)


def score(
    yard: Yard,
    model: str,
    dataset: str,
    *,
    executor: str = "ray",
    output: str | None = None,
    batch_size: int = 10_000,
    keep_input: bool = True,
    cluster: RayCluster | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ScoreResult:
    """Score a whole dataset version with a model version and store the predictions.

    Args:
        yard: the yard holding both.
        model: the model reference (``fraud@champion``, ``fraud/versions/3``).
        dataset: the dataset reference (``tx@4``, ``tx@latest``).
        executor: ``ray`` (Ray Data on the cluster) or ``local`` (chunks, in this process).
        output: the dataset the predictions go to (``<dataset>-scored-<model>``).
        batch_size: rows per chunk.
        keep_input: write the input's columns beside the predictions.
        cluster: the Ray cluster (a local one is started and stopped when omitted).
        on_rows: called with each chunk's row count as it is scored (a progress bar).

    Returns:
        The stored predictions' version and the lineage run.

    Raises:
        NotFound: the model or dataset version does not exist.
        ValidationFailed: the rows break the model's signature (every bad column named).
        InvalidInput: a bad executor, batch size or output name, or a column clash.
        ClusterUnavailable: the Ray cluster cannot be reached or started.

    Example:
        >>> score(yard, "fraud@champion", "tx@latest", executor="local").output.ref
        ... # doctest: +SKIP
        'tx-scored-fraud@1'
    """
    if executor not in SCORERS:
        raise InvalidInput(f"executor must be one of {', '.join(SCORERS)}; got {executor!r}")
    if batch_size < 1:
        raise InvalidInput(f"batch size must be at least 1 row, not {batch_size}")
    version = yard.models.get(model)
    predictor = yard.models.load(version)
    source = yard.datasets.get(dataset)
    frame = yard.datasets.load(source.ref)
    if frame.empty:
        raise InvalidInput(f"dataset version {source.ref} has no rows to score")
    inputs = predictor.signature.inputs
    # Columns that are no input of the model (an id, the label) ride along to the output;
    # the model's own columns are checked as the prediction service checks a request.
    wanted = frame if inputs is None else frame[[c.name for c in inputs if c.name in frame]]
    checked = predictor.prepare(wanted)
    classes = predictor.classes if predictor.has_predict_proba else None
    scorer = BatchScorer(predictor.model, classes=classes,
                         wants_frame=hasattr(predictor.model, "feature_names_in_"))
    name = output or f"{source.dataset}-scored-{version.model}"
    started = time.perf_counter()
    if executor == "local":
        predictions = _score_local(scorer, checked, batch_size, on_rows)
    else:
        own = cluster is None
        cluster = cluster or RayCluster()
        try:
            predictions = _score_ray(scorer, checked, batch_size, cluster, on_rows)
        finally:
            if own:
                cluster.close()
    seconds = time.perf_counter() - started
    if keep_input:
        clash = sorted(set(frame.columns) & set(predictions.columns))
        if clash:
            raise InvalidInput(f"{source.ref} already has column(s) {', '.join(clash)}; score "
                               "without its columns (--predictions-only) or rename them")
        predictions = pd.concat([frame.reset_index(drop=True), predictions], axis=1)
    with yard.runs.start(f"score-{version.model}", experiment="scoring", tags={
            "model_version": version.ref, "input": source.ref, "executor": executor}) as run:
        stored = yard.datasets.ingest(
            predictions, name=name,
            description=f"predictions of {version.ref} on {source.ref} (scoring run {run.id})")
        run.log_input(source, role="score_input")
        run.log_input(stored, role="predictions")
        run.set_tag("output", stored.ref)
        run.log_params({"model": version.ref, "dataset": source.ref, "batch_size": batch_size,
                        "executor": executor})
        run.log_metrics({"rows": float(len(frame)), "score_seconds": seconds,
                         "rows_per_second": len(frame) / seconds if seconds > 0 else 0.0})
    return ScoreResult(output=stored, model_version=version, input=source, run_id=run.id,
                       rows=len(frame), seconds=seconds, executor=executor)
