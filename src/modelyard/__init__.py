"""modelyard: the production side of machine learning in one package.

Example:
    >>> import modelyard
    >>> yard = modelyard.open()  # doctest: +SKIP
    >>> version = yard.datasets.ingest("data.csv", name="fraud")  # doctest: +SKIP
    >>> with yard.run("baseline") as run:  # doctest: +SKIP
    ...     modelyard.log_metric("loss", 0.3, step=1)

The heavy parts (pandas, scikit-learn, FastAPI) are imported on first use of a name that
needs them, so ``import modelyard.errors`` or a CLI ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# OpenMP threads (scikit-learn's HistGradientBoosting, LightGBM, XGBoost) that spin while
# they wait burn the cores a busy machine's other work needs: on 2 cores shared with a
# server and a loop, one fit of the README's gradient boosting took 11.7 s instead of 0.8 s.
# Waiting threads that sleep cost little on an idle machine. A value already set wins; it
# takes effect where modelyard is imported before the OpenMP runtime is loaded (the CLI,
# the server's workers, scripts that import modelyard first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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

if TYPE_CHECKING:
    from .serve import Client as Client
    from .tracking import active_run as active_run
    from .tracking import autolog as autolog
    from .tracking import log_metric as log_metric
    from .tracking import log_metrics as log_metrics
    from .tracking import log_param as log_param
    from .tracking import log_params as log_params
    from .tracking import set_tag as set_tag
    from .yard import Yard as Yard
    from .yard import open as open

__version__ = "0.1.0"

_LAZY = {
    "Client": ".serve",
    "Yard": ".yard",
    "active_run": ".tracking",
    "autolog": ".tracking",
    "log_metric": ".tracking",
    "log_metrics": ".tracking",
    "log_param": ".tracking",
    "log_params": ".tracking",
    "open": ".yard",
    "set_tag": ".tracking",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modelyard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "active_run",
    "autolog",
    "load_settings",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "open",
    "set_tag",
]
