"""The ``modelyard`` command line."""

from . import (  # noqa: F401 - they register commands
    _datasets,
    _demo,
    _deploy,
    _doctor,
    _keys,
    _loop,
    _models,
    _monitor,
    _replay,
    _runs,
    _score,
    _serve,
    _train,
    _ui,
)
from ._app import app as app
from ._app import main as main

__all__ = ["app", "main"]
