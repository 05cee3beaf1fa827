"""A loaded model version that checks its input before predicting."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..store import ModelVersion
from ._inputs import prepare_input
from ._signature import Signature

__all__ = ["Predictor"]


class Predictor:
    """A model version, loaded and verified, that predicts on checked input.

    Get one from :meth:`Models.load`. ``data`` may be a DataFrame, a dict (one record), a
    list of dicts, or a 2-D array with the signature's columns in order. It is checked
    against the signature before the model sees it, reordered to the signature's column
    order and cast to the dtypes the model was fitted on.

    Attributes:
        version: the model version it was loaded from.
        signature: the version's inputs and outputs.
        model: the underlying model object.

    Example:
        >>> predictor = yard.models.load("fraud@champion")  # doctest: +SKIP
        >>> predictor.predict({"amount": 12.5, "country": "DE"})  # doctest: +SKIP
        array([0])
    """

    def __init__(self, version: ModelVersion, model: Any, signature: Signature) -> None:
        self.version = version
        self.signature = signature
        self.model = model
        # Models fitted on a frame know their column names; others want a bare array.
        self._wants_frame = hasattr(model, "feature_names_in_")

    @property
    def classes(self) -> list[Any] | None:
        """The class labels of a classifier, in ``predict_proba``'s column order."""
        classes = self.signature.outputs.classes
        return None if classes is None else list(classes)

    @property
    def has_predict_proba(self) -> bool:
        """Whether :meth:`predict_proba` is available."""
        return hasattr(self.model, "predict_proba")

    def prepare(self, data: Any) -> pd.DataFrame:
        """Check ``data`` against the signature and return the frame the model will get.

        Raises:
            ValidationFailed: naming every bad column.
            InvalidInput: the data has an unusable shape.
        """
        return prepare_input(data, self.signature, what=self.version.ref)

    def _model_input(self, data: Any) -> Any:
        if self.signature.inputs is None and self._wants_frame and not isinstance(
                data, pd.DataFrame | dict | list):
            # Unknown inputs: an array's columns are the ones the model was fitted on.
            names = [str(n) for n in self.model.feature_names_in_]
            return pd.DataFrame(np.asarray(data), columns=names)
        frame = self.prepare(data)
        return frame if self._wants_frame else frame.to_numpy()

    def predict(self, data: Any) -> np.ndarray[Any, Any]:
        """Predict one value per row.

        Args:
            data: a DataFrame, a dict, a list of dicts, or a 2-D array.

        Returns:
            A NumPy array with one prediction per row.

        Raises:
            ValidationFailed: the input does not match the signature.
        """
        return np.asarray(self.model.predict(self._model_input(data)))

    def predict_proba(self, data: Any) -> np.ndarray[Any, Any]:
        """Class probabilities, one row per input row and one column per class.

        Raises:
            InvalidInput: the model has no ``predict_proba`` (a regressor, or a classifier
                without probabilities).
            ValidationFailed: the input does not match the signature.
        """
        if not self.has_predict_proba:
            raise InvalidInput(
                f"{self.version.ref} ({self.version.flavor or type(self.model).__name__}) has "
                "no predict_proba; use predict"
            )
        return np.asarray(self.model.predict_proba(self._model_input(data)))

    def __repr__(self) -> str:
        return f"Predictor({self.version.ref!r}, {self.version.flavor or self.version.format})"
