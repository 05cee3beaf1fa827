"""Build scikit-learn-compatible estimators from specs, with automatic preprocessing."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from ..errors import InvalidInput
from ._spec import EstimatorSpec

__all__ = ["build_estimator", "default_search_space", "import_object", "with_preprocessing"]


def import_object(path: str) -> Any:
    """Import ``package.module.Name``.

    Raises:
        InvalidInput: the module or the name does not exist, said plainly.
    """
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise InvalidInput(
            f"estimator {path!r} is not an import path; write e.g. "
            "'sklearn.linear_model.LogisticRegression'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(
            f"cannot import estimator {path!r}: module {module_name!r} is not installed "
            f"({exc}); check the spelling or pip install it"
        ) from exc
    if not hasattr(module, attr):
        raise InvalidInput(f"cannot import estimator {path!r}: {module_name} has no {attr!r}")
    return getattr(module, attr)


def _nested(value: Any, where: str, *, inner: bool = False) -> Any:
    """Build the estimators inside parameters: a table with exactly 'class' and optional
    'params' is one (``ColumnTransformer``'s transformers, a wrapped estimator ...); a list
    inside a list becomes a tuple, as ``(name, transformer, columns)`` triples are, and so
    does a list of numbers (``ngram_range = [1, 2]``), as scikit-learn's ranges are."""
    if isinstance(value, dict) and "class" in value and set(value) <= {"class", "params"}:
        return _make(EstimatorSpec(cls=str(value["class"]), params=dict(value.get("params")
                                                                         or {})), where)
    if isinstance(value, list):
        items = [_nested(v, where, inner=True) for v in value]
        numbers = bool(items) and all(isinstance(v, int | float) for v in items)
        return tuple(items) if inner or numbers else items
    return value


def _make(step: EstimatorSpec, where: str) -> Any:
    if step.obj is not None:
        return clone(step.obj)
    factory = import_object(step.cls)
    try:
        obj = factory(**{k: _nested(v, where) for k, v in step.params.items()})
    except TypeError as exc:
        raise InvalidInput(f"{where} {step.cls}: bad parameters {step.params}: {exc}") from exc
    if not hasattr(obj, "fit"):
        raise InvalidInput(f"{where} {step.cls} is not an estimator (it has no fit method)")
    return obj


def build_estimator(steps: tuple[EstimatorSpec, ...]) -> Any:
    """One estimator, or a pipeline of the steps in order (the last one predicts)."""
    if len(steps) == 1:
        return _make(steps[0], "estimator")
    return make_pipeline(*(_make(s, f"pipeline step {i + 1}") for i, s in enumerate(steps)))


def _handles_missing(estimator: Any) -> bool:
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    try:
        return bool(final.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:
        return False


def with_preprocessing(estimator: Any, X: pd.DataFrame) -> Any:
    """Wrap the estimator so it takes the raw frame: one-hot for text and category columns,
    median imputation for numeric columns with gaps when the estimator cannot take NaN.

    Returns the estimator unchanged when every column is numeric and complete.
    """
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])
                   or isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    needs_impute = bool(numeric) and bool(X[numeric].isna().to_numpy().any()) \
        and not _handles_missing(estimator)
    if not categorical and not needs_impute:
        return estimator
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(
            ("numeric", SimpleImputer(strategy="median") if needs_impute else "passthrough",
             numeric)
        )
    if categorical:
        transformers.append((
            "categorical",
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value="__missing__"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            ),
            categorical,
        ))
    pre = ColumnTransformer(transformers, verbose_feature_names_out=False)
    return Pipeline([("preprocess", pre), ("model", estimator)])


def prepare_categoricals(X: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain ``object`` strings, so encoders see one kind of value."""
    out = X.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(
                out[col]):
            out[col] = out[col].astype(object).where(out[col].notna(), np.nan)
    return out


_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "HistGradientBoostingClassifier": {
        "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "max_leaf_nodes": {"low": 8, "high": 64},
        "min_samples_leaf": {"low": 5, "high": 100},
        "l2_regularization": {"low": 1e-6, "high": 10.0, "log": True},
    },
    "RandomForestClassifier": {
        "n_estimators": {"low": 50, "high": 400},
        "max_depth": {"low": 3, "high": 20},
        "min_samples_leaf": {"low": 1, "high": 20},
    },
    "GradientBoostingClassifier": {
        "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "n_estimators": {"low": 50, "high": 300},
        "max_depth": {"low": 2, "high": 6},
    },
    "LogisticRegression": {"C": {"low": 1e-3, "high": 100.0, "log": True}},
    "Ridge": {"alpha": {"low": 1e-3, "high": 100.0, "log": True}},
    "Lasso": {"alpha": {"low": 1e-4, "high": 10.0, "log": True}},
}
_SPACES["HistGradientBoostingRegressor"] = _SPACES["HistGradientBoostingClassifier"]
_SPACES["RandomForestRegressor"] = _SPACES["RandomForestClassifier"]
_SPACES["GradientBoostingRegressor"] = _SPACES["GradientBoostingClassifier"]


def default_search_space(estimator: Any) -> dict[str, dict[str, Any]]:
    """A sensible search space for well-known estimators, keyed as ``set_params`` wants."""
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        inner = default_search_space(final)
        return {f"{name}__{k}": v for k, v in inner.items()}
    return dict(_SPACES.get(type(estimator).__name__, {}))


def infer_task(estimator: Any, y: pd.Series) -> str:
    """``classification`` or ``regression``, from the estimator, else from the target."""
    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    if pd.api.types.is_float_dtype(y) and y.nunique() > 20:
        return "regression"
    return "classification"
