"""Replay: rebuild a registered version from its lineage alone and compare.

A version trained by ``modelyard train`` carries its lineage: the dataset version it read
(an immutable, content-addressed record), the spec, the seed and the split, and its run holds
the tuned parameters. :func:`replay` reads exactly that data again (its blob's sha256
checked on read), trains the same spec with the tuned parameters fixed (no new search) in a
fresh tracked run tagged ``replay_of``, and puts the metrics side by side with the
registered ones, with the held-out rows' fingerprint and the library versions that differ.
Nothing about the original version changes; the rebuilt version is deleted after the
comparison unless it is kept (its run stays, tagged, as the record).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import InvalidInput, NotFound
from ..registry import Lineage
from ..store import ModelVersion
from ._spec import EstimatorSpec, TrainSpec, load_spec
from ._train import train
from ._workspace import Workspace

__all__ = ["MetricComparison", "ReplayReport", "replay"]

#: metrics that measure the machine, not the model: shown, never compared
_TIMING = ("_time_s", "_seconds", "_ms")


@dataclass(frozen=True)
class MetricComparison:
    """One metric, registered and replayed.

    Attributes:
        name: the metric.
        registered: its value on the original version (None: not recorded there).
        replayed: its value on the rebuilt model (None: not computed by the replay).
        compared: False for timings, which measure the machine, not the model.
    """

    name: str
    registered: float | None
    replayed: float | None
    compared: bool = True

    @property
    def difference(self) -> float | None:
        """``replayed - registered``, or None when either is missing."""
        if self.registered is None or self.replayed is None:
            return None
        return self.replayed - self.registered


@dataclass(frozen=True)
class ReplayReport:
    """What :func:`replay` found.

    Attributes:
        original: the version replayed.
        dataset: the dataset version read (``name@N``) and its content hash.
        content_hash: the dataset version's content hash.
        run_id: the replay's tracked run (tagged ``replay_of``).
        replayed: the rebuilt version (deleted again unless kept: then its ref is stale).
        kept: whether the rebuilt version was kept in the registry.
        metrics: every metric, side by side.
        tolerance: the largest absolute difference counted as the same number.
        same_split: whether the held-out rows are the very same (fingerprint), or None when
            the original recorded no fingerprint.
        environment: ``package -> (then, now)`` for each library version that differs.
        params: the tuned parameters fixed for the replay.
    """

    original: ModelVersion
    dataset: str
    content_hash: str
    run_id: str
    replayed: ModelVersion
    kept: bool
    metrics: tuple[MetricComparison, ...]
    tolerance: float
    same_split: bool | None
    environment: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[MetricComparison]:
        """The compared metrics whose difference is over the tolerance (or missing)."""
        out = []
        for m in self.metrics:
            if not m.compared or m.registered is None:
                continue
            diff = m.difference
            if diff is None or not (abs(diff) <= self.tolerance or (
                    math.isnan(m.registered) and m.replayed is not None
                    and math.isnan(m.replayed))):
                out.append(m)
        return out

    @property
    def reproduced(self) -> bool:
        """Every compared metric within the tolerance and the same held-out rows."""
        return not self.mismatches and self.same_split is not False

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``--json`` and the API)."""
        return {
            "version": self.original.ref, "dataset": self.dataset,
            "content_hash": self.content_hash, "run_id": self.run_id,
            "replayed_version": self.replayed.ref if self.kept else None,
            "reproduced": self.reproduced, "tolerance": self.tolerance,
            "same_split": self.same_split, "params": self.params,
            "metrics": [{"name": m.name, "registered": m.registered, "replayed": m.replayed,
                         "difference": m.difference, "compared": m.compared}
                        for m in self.metrics],
            "environment": {k: {"then": a, "now": b} for k, (a, b) in self.environment.items()},
        }


def _dataset_of(workspace: Workspace, version: ModelVersion) -> tuple[str, str]:
    """The exact dataset version the original read (``name@N``) and its content hash."""
    if version.dataset_version_id is None:
        raise InvalidInput(f"{version.ref} was registered without its dataset version, so it "
                           "cannot be replayed; train it with `modelyard train` to record one")
    ref = version.dataset_ref
    if not ref:
        raise NotFound(f"the dataset version {version.ref} was trained on (id "
                       f"{version.dataset_version_id}) was deleted, so it cannot be replayed")
    try:
        found = workspace.datasets.get(ref)
    except NotFound:
        raise NotFound(f"the dataset version {version.ref} was trained on ({ref}) was "
                       "deleted, so it cannot be replayed; the registered version itself "
                       "still loads and serves") from None
    if found.id != version.dataset_version_id:
        raise NotFound(f"the dataset version {version.ref} was trained on ({ref}, id "
                       f"{version.dataset_version_id}) was deleted; {ref} now names other "
                       f"data (id {found.id}, content {found.content_hash[:12]}); it cannot "
                       "be replayed")
    try:  # the data itself: its blob may be gone from the artifact store
        workspace.datasets.load(found.ref, columns=[found.schema["columns"][0]["name"]])
    except NotFound as exc:
        raise NotFound(f"the data of {found.ref} (content {found.content_hash[:12]}), which "
                       f"{version.ref} was trained on, is gone from the artifact store, so it "
                       f"cannot be replayed ({exc})") from None
    return found.ref, found.content_hash


_EVALUATION = ("test_size", "cv", "metrics", "primary_metric", "threshold")


