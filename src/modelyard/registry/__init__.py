"""The model registry: versions with lineage, signatures, aliases, safe formats."""

from ._images import ImageInput as ImageInput
from ._images import decode_png as decode_png
from ._images import encode_png as encode_png
from ._models import Models as Models
from ._predictor import Predictor as Predictor
from ._signature import ColumnSpec as ColumnSpec
from ._signature import OutputSpec as OutputSpec
from ._signature import Signature as Signature
from ._signature import infer_signature as infer_signature

__all__ = ["ColumnSpec", "ImageInput", "Models", "OutputSpec", "Predictor", "Signature",
           "decode_png", "encode_png", "infer_signature"]
