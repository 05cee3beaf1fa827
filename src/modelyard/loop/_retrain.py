"""Retrain: the champion's own spec, on the newest data, as a new tracked run.

Every retraining run is tagged with its loop cycle, so a loop that died after registering
the new version finds it on restart instead of training again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InvalidInput
from ..registry import Lineage
from ..train import train
from ._policy import Policy
from ._triggers import training_dataset
from ._workspace import Workspace

if TYPE_CHECKING:
    from ..store import ModelVersion

__all__ = ["RemoteTrainer", "find_cycle_version", "retrain", "retrain_spec"]

CYCLE_TAG = "loop_cycle"
#: how often the loop renews its lease while a remote retraining runs
KEEP_ALIVE_S = 5.0


class RemoteTrainer(Protocol):
    """Trains a spec somewhere else (a Ray cluster) into the same store.

    ``modelyard.distributed.RayTrainer`` is one; the loop is handed it, by executor name.
    """

    def submit_training(self, spec: dict[str, Any]) -> Future[str]:
        """Start training ``spec``; the future holds the registered version's reference."""


def retrain_spec(champion: ModelVersion, policy: Policy, cycle: str) -> dict[str, Any]:
    """The spec (in the form a spec file has) that retrains the champion on new data.

    Raises:
        InvalidInput: the champion has no stored spec, or its estimator was a Python object.
    """
    lineage = Lineage.find(champion)
    spec = dict(lineage.spec) if lineage is not None else None
    if not spec:
        raise InvalidInput(f"{champion.ref} has no training spec; register champions with "
                           "`modelyard train` or give [loop.<model>.retrain] spec")
    dataset, _ = training_dataset(champion)
    steps = []
    for step in spec.get("estimator", []):
        if not isinstance(step.get("params"), dict):
            raise InvalidInput(f"{champion.ref} was trained from an estimator object; give "
                               f"[loop.{policy.model}.retrain] spec with its class and params")
        steps.append({"class": step["class"], "params": step["params"]})
    tune = {k: v for k, v in (spec.get("tune") or {}).items() if v is not None}
    tune["trials"] = policy.retrain.tune_trials
    raw: dict[str, Any] = {
        "model": policy.model, "dataset": f"{dataset}@latest", "target": spec["target"],
        "features": list(spec.get("features") or []), "task": spec.get("task", "auto"),
        "preprocess": spec.get("preprocess", "auto"),
        "experiment": spec.get("experiment", "default"), "run_name": f"loop-{cycle}",
        "seed": spec.get("seed", 0),
        "evaluation": {k: spec[k] for k in ("test_size", "cv", "metrics", "primary_metric",
                                            "threshold") if spec.get(k) is not None},
        "tune": tune, "tags": {**(spec.get("tags") or {}), CYCLE_TAG: cycle},
    }
    raw["evaluation"]["metrics"] = list(raw["evaluation"].get("metrics") or [])
    if spec.get("image"):
        raw["image"] = dict(spec["image"])
    if spec.get("task") == "ranking":  # recommenders are compared as trained, not tuned
        raw["ranking"] = dict(spec.get("ranking") or {})
        raw["tune"]["trials"] = 0
    raw["estimator" if len(steps) == 1 else "pipeline"] = steps[0] if len(steps) == 1 else steps
    for key, value in policy.retrain.spec.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    if "pipeline" in policy.retrain.spec or "estimator" in policy.retrain.spec:
        raw.pop("estimator" if "pipeline" in policy.retrain.spec else "pipeline", None)
    return raw


def find_cycle_version(ws: Workspace, model: str, cycle: str) -> ModelVersion | None:
    """The version a retraining of loop cycle ``cycle`` registered, if it got that far."""
    for version in reversed(ws.models.versions(model)[-20:]):
        if version.run_id and ws.runs.get(version.run_id).tags.get(CYCLE_TAG) == cycle:
            return version
    return None


def retrain(ws: Workspace, policy: Policy, champion: ModelVersion, cycle: str, *,
            trainers: Mapping[str, RemoteTrainer] | None = None,
            keep_alive: Callable[[], object] | None = None,
            keep_alive_s: float = KEEP_ALIVE_S) -> ModelVersion:
    """Train the challenger of loop cycle ``cycle`` (or find the one already trained).

    With ``[loop.<model>.retrain] executor`` other than ``local``, the training runs on
    the trainer of that name; ``keep_alive`` (the lease's renewal) is called every
    ``keep_alive_s`` while it runs.

    Raises:
        InvalidInput: the policy names an executor this loop was given no trainer for.
    """
    found = find_cycle_version(ws, policy.model, cycle)
    if found is not None:
        return found
    spec = retrain_spec(champion, policy, cycle)
    name = policy.retrain.executor
    if name == "local":
        result = train(ws, spec, aliases=())
        version: ModelVersion = result.model_version
        return version
    trainer = (trainers or {}).get(name)
    if trainer is None:
        raise InvalidInput(
            f"[loop.{policy.model}.retrain] executor = {name!r}, but this loop has no {name} "
            "trainer: run it with `modelyard loop start`, or pass trainers={'ray': "
            "modelyard.distributed.RayTrainer(yard.settings)} to Loop")
    future = trainer.submit_training(spec)
    while True:
        try:
            ref = future.result(timeout=keep_alive_s)
            break
        except TimeoutError:
            if keep_alive is not None:
                keep_alive()
    return ws.models.get(ref)
