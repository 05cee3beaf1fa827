"""Training specs: what to fit on which data, read from TOML, YAML, Python or a dict."""

from __future__ import annotations

import importlib.util
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..store import check_name
from ._ranking_spec import RankingSpec

__all__ = ["EstimatorSpec", "TrainSpec", "TuneSpec", "load_spec"]

TASKS = ("auto", "classification", "regression", "ranking")


@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator or transformer: an import path and its parameters.

    ``obj`` holds a ready-made estimator instead, when a Python spec gives one.
    """

    cls: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    obj: Any = None


@dataclass(frozen=True)
class TuneSpec:
    """Hyper-parameter search with Optuna.

    ``params`` maps a parameter name to ``{low, high, log?, step?}`` (a number range; int
    when both ends are ints) or ``{choices: [...]}``.
    """

    trials: int = 0
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeout_s: float | None = None
    cv: int = 3


@dataclass(frozen=True)
class TrainSpec:
    """Everything ``modelyard train`` needs.

    Example (TOML)::

        model = "cancer"
        dataset = "cancer@latest"
        target = "target"

        [estimator]
        class = "sklearn.ensemble.HistGradientBoostingClassifier"
        params = { max_iter = 200 }

        [evaluation]
        test_size = 0.2
        cv = 5
        threshold = "cost@10"  # binary only: the decision threshold that minimises the
                               # cost, chosen by 5-fold CV on the training part

    ``threshold`` names the metric (``f1``, ``cost@x``, ``recall_at_fpr@x`` ...) that picks
    the decision threshold; the model then predicts with it wherever it is loaded. An
    ``[image]`` table (``height``, ``width``, optional ``name``, ``channels``, ``scale``,
    ``columns``) registers the version with an image field over its pixel columns (see
    :meth:`~modelyard.registry.Signature.with_image`). ``executor = "ray"`` runs the
    tuning trials in parallel on a Ray cluster (``modelyard train`` connects to it).
    """

    model: str
    dataset: str
    target: str
    estimator: tuple[EstimatorSpec, ...]
    features: tuple[str, ...] = ()
    task: str = "auto"
    preprocess: str = "auto"
    experiment: str = "default"
    run_name: str = ""
    seed: int = 0
    test_size: float = 0.2
    cv: int = 0
    metrics: tuple[str, ...] = ()
    primary_metric: str = ""
    threshold: str = ""
    tune: TuneSpec = field(default_factory=TuneSpec)
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    source: str = ""
    ranking: RankingSpec | None = None
    image: dict[str, Any] | None = None
    executor: str = "local"

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (estimator objects shown by their repr)."""
        data = asdict(self)
        data["estimator"] = [
            {"class": e.cls or type(e.obj).__module__ + "." + type(e.obj).__qualname__,
             "params": e.params if e.obj is None else repr(e.obj)}
            for e in self.estimator
        ]
        return data


_TOP_KEYS = {
    "model", "dataset", "target", "features", "task", "preprocess", "experiment", "run_name",
    "seed", "estimator", "pipeline", "evaluation", "tune", "aliases", "alias", "tags",
    "ranking", "image", "executor",
}
_EVAL_KEYS = {"test_size", "cv", "metrics", "primary_metric", "primary", "threshold"}
_TUNE_KEYS = {"trials", "params", "timeout_s", "cv"}


def _where(source: str) -> str:
    return f" in {source}" if source else ""


def _estimator(raw: Any, source: str, what: str) -> EstimatorSpec:
    if isinstance(raw, str):
        return EstimatorSpec(cls=raw)
    if isinstance(raw, dict):
        unknown = set(raw) - {"class", "params"}
        if unknown or "class" not in raw:
            raise InvalidInput(
                f"{what}{_where(source)} must have 'class' (an import path such as "
                "'sklearn.linear_model.LogisticRegression') and optional 'params'"
                + (f"; unknown keys: {', '.join(sorted(unknown))}" if unknown else "")
            )
        params = raw.get("params", {}) or {}
        if not isinstance(params, dict):
            raise InvalidInput(f"{what}.params{_where(source)} must be a table of parameters")
        return EstimatorSpec(cls=str(raw["class"]), params=dict(params))
    if hasattr(raw, "fit"):
        return EstimatorSpec(obj=raw)
    raise InvalidInput(
        f"{what}{_where(source)} must be an import path, a table with 'class' and 'params', "
        f"or (in a Python spec) an estimator object; got {type(raw).__name__}"
    )


