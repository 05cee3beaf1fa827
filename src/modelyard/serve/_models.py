"""The served-model table: loaded versions, their batchers, and hot swap.

Each reference given to the server (``fraud@champion``, ``fraud/versions/2``, ``churn``) is a
:class:`ServedModel`. References that float (an alias, or the latest version) are re-resolved
every ``swap_poll_interval_s``; when one points elsewhere, the new version is loaded and
warmed up in a thread while the old one keeps answering, then the reference is switched in
one assignment on the event loop. Requests pick the version and queue on its batcher without
yielding in between, so each is answered by exactly one version and none waits for a load;
the old version's batcher finishes what it holds and is then closed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput, ModelyardError, NotFound
from ..monitor import FeatureSketches, LogSchema
from ..registry import MAX_IMAGE_PIXELS, Models, Predictor
from ..store import ModelVersion
from ._batching import MicroBatcher
from ._schemas import InputSchema, ParsedInput
from ._screening import RowScreen

__all__ = ["LoadedVersion", "ModelTable", "ServedModel"]

_LOG = logging.getLogger("modelyard.serve")


class SketchFeeder:
    """Counts served rows into live sketches on one background thread.

    Counting is vectorised per column but loops over columns, so a wide input (784 pixels)
    costs milliseconds: that must not sit on the batch thread, which answers requests.
    At most ``max_pending`` batches wait; past that a batch is dropped from the live view
    (counted in :attr:`dropped`), never delaying a prediction.
    """

    def __init__(self, max_pending: int = 256) -> None:
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=max_pending)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def submit(self, loaded: LoadedVersion, *batch: Any) -> None:
        """Queue a batch (rows, predictions, probabilities, columns) for ``loaded``."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="modelyard-sketch-feeder")
                self._thread.start()
        try:
            self._queue.put_nowait((loaded, *batch))
        except queue.Full:
            self.dropped += 1

    def drain(self, timeout_s: float = 5.0) -> None:
        """Wait (up to ``timeout_s``) until every queued batch is counted."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def _run(self) -> None:
        while True:
            loaded, rows, predictions, proba, columns = self._queue.get()
            try:
                sketches = loaded.sketches
                if sketches is not None:
                    sketches.update(rows, predictions, proba, columns=columns)
            except Exception:  # the live view must never fail a prediction
                loaded.sketches = None
                _LOG.exception("live sketches of %s stopped", loaded.version.ref)
            finally:
                self._queue.task_done()


#: the process's one feeder of live sketches
SKETCH_FEEDER = SketchFeeder()

# Classifiers whose predict() is the class of highest predict_proba(): for them one call
# gives both. For any other model predict() is called as well.
_ARGMAX_CLASSIFIERS = frozenset({
    "HistGradientBoostingClassifier", "GradientBoostingClassifier", "RandomForestClassifier",
    "ExtraTreesClassifier", "DecisionTreeClassifier", "ExtraTreeClassifier",
    "LogisticRegression", "LogisticRegressionCV", "GaussianNB", "MultinomialNB",
    "BernoulliNB", "ComplementNB", "CategoricalNB", "KNeighborsClassifier",
})

@dataclass(frozen=True)
class ModelRef:
    """A reference split into its parts (validated by the registry when it is resolved)."""

    name: str
    version: int | None = None
    alias: str | None = None


def parse_ref(ref: str) -> ModelRef:
    """Split ``name``, ``name@alias``, ``name@N``, ``name@latest`` or ``name/versions/N``.

    Raises:
        InvalidInput: none of these forms.
    """
    name, sep, number = ref.partition("/versions/")
    if sep:
        if not number.isdigit() or not name or "@" in name:
            raise InvalidInput(f"{ref!r} is not a model reference; use name, name@alias or "
                               "name/versions/N")
        return ModelRef(name, version=int(number))
    name, sep, tail = ref.partition("@")
    if not name or "/" in ref or (sep and not tail):
        raise InvalidInput(f"{ref!r} is not a model reference; use name, name@alias or "
                           "name/versions/N")
    if not sep or tail == "latest":
        return ModelRef(name)
    return ModelRef(name, version=int(tail)) if tail.isdigit() else ModelRef(name, alias=tail)


Result = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]


def _final_step(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


class LoadedVersion:
    """One model version in memory, with its validator, log schema and batcher.

    Args:
        predictor: the loaded version.
        max_rows: the most records per request.
        make_batcher: builds the batcher for this version's predict function.
        max_image_pixels: refuse image files whose header declares more pixels (413).
    """

    def __init__(self, predictor: Predictor, max_rows: int,
                 make_batcher: Callable[[LoadedVersion], MicroBatcher[ParsedInput, Result]],
                 max_image_pixels: int = MAX_IMAGE_PIXELS) -> None:
        self.predictor = predictor
        self.version: ModelVersion = predictor.version
        sig = predictor.signature
        self.input = InputSchema(sig, f"{self.version.model}_v{self.version.version}_record",
                                 max_rows, what=self.version.ref,
                                 max_image_pixels=max_image_pixels)
        model = predictor.model
        self._model = model
        #: refuses rows the model cannot take before they join a batch
        self.screen = RowScreen(model, list(self.input.columns), self.version.ref)
        self._wants_frame = hasattr(model, "feature_names_in_")
        self.has_proba = predictor.has_predict_proba
        classes = sig.outputs.classes
        if classes is None and self.has_proba and hasattr(model, "classes_"):
            classes = tuple(c.item() if isinstance(c, np.generic) else c for c in model.classes_)
        self.classes = list(classes) if (self.has_proba and classes is not None) else None
        self._class_array = np.asarray(getattr(model, "classes_", classes or []))
        self._argmax = (self.has_proba and len(self._class_array) > 0
                        and type(_final_step(model)).__name__ in _ARGMAX_CLASSIFIERS)
        self._int_columns = {c.name: (c.dtype or "int64") for c in sig.inputs or ()
                             if c.type == "integer"}
        self.log_schema = LogSchema(
            self.version.model, self.version.version,
            tuple((c.name, c.type) for c in sig.inputs or ()),
            sig.outputs.prediction_type, tuple(self.classes) if self.classes else None)
        self.loaded_at = time.time()
        #: live drift sketches, set once built (off the request path); ``None`` until then
        self.sketches: FeatureSketches | None = None
        self.batcher = make_batcher(self)

    def _model_input(self, items: list[ParsedInput]) -> tuple[Any, Any]:
        """What the model gets, and the same rows for the live sketches."""
        if self.input.numeric:
            matrix = items[0].matrix if len(items) == 1 else np.concatenate(
                [i.matrix for i in items if i.matrix is not None])
            if not self._wants_frame:
                return matrix, matrix
            frame = pd.DataFrame(matrix, columns=self.input.columns, copy=False)
            if self._int_columns:
                ints = {n: d for n, d in self._int_columns.items()
                        if not frame[n].isna().any()}
                frame = frame.astype(ints) if ints else frame
            return frame, matrix
        frame = self.predictor.prepare([r for i in items for r in i.records])
        return (frame if self._wants_frame else frame.to_numpy()), frame

    def predict_batch(self, items: list[ParsedInput]) -> list[Result]:
        """Predict many requests in one call; one ``(predictions, probabilities)`` each.

        The rows are handed to :data:`SKETCH_FEEDER`, which counts them into the version's
        live sketches (if any) on its own thread, off the request path.
        """
        data, rows = self._model_input(items)
        proba = np.asarray(self._model.predict_proba(data)) if self.has_proba else None
        if proba is not None and self._argmax:
            predictions = self._class_array[np.argmax(proba, axis=1)]
        else:
            predictions = np.asarray(self._model.predict(data))
        if self.sketches is not None:
            SKETCH_FEEDER.submit(self, rows, predictions, proba,
                                 self.input.columns if self.input.numeric else None)
        if len(items) == 1:
            return [(predictions, proba)]
        out: list[Result] = []
        start = 0
        for item in items:
            end = start + item.n
            out.append((predictions[start:end], None if proba is None else proba[start:end]))
            start = end
        return out

    def warm_up(self) -> None:
        """Predict the version's stored input example once, so first requests are not cold."""
        example = self.version.extra.get("input_example")
        if not example:
            return
        try:
            import json

            self.predict_batch([self.input.parse(json.dumps(example).encode())])
        except (ModelyardError, ValueError, TypeError) as exc:
            _LOG.warning("warm-up of %s failed: %s", self.version.ref, exc)


