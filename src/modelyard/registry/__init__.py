"""The model registry: versions with lineage, signatures, aliases, safe formats."""

from ._models import Models as Models
from ._predictor import Predictor as Predictor
from ._signature import ColumnSpec as ColumnSpec
from ._signature import OutputSpec as OutputSpec
from ._signature import Signature as Signature
from ._signature import infer_signature as infer_signature

__all__ = ["ColumnSpec", "Models", "OutputSpec", "Predictor", "Signature", "infer_signature"]