def _number(value: Any, key: str, source: str, *, kind: type, low: float, high: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"'{key}'{_where(source)} must be a number; got {value!r}")
    if kind is int and not isinstance(value, int):
        raise InvalidInput(f"'{key}'{_where(source)} must be a whole number; got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(f"'{key}'{_where(source)} must be in [{low}, {high}]; got {value!r}")
    return value


def spec_from_dict(raw: dict[str, Any], *, source: str = "") -> TrainSpec:
    """Check a spec given as plain data and build a :class:`TrainSpec`.

    Raises:
        InvalidInput: a missing or unknown key, or a value of the wrong kind, named.
    """
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise InvalidInput(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}"
            f"{_where(source)}; allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    for key in ("model", "dataset", "target"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise InvalidInput(f"the spec{_where(source)} needs '{key}' (a non-empty string)")
    check_name(raw["model"], "model")
    if "estimator" in raw and "pipeline" in raw:
        raise InvalidInput(f"give 'estimator' or 'pipeline'{_where(source)}, not both")
    if "pipeline" in raw:
        steps = raw["pipeline"]
        if not isinstance(steps, list) or not steps:
            raise InvalidInput(f"'pipeline'{_where(source)} must be a non-empty list of steps")
        estimator = tuple(_estimator(s, source, f"pipeline step {i + 1}")
                          for i, s in enumerate(steps))
    elif "estimator" in raw:
        estimator = (_estimator(raw["estimator"], source, "estimator"),)
    else:
        raise InvalidInput(
            f"the spec{_where(source)} needs an 'estimator' (e.g. [estimator] with "
            "class = \"sklearn.ensemble.HistGradientBoostingClassifier\") or a 'pipeline'"
        )
    task = raw.get("task", "auto")
    if task not in TASKS:
        raise InvalidInput(
            f"'task'{_where(source)} must be one of {', '.join(TASKS)}; got {task!r}"
        )
    ranking = None
    if task == "ranking":
        ranking = RankingSpec.parse(raw.get("ranking"), _where(source))
    elif "ranking" in raw:
        raise InvalidInput(f"a [ranking] table{_where(source)} needs task = \"ranking\"")
    image = raw.get("image")
    if image is not None:
        keys = {"name", "height", "width", "channels", "scale", "columns"}
        if (not isinstance(image, dict) or not {"height", "width"} <= set(image)
                or set(image) - keys):
            raise InvalidInput(f"[image]{_where(source)} needs height and width (and may give "
                               f"{', '.join(sorted(keys - {'height', 'width'}))}): the "
                               "request field that takes a whole image instead of its pixels")
    executor = raw.get("executor", "local")
    if executor not in ("local", "ray"):
        raise InvalidInput(f"'executor'{_where(source)} must be 'local' (tuning trials in this "
                           f"process) or 'ray' (in parallel on a Ray cluster); got {executor!r}")
    preprocess = raw.get("preprocess", "auto")
    if preprocess not in ("auto", "none"):
        raise InvalidInput(f"'preprocess'{_where(source)} must be 'auto' or 'none'")
    features = raw.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidInput(f"'features'{_where(source)} must be a list of column names")
    evaluation = raw.get("evaluation", {}) or {}
    if not isinstance(evaluation, dict) or set(evaluation) - _EVAL_KEYS:
        raise InvalidInput(
            f"[evaluation]{_where(source)} takes only: {', '.join(sorted(_EVAL_KEYS))}"
        )
    tune_raw = raw.get("tune", {}) or {}
    if not isinstance(tune_raw, dict) or set(tune_raw) - _TUNE_KEYS:
        raise InvalidInput(f"[tune]{_where(source)} takes only: {', '.join(sorted(_TUNE_KEYS))}")
    space = tune_raw.get("params", {}) or {}
    for name, dist in space.items():
        if not isinstance(dist, dict) or not ({"low", "high"} <= set(dist) or "choices" in dist):
            raise InvalidInput(
                f"tune parameter {name!r}{_where(source)} needs low and high "
                "(and optional log, step) or choices"
            )
    aliases = raw.get("aliases", [raw["alias"]] if "alias" in raw else [])
    metrics = evaluation.get("metrics", [])
    if not isinstance(metrics, list):
        raise InvalidInput(f"evaluation.metrics{_where(source)} must be a list of metric names")
    return TrainSpec(
        model=raw["model"],
        dataset=raw["dataset"],
        target=raw["target"],
        estimator=estimator,
        features=tuple(features),
        task=task,
        preprocess=preprocess,
        experiment=str(raw.get("experiment", "default")),
        run_name=str(raw.get("run_name", "")),
        seed=_number(raw.get("seed", 0), "seed", source, kind=int, low=0, high=2**32 - 1),
        test_size=_number(evaluation.get("test_size", 0.2), "evaluation.test_size", source,
                          kind=float, low=0.05, high=0.9),
        cv=_number(evaluation.get("cv", 0), "evaluation.cv", source, kind=int, low=0, high=50),
        metrics=tuple(str(m) for m in metrics),
        primary_metric=str(evaluation.get("primary_metric", evaluation.get("primary", ""))),
        threshold=str(evaluation.get("threshold", "")),
        tune=TuneSpec(
            trials=_number(tune_raw.get("trials", 0), "tune.trials", source,
                           kind=int, low=0, high=100_000),
            params={str(k): dict(v) for k, v in space.items()},
            timeout_s=tune_raw.get("timeout_s"),
            cv=_number(tune_raw.get("cv", 3), "tune.cv", source, kind=int, low=2, high=20),
        ),
        aliases=tuple(str(a) for a in aliases),
        tags={str(k): str(v) for k, v in (raw.get("tags", {}) or {}).items()},
        source=source,
        ranking=ranking,
        image=None if image is None else dict(image),
        executor=executor,
    )


def _load_python(path: Path) -> dict[str, Any]:
    module_name = f"_modelyard_spec_{abs(hash(str(path)))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise InvalidInput(f"cannot import {path} as Python")
    module = importlib.util.module_from_spec(loader_spec)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        raise InvalidInput(f"running spec {path} failed: {type(exc).__name__}: {exc}") from exc
    if hasattr(module, "spec") and callable(module.spec):
        raw = module.spec()
    elif hasattr(module, "SPEC"):
        raw = module.SPEC
    else:
        raise InvalidInput(f"{path} must define SPEC (a dict) or a function spec() returning one")
    if isinstance(raw, TrainSpec):
        return {"__spec__": raw}
    if not isinstance(raw, dict):
        raise InvalidInput(f"SPEC in {path} must be a dict; got {type(raw).__name__}")
    return raw


def load_spec(spec: str | os.PathLike[str] | dict[str, Any] | TrainSpec) -> TrainSpec:
    """Read a training spec from a TOML, YAML or Python file, a dict, or pass one through.

    Raises:
        InvalidInput: the file is missing or malformed, or the spec is incomplete.
    """
    if isinstance(spec, TrainSpec):
        return spec
    if isinstance(spec, dict):
        return spec_from_dict(spec)
    path = Path(spec)
    if not path.is_file():
        raise InvalidInput(f"spec file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    source = str(path)
    try:
        if suffix == ".toml":
            raw: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        elif suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        elif suffix == ".py":
            raw = _load_python(path)
            if "__spec__" in raw:
                return raw["__spec__"]  # type: ignore[no-any-return]
        else:
            raise InvalidInput(
                f"spec file {source!r} must end in .toml, .yaml, .yml or .py; got {suffix!r}"
            )
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"spec file {source!r} is not valid TOML: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):
            raise InvalidInput(f"spec file {source!r} is not valid YAML: {exc}") from exc
        raise
    if not isinstance(raw, dict):
        raise InvalidInput(f"spec file {source!r} must hold a table of keys; got {raw!r:.60}")
    return spec_from_dict(raw, source=source)
