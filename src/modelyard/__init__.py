"""modelyard: the production side of machine learning in one package.

Example:
    >>> import modelyard
    >>> yard = modelyard.open()  # doctest: +SKIP
    >>> version = yard.datasets.ingest("data.csv", name="fraud")  # doctest: +SKIP
"""

from ._yard import Yard as Yard
from ._yard import open as open
from .config import Settings as Settings
from .config import load_settings as load_settings
from .errors import AlreadyExists as AlreadyExists
from .errors import Conflict as Conflict
from .errors import Corrupted as Corrupted
from .errors import InvalidInput as InvalidInput
from .errors import ModelyardError as ModelyardError
from .errors import NotFound as NotFound
from .errors import StorageUnavailable as StorageUnavailable
from .errors import Unauthorized as Unauthorized
from .errors import ValidationFailed as ValidationFailed
from .serve import Client as Client

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Client",
    "Conflict",
    "Corrupted",
    "InvalidInput",
    "ModelyardError",
    "NotFound",
    "Settings",
    "StorageUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "Yard",
    "__version__",
    "load_settings",
    "open",
]