def _spec_data(stored: dict[str, Any]) -> dict[str, Any]:
    """A lineage's spec (``TrainSpec.to_dict``: evaluation settings at the top) in the form
    a spec file has (an ``[evaluation]`` table), which ``load_spec`` reads."""
    data = {k: v for k, v in stored.items() if v is not None and k != "source"}
    evaluation = dict(data.get("evaluation") or {})
    for key in _EVALUATION:
        if key in data:
            value = data.pop(key)
            if value not in (None, "", [], ()):
                evaluation[key] = value
    if evaluation:
        data["evaluation"] = evaluation
    steps = data.pop("estimator", [])
    if isinstance(steps, list) and len(steps) > 1:
        data["pipeline"] = steps
    elif steps:
        data["estimator"] = steps[0] if isinstance(steps, list) else steps
    return data


def _value(text: str) -> Any:
    """A parameter logged as text, back as the number, bool or None it was."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def _tuned(workspace: Workspace, version: ModelVersion) -> dict[str, Any]:
    if not version.run_id:
        return {}
    params = workspace.runs.get(version.run_id).params
    return {k[len("best."):]: _value(v) for k, v in params.items() if k.startswith("best.")}


def _with_params(spec: TrainSpec, tuned: dict[str, Any]) -> TrainSpec:
    """The spec with the tuned parameters set on its estimator steps and no new search."""
    steps = list(spec.estimator)
    if any(s.obj is not None for s in steps):
        raise InvalidInput("the spec held a live estimator object (a Python spec), which its "
                           "lineage records only by repr; replay needs import paths")
    names = [s.cls.rsplit(".", 1)[-1].lower() for s in steps]
    for key, value in tuned.items():
        name = key.removeprefix("model__")
        index = len(steps) - 1
        step, _, param = name.partition("__")
        if param and step in names:
            index, name = names.index(step), param
        steps[index] = EstimatorSpec(cls=steps[index].cls,
                                     params={**steps[index].params, name: value})
    return replace(spec, estimator=tuple(steps), tune=replace(spec.tune, trials=0))


def _packages(workspace: Workspace, version: ModelVersion) -> dict[str, str]:
    """Package versions the run recorded, overlaid by those the registry stored."""
    found: dict[str, str] = {}
    if version.run_id:
        environment = workspace.runs.get(version.run_id).environment
        found.update({str(k): str(v) for k, v in (environment.get("packages") or {}).items()})
        if environment.get("python"):
            found["python"] = str(environment["python"])
    found.update({str(k): str(v) for k, v in (version.extra.get("libraries") or {}).items()})
    return found


def replay(workspace: Workspace, ref: str, *, tolerance: float = 1e-9,
           keep: bool = False) -> ReplayReport:
    """Rebuild a version from its lineage alone, in a fresh run, and compare.

    Args:
        workspace: where the data, runs and registry are (a :class:`~modelyard.Yard`).
        ref: the version (``fraud/versions/3``, ``fraud@champion`` ...).
        tolerance: the largest absolute difference of a metric still counted as the same
            (the default asks for the same numbers up to float rounding).
        keep: keep the rebuilt version in the registry (by default it is deleted after the
            comparison; its run stays, tagged ``replay_of``).

    Returns:
        The comparison; ``report.reproduced`` says whether every metric matched.

    Raises:
        InvalidInput: the version has no training lineage, or its spec cannot be rebuilt.
        NotFound: the version, or the dataset version it was trained on, was deleted.

    Example:
        >>> report = replay(yard, "fraud@champion")  # doctest: +SKIP
        >>> report.reproduced, [m.difference for m in report.metrics][:2]  # doctest: +SKIP
        (True, [0.0, 0.0])
    """
    original = workspace.models.get(ref)
    lineage = Lineage.of(original)
    if not lineage.spec:
        raise InvalidInput(f"{original.ref} has a lineage without its training spec; it "
                           "cannot be replayed")
    dataset, content_hash = _dataset_of(workspace, original)
    tuned = _tuned(workspace, original)
    spec = _with_params(load_spec(_spec_data(dict(lineage.spec))), tuned)
    spec = replace(spec, dataset=dataset, aliases=(),
                   run_name=f"replay-{original.model}-v{original.version}",
                   tags={**spec.tags, "replay_of": original.ref})
    if lineage.split is not None and spec.seed != lineage.split.seed:
        spec = replace(spec, seed=lineage.split.seed)
    result = train(workspace, spec, aliases=())
    rebuilt = result.model_version
    again = Lineage.find(rebuilt)
    same_split = None
    if lineage.split is not None and lineage.split.holdout_sha256 and again is not None \
            and again.split is not None:
        same_split = again.split.holdout_sha256 == lineage.split.holdout_sha256
    names = sorted(set(original.metrics) | set(rebuilt.metrics))
    metrics = tuple(MetricComparison(
        name, original.metrics.get(name), rebuilt.metrics.get(name),
        compared=not name.endswith(_TIMING)) for name in names)
    then, now = _packages(workspace, original), _packages(workspace, rebuilt)
    environment = {k: (then.get(k), now.get(k)) for k in sorted(set(then) | set(now))
                   if then.get(k) != now.get(k)}
    if not keep:
        workspace.models.delete_version(rebuilt.model, rebuilt.version, force=True)
    return ReplayReport(original=original, dataset=dataset, content_hash=content_hash,
                        run_id=result.run_id, replayed=rebuilt, kept=keep, metrics=metrics,
                        tolerance=tolerance, same_split=same_split, environment=environment,
                        params=tuned)
