"""Live monitoring in the prediction service: drift sketches per loaded version.

Sketches are built off the request path: when a version loads (at start, on a hot swap, or
as a rollout's challenger) a background thread computes its reference profile
(``yard.monitor.sketches``) and attaches the sketches to the version; every predicted batch
is then counted into them by the sketch feeder's thread (``_models.SKETCH_FEEDER``), so a
wide input never slows an answer. A version registered without a dataset
version has no live view (the route says why). The routes that read them and run
``yard.monitor`` for a served model are in ``_routes_monitor``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput, ModelyardError
from ._errors import ModelNotReady
from ._models import SKETCH_FEEDER, LoadedVersion

__all__ = ["LiveViews"]

_LOG = logging.getLogger("modelyard.serve")


class LiveViews:
    """Builds each loaded version's live sketches in a background thread.

    Args:
        build: makes the sketches of a version (``yard.monitor.sketches``); raising
            :class:`InvalidInput` means the version has no live view.
    """

    def __init__(self, build: Callable[[LoadedVersion], Any]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._state: dict[int, str] = {}  # version id -> "building" or why there is none

    def start(self, loaded: LoadedVersion) -> None:
        """Build ``loaded``'s sketches unless built or being built; returns at once."""
        key = loaded.version.id
        with self._lock:
            if loaded.sketches is not None or key in self._state:
                return
            self._state[key] = "building"
        threading.Thread(target=self._run, args=(loaded,), daemon=True,
                         name=f"modelyard-sketches-{loaded.version.version}").start()

    def _run(self, loaded: LoadedVersion) -> None:
        key = loaded.version.id
        try:
            loaded.sketches = self._build(loaded)
            outcome = None
        except ModelyardError as exc:
            outcome = exc.message
        except Exception as exc:  # a profile that cannot be built: no live view, say why
            _LOG.exception("live sketches of %s", loaded.version.ref)
            outcome = f"{type(exc).__name__}: {exc}"
        with self._lock:
            if outcome is None:
                self._state.pop(key, None)
            else:
                self._state[key] = outcome

    def view(self, loaded: LoadedVersion) -> dict[str, Any]:
        """The sketches' JSON (see :meth:`FeatureSketches.to_dict`).

        Raises:
            ModelNotReady: still being built.
            InvalidInput: the version has no live view, and why.
        """
        sketches = loaded.sketches
        if sketches is not None:
            SKETCH_FEEDER.drain()  # count what has been served so far
            result: dict[str, Any] = sketches.to_dict()
            return result
        with self._lock:
            state = self._state.get(loaded.version.id)
        if state is None or state == "building":
            raise ModelNotReady(f"the live view of {loaded.version.ref} is still being built; "
                                "retry shortly")
        raise InvalidInput(f"{loaded.version.ref} has no live view: {state}")
