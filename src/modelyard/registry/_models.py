"""The models API of a yard: register, resolve, alias, load and delete model versions."""

from __future__ import annotations

import builtins
import json
import math
import platform
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Conflict, InvalidInput, NotFound
from ..store import AliasEvent, Model, ModelVersion, Store
from ._formats import default_format, get_format
from ._lineage import LINEAGE_KEY, Lineage
from ._predictor import Predictor
from ._refs import check_alias, check_model_name, parse_ref
from ._signature import Signature, infer_signature, signature_from

__all__ = ["Models"]

_RESERVED_EXTRA = ("format_info", "libraries", "size", "input_example", "lineage")
_EXAMPLE_ROWS = 5


def _dataset_version_id(value: Any) -> int | None:
    if value is None:
        return None
    candidate = getattr(value, "id", value)
    if isinstance(candidate, bool) or not isinstance(candidate, int | np.integer):
        raise InvalidInput(
            f"dataset_version must be a DatasetVersion or its integer id, not {value!r}")
    return int(candidate)


def _check_metrics(metrics: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {key!r} has value {value!r}; metrics are numbers") from None
        if not math.isfinite(number):
            raise InvalidInput(f"metric {key!r} is {number}; metrics must be finite numbers")
        out[str(key)] = number
    return out


def _check_extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    if extra is None:
        return {}
    if not isinstance(extra, dict):
        raise InvalidInput(f"extra must be a dict, not {type(extra).__name__}")
    taken = sorted(k for k in extra if k in _RESERVED_EXTRA)
    if taken:
        raise InvalidInput(f"extra keys {', '.join(taken)} are reserved by modelyard; rename them")
    return _json(dict(extra), "extra")


def _json(data: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be JSON-serialisable: {exc}") from exc
    return data


def _example_records(example: Any) -> list[dict[str, Any]] | None:
    if isinstance(example, dict):
        example = [example]
    if isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        example = pd.DataFrame(example)
    if not isinstance(example, pd.DataFrame):
        return None
    try:
        text = example.head(_EXAMPLE_ROWS).to_json(orient="records", date_format="iso")
        records = json.loads(text)
    except (TypeError, ValueError, OverflowError):
        return None
    return records if isinstance(records, list) else None


# libraries a model may depend on, recorded with each version when they are loaded
_OPTIONAL = {"scipy": "scipy", "onnxruntime": "onnxruntime", "skl2onnx": "skl2onnx",
             "torch": "torch", "lightgbm": "lightgbm", "xgboost": "xgboost"}


def _libraries() -> dict[str, str]:
    import sklearn

    found = {"python": platform.python_version(), "numpy": np.__version__,
             "pandas": pd.__version__, "scikit-learn": sklearn.__version__}
    for name, module in _OPTIONAL.items():
        version = getattr(sys.modules.get(module), "__version__", None)
        if isinstance(version, str):
            found[name] = version
    return found


class Models:
    """Register, alias, load and delete model versions.

    Reached as ``yard.models``. A version is referred to as ``"name"`` (the latest),
    ``"name@latest"``, ``"name@alias"``, ``"name@3"`` or ``"name/versions/3"``.

    Args:
        store: the store holding the registry's metadata and artifacts.

    Example:
        >>> version = yard.models.register("fraud", model, input_example=X)  # doctest: +SKIP
        >>> yard.models.alias("fraud", "champion", version.version)  # doctest: +SKIP
        >>> yard.models.load("fraud@champion").predict(X)  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._repo = store.models

    # -- registering ------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: Any,
        *,
        run_id: str | None = None,
        dataset_version: Any = None,
        signature: Signature | dict[str, Any] | None = None,
        input_example: Any = None,
        metrics: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        description: str = "",
        code_version: str | None = None,
        format: str | None = None,
        lineage: Lineage | None = None,
        classes: Sequence[Any] | None = None,
    ) -> ModelVersion:
        """Store a fitted model as the next version of ``name``.

        The file is uploaded first and the version row inserted after, in one transaction:
        a crash at any moment leaves either no version or a complete one (an uploaded file
        with no version is freed by ``gc``).

        Args:
            name: the model name (letters, digits, ``.``, ``_``, ``-``); created on first use.
            model: the fitted model: a scikit-learn estimator or pipeline; a PyTorch
                ``nn.Module`` (exported to ONNX here, from ``input_example``); an ONNX graph
                (a ``.onnx`` path, its bytes or an ``onnx.ModelProto``).
            run_id: the tracked run that produced it (lineage).
            dataset_version: the DatasetVersion (or its id) it was trained on.
            signature: its inputs and outputs; inferred from ``input_example`` and the
                model when not given.
            input_example: some rows of the training input, ideally a DataFrame; its
                first rows are kept with the version as an example request. For a torch
                module: one batch of its input (``torch.zeros(1, 1, 28, 28)``).
            metrics: evaluation metrics (numbers).
            extra: any JSON-serialisable metadata.
            description: what this version is.
            code_version: the code's version; the run's git commit by default.
            format: ``"skops"`` (safe), ``"onnx"`` (needs the ``onnx`` extra; scikit-learn
                models are converted by skl2onnx) or ``"pickle"`` (loads only with
                ``allow_pickle``). By default ``onnx`` for graphs and torch modules,
                ``skops`` for the rest.
            lineage: what it was trained to do and on which rows (training gives it);
                read back with :meth:`Lineage.of`.
            classes: the labels of an ONNX graph's or torch module's score columns
                (``0 … k-1`` when not given).

        Returns:
            The new version.

        Raises:
            InvalidInput: a bad name, format, metric or extra, an object the format cannot
                store, or a model that cannot predict its own input example.
            NotFound: the run or dataset version does not exist.

        Example:
            >>> v = yard.models.register("fraud", clf, input_example=X_train)  # doctest: +SKIP
            >>> v.ref  # doctest: +SKIP
            'fraud/versions/1'
        """
        check_model_name(name)
        fmt = get_format(default_format(model) if format is None else format)
        flavor = f"{type(model).__module__}.{type(model).__qualname__}"[:200]
        dataset_version_id = _dataset_version_id(dataset_version)
        clean_metrics = _check_metrics(metrics)
        clean_extra = _check_extra(extra)
        if lineage is not None:
            clean_extra[LINEAGE_KEY] = _json(lineage.to_dict(), "lineage")
        if not isinstance(description, str):
            raise InvalidInput("description must be a string")
        if run_id is not None:
            commit = self._repo.run_git_commit(run_id)
            if code_version is None:
                code_version = commit
        if dataset_version_id is not None and not self._repo.dataset_version_exists(
                dataset_version_id):
            raise NotFound(f"no dataset version with id {dataset_version_id}; pass one "
                           "returned by yard.datasets")
        stored, derived = fmt.prepare(model, input_example,
                                      None if classes is None else tuple(classes))
        sig = (signature_from(signature) if signature is not None
               else derived or infer_signature(input_example, model))
        with tempfile.TemporaryDirectory(prefix="modelyard-") as tmp:
            path = Path(tmp) / f"model.{fmt.name}"
            info = fmt.save(stored, path, sig)
            sha, size = self._store.put_blob_file(path)
        clean_extra.update({"format_info": info, "libraries": _libraries(), "size": size})
        example = _example_records(input_example)
        if example is not None:
            clean_extra["input_example"] = example
        return self._repo.create_version(
            name,
            blob_sha256=sha,
            format=fmt.name,
            flavor=flavor,
            run_id=run_id,
            dataset_version_id=dataset_version_id,
            signature=sig.to_dict(),
            metrics=clean_metrics,
            extra=clean_extra,
            code_version=(code_version or "")[:64],
            description=description,
        )

    # -- reading ----------------------------------------------------------------------

    def get(self, ref: str) -> ModelVersion:
        """The version a reference names.

        Args:
            ref: ``"name"`` or ``"name@latest"`` (the newest version), ``"name@alias"``,
                ``"name@3"`` or ``"name/versions/3"``.

        Raises:
            InvalidInput: ``ref`` is not a reference.
            NotFound: no such model, version or alias; the message says what exists.

        Example:
            >>> yard.models.get("fraud@champion").version  # doctest: +SKIP
            3
        """
        parsed = parse_ref(ref)
        if parsed.version is not None:
            return self._repo.get_version(parsed.name, parsed.version)
        if parsed.alias is not None:
            return self._repo.version_by_alias(parsed.name, parsed.alias)
        return self._repo.latest_version(parsed.name)

    def get_model(self, name: str) -> Model:
        """The model called ``name`` with its aliases and latest version number.

        Raises:
            NotFound: no such model; the message names those that exist.
        """
        return self._repo.get_model(check_model_name(name))

    def list(self) -> list[Model]:
        """Every registered model, by name, with its aliases and latest version number.

        Example:
            >>> [m.name for m in yard.models.list()]  # doctest: +SKIP
            ['fraud', 'churn']
        """
        return self._repo.list_models()

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of model ``name``, oldest first.

        Raises:
            NotFound: no such model.
        """
        return self._repo.list_versions(check_model_name(name))

    def set_description(self, name: str, description: str) -> None:
        """Replace the description of model ``name``.

        Raises:
            NotFound: no such model.
        """
        self._repo.set_description(check_model_name(name), description)

    # -- aliases ----------------------------------------------------------------------

    def alias(self, name: str, alias: str, version: int, *, reason: str = "") -> None:
        """Point ``alias`` at ``version``, atomically, and record the move in the history.

        Args:
            name: the model.
            alias: lower-case letters, digits, ``_``, ``-``; not ``latest``.
            version: the version number it should point to.
            reason: why, kept in the alias history.

        Raises:
            InvalidInput: a bad alias name.
            NotFound: no such model or version.

        Example:
            >>> yard.models.alias("fraud", "champion", 3, reason="AUC +2%")  # doctest: +SKIP
        """
        check_model_name(name)
        check_alias(alias)
        if isinstance(version, bool) or not isinstance(version, int | np.integer):
            raise InvalidInput(f"version must be a version number, not {version!r}")
        self._repo.set_alias(name, alias, int(version), reason)

    def remove_alias(self, name: str, alias: str, *, reason: str = "") -> None:
        """Remove ``alias`` from model ``name`` and record it in the history.

        Raises:
            NotFound: no such model or alias.
        """
        self._repo.remove_alias(check_model_name(name), check_alias(alias), reason)

    def alias_history(
        self, name: str, alias: str | None = None
    ) -> builtins.list[AliasEvent]:
        """Every move of the model's aliases, or of one alias, oldest first.

        Example:
            >>> [(e.from_version, e.to_version) for e in
            ...  yard.models.alias_history("fraud", "champion")]  # doctest: +SKIP
            [(None, 1), (1, 3)]
        """
        check_model_name(name)
        if alias is not None:
            check_alias(alias)
        return self._repo.alias_history(name, alias)

    # -- loading ----------------------------------------------------------------------

    def load(self, ref: str | ModelVersion, *, allow_pickle: bool | None = None) -> Predictor:
        """Load a version, its file's hash checked, as a :class:`Predictor`.

        Args:
            ref: a reference (see :meth:`get`) or a ModelVersion.
            allow_pickle: load a version stored as pickle (it can run any code); the
                ``allow_pickle`` setting by default.

        Returns:
            The predictor.

        Raises:
            NotFound: no such version, or its file is missing from the artifact store.
            Corrupted: the file's bytes no longer match the registered hash.
            InvalidInput: a pickle version without ``allow_pickle``.
            Conflict: the file cannot be read by the installed libraries.

        Example:
            >>> yard.models.load("fraud@champion").predict(X.head())  # doctest: +SKIP
            array([0, 1, 0, 0, 0])
        """
        version = ref if isinstance(ref, ModelVersion) else self.get(ref)
        fmt = get_format(version.format)
        if not fmt.safe:
            allowed = self._store.settings.allow_pickle if allow_pickle is None else allow_pickle
            if not allowed:
                raise InvalidInput(
                    f"{version.ref} is stored as {fmt.name}, which runs arbitrary code when "
                    "loaded; pass allow_pickle=True (or set MODELYARD_ALLOW_PICKLE=1) only if "
                    "you trust whoever registered it"
                )
        path = self._store.artifacts.open_verified(version.blob_sha256)
        try:
            model = fmt.load(path, version.extra.get("format_info", {}))
        except InvalidInput:
            raise
        except Exception as exc:
            saved = version.extra.get("libraries", {})
            raise Conflict(
                f"{version.ref} cannot be loaded ({type(exc).__name__}: {exc}); it was saved "
                f"with {', '.join(f'{k} {v}' for k, v in saved.items()) or 'other libraries'}"
                f", here are {', '.join(f'{k} {v}' for k, v in _libraries().items())}"
            ) from exc
        return Predictor(version, model, Signature.from_dict(version.signature))

    # -- deleting ---------------------------------------------------------------------

    def delete_version(self, name: str, version: int, *, force: bool = False) -> None:
        """Delete one version; its file is freed by the next ``gc``.

        Args:
            name: the model.
            version: the version number.
            force: also remove aliases that point at it (each removal is recorded).

        Raises:
            NotFound: no such model or version.
            Conflict: an alias points at it and ``force`` is false.
        """
        self._repo.delete_version(check_model_name(name), version, force=force)

    def delete_model(self, name: str) -> None:
        """Delete a model with all its versions, aliases and alias history.

        Raises:
            NotFound: no such model.
        """
        self._repo.delete_model(check_model_name(name))
