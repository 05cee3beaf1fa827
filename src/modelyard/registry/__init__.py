"""The model registry: versions with lineage, signatures, aliases, safe formats."""

from ._images import MAX_IMAGE_PIXELS as MAX_IMAGE_PIXELS
from ._images import ImageInput as ImageInput
from ._images import ImageTooLarge as ImageTooLarge
from ._images import decode_image as decode_image
from ._images import encode_png as encode_png
from ._inputs import image_records as image_records
from ._lineage import Lineage as Lineage
from ._lineage import Split as Split
from ._lineage import holdout_fingerprint as holdout_fingerprint
from ._models import Models as Models
from ._predictor import Predictor as Predictor
from ._signature import ColumnSpec as ColumnSpec
from ._signature import OutputSpec as OutputSpec
from ._signature import Signature as Signature
from ._signature import infer_signature as infer_signature

__all__ = [
    "MAX_IMAGE_PIXELS",
    "ColumnSpec",
    "ImageInput",
    "ImageTooLarge",
    "Lineage",
    "Models",
    "OutputSpec",
    "Predictor",
    "Signature",
    "Split",
    "decode_image",
    "encode_png",
    "holdout_fingerprint",
    "image_records",
    "infer_signature",
]