@dataclass(eq=False)
class ServedModel:
    """A reference the server answers for, and the version it currently answers with.

    Attributes:
        ref: the reference as given (``fraud@champion``).
        parsed: its parts.
        current: the loaded version answering now (``None`` until the first load).
        error: why the last load failed, if it did.
        coming: requests that started and have not yet queued (a batching hint).
    """

    ref: str
    parsed: ModelRef
    current: LoadedVersion | None = None
    error: str | None = None
    coming: int = 0

    @property
    def floating(self) -> bool:
        """Whether the version behind it can change (an alias, or the latest)."""
        return self.parsed.version is None

    @property
    def name(self) -> str:
        """The model name."""
        return self.parsed.name

    def describe(self) -> dict[str, Any]:
        """The JSON ``GET /v1/models`` shows for it."""
        cur = self.current
        out: dict[str, Any] = {"ref": self.ref, "model": self.name, "alias": self.parsed.alias,
                               "loaded": cur is not None}
        if cur is not None:
            sig = cur.predictor.signature
            out.update(version=cur.version.version, loaded_at=cur.loaded_at,
                       inputs=[c.to_dict() for c in sig.inputs or ()],
                       outputs=sig.outputs.to_dict())
        if self.error:
            out["error"] = self.error
        return out


class ModelTable:
    """Every served reference, the loaded versions behind them, and the swap loop.

    Args:
        models: the registry.
        refs: the references to serve; each must resolve now.
        max_rows: the most records per request.
        make_batcher: builds a version's batcher.
        max_image_pixels: the largest image a request may send, in pixels.
        on_swap: called with ``(served, loaded)`` after each switch (metrics).

    Raises:
        NotFound: a reference that names nothing.
        InvalidInput: a reference that is not one.
    """

    def __init__(
        self,
        models: Models,
        refs: list[str],
        *,
        max_rows: int,
        make_batcher: Callable[[LoadedVersion], MicroBatcher[ParsedInput, Result]],
        on_swap: Callable[[ServedModel, LoadedVersion], None] | None = None,
        max_image_pixels: int = MAX_IMAGE_PIXELS,
    ) -> None:
        self._models = models
        self._max_rows = max_rows
        self._max_image_pixels = max_image_pixels
        self._make_batcher = make_batcher
        self._on_swap = on_swap
        self.served: dict[str, ServedModel] = {}
        self._targets: dict[str, ModelVersion] = {}
        for ref in refs:
            parsed = parse_ref(ref)
            if ref in self.served:
                continue
            self._targets[ref] = models.get(ref)
            self.served[ref] = ServedModel(ref, parsed)
        self._loaded: dict[int, LoadedVersion] = {}
        self._held: set[int] = set()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def ready(self) -> bool:
        """Whether every reference has a loaded version."""
        return all(s.current is not None for s in self.served.values())

    # -- finding what a request names -------------------------------------------------

    def find(self, ref: str) -> tuple[ServedModel, int | None]:
        """The served entry a request path names, and the version it asks for (if any).

        ``name`` is its ``name`` (latest) reference if served, else the first reference of
        that model given at start. ``name@alias`` must be served as such.
        ``name/versions/N`` and ``name@N`` are any served reference at version ``N``.

        Raises:
            NotFound: nothing served matches; the message lists what is.
            InvalidInput: ``ref`` is not a reference.
        """
        parsed = parse_ref(ref)
        if parsed.version is None and ref in self.served:
            return self.served[ref], None
        candidates = [s for s in self.served.values() if s.name == parsed.name]
        if parsed.version is not None:
            for s in candidates:
                if s.current is not None and s.current.version.version == parsed.version:
                    return s, parsed.version
        elif parsed.alias is None and candidates:
            return candidates[0], None
        served = ", ".join(self.served)
        raise NotFound(f"{ref} is not served here; served: {served}")

    # -- loading and swapping -----------------------------------------------------------

    def _load(self, version: ModelVersion) -> LoadedVersion:
        predictor = self._models.load(version)
        loaded = LoadedVersion(predictor, self._max_rows, self._make_batcher,
                               self._max_image_pixels)
        loaded.warm_up()
        return loaded

    async def _loaded_version(self, version: ModelVersion) -> LoadedVersion:
        loaded = self._loaded.get(version.id)
        if loaded is None:
            loaded = await asyncio.to_thread(self._load, version)
            self._loaded[version.id] = loaded
        return loaded

    async def load_all(self) -> None:
        """Load the version of every reference (at start); a failure is kept in ``error``."""
        for ref, served in self.served.items():
            try:
                self._switch(served, await self._loaded_version(self._targets[ref]))
            except ModelyardError as exc:
                served.error = exc.message
                _LOG.error("cannot load %s: %s", ref, exc.message)
            except Exception as exc:  # a model that breaks on load: say so in /ready
                served.error = f"{type(exc).__name__}: {exc}"
                _LOG.exception("cannot load %s", ref)

    def _switch(self, served: ServedModel, loaded: LoadedVersion) -> None:
        old = served.current
        served.current = loaded  # the switch: one assignment, on the event loop
        served.error = None
        if self._on_swap is not None:
            self._on_swap(served, loaded)
        if old is not None and old is not loaded and old.version.id not in self._held \
                and not any(s.current is old for s in self.served.values()):
            self._loaded.pop(old.version.id, None)
            self._close_later(old)

    async def refresh(self) -> list[str]:
        """Re-resolve floating references; load and switch to versions that changed.

        Returns:
            The references switched.
        """
        switched: list[str] = []
        for ref, served in self.served.items():
            if not served.floating and served.current is not None:
                continue
            try:
                target = await asyncio.to_thread(self._models.get, ref)
            except NotFound as exc:
                _LOG.warning("%s no longer resolves (%s); still serving what it was",
                             ref, exc.message)
                continue
            current = served.current
            if current is not None and current.version.id == target.id:
                continue
            try:
                loaded = await self._loaded_version(target)
            except Exception as exc:  # keep serving the old version
                message = exc.message if isinstance(exc, ModelyardError) else repr(exc)
                served.error = f"cannot load {target.ref}: {message}"
                _LOG.error("%s", served.error)
                continue
            self._switch(served, loaded)
            _LOG.info("%s now answers with %s", ref, target.ref)
            switched.append(ref)
        return switched

    async def acquire(self, version: ModelVersion) -> LoadedVersion:
        """Load ``version`` (in a thread) or reuse it if loaded, and keep it loaded until
        :meth:`release` (a rollout's challenger; a later swap to it is then instant)."""
        loaded = await self._loaded_version(version)
        self._held.add(version.id)
        return loaded

    def release(self, loaded: LoadedVersion) -> None:
        """Stop holding a version from :meth:`acquire`; unload it unless a served
        reference answers with it."""
        self._held.discard(loaded.version.id)
        if any(s.current is loaded for s in self.served.values()):
            return
        if self._loaded.get(loaded.version.id) is loaded:
            del self._loaded[loaded.version.id]
        self._close_later(loaded)

    def _close_later(self, loaded: LoadedVersion) -> None:
        task = asyncio.get_running_loop().create_task(loaded.batcher.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Let every batcher finish what it holds, then stop them."""
        batchers = {id(s.current): s.current.batcher for s in self.served.values()
                    if s.current is not None}
        batchers.update({id(v): v.batcher for v in self._loaded.values()})
        await asyncio.gather(*(b.close() for b in batchers.values()), *self._closing)
