"""Live monitoring in the prediction service: drift sketches per loaded version.

Sketches are built off the request path: when a version loads (at start, on a hot swap, or
as a rollout's challenger) a background thread computes its reference profile
(``yard.monitor.sketches``) and attaches the sketches to the version; every predicted batch
is then counted into them by the sketch feeder's thread (``_models.SKETCH_FEEDER``), so a
wide input never slows an answer. A version registered without a dataset
version has no live view (the route says why). The routes that read them and run
``yard.monitor`` for a served model are in ``_routes_monitor``.

With ``serve --workers N`` (:meth:`LiveViews.share`) each worker writes its sketch window of
every loaded version to the shared database every second (when it counted new rows), and
the view merges the other workers' windows into its own: one view of all served rows,
at most a second or two behind for the other workers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput, ModelyardError
from ._errors import ModelNotReady
from ._models import SKETCH_FEEDER, LoadedVersion
from ._shared import SharedState

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
        self._shared: SharedState | None = None
        self._pid = 0
        self._versions: weakref.WeakValueDictionary[int, LoadedVersion] = \
            weakref.WeakValueDictionary()
        self._written: dict[int, int] = {}  # version id -> rows when last written

    def share(self, shared: SharedState, pid: int) -> None:
        """Merge the live views with the other workers' through ``shared``."""
        self._shared, self._pid = shared, pid

    async def flush(self) -> None:
        """Write the window of each version that counted rows since the last write."""
        shared = self._shared
        if shared is None:
            return
        await asyncio.to_thread(SKETCH_FEEDER.drain)
        for key, loaded in list(self._versions.items()):
            sketches = loaded.sketches
            if sketches is None or self._written.get(key) == sketches.rows:
                continue
            self._written[key] = sketches.rows
            data = await asyncio.to_thread(sketches.to_bytes)
            await asyncio.to_thread(shared.write_sketch, self._pid, key, data)

    def start(self, loaded: LoadedVersion) -> None:
        """Build ``loaded``'s sketches unless built or being built; returns at once."""
        key = loaded.version.id
        with self._lock:
            self._versions[key] = loaded
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
            others: list[bytes] = []
            if self._shared is not None:  # a window written a window ago has expired
                others = self._shared.sketches(loaded.version.id, besides=self._pid,
                                               newer_than=time.time() - sketches.window_s)
            result: dict[str, Any] = sketches.to_dict(merge=others)
            return result
        with self._lock:
            state = self._state.get(loaded.version.id)
        if state is None or state == "building":
            raise ModelNotReady(f"the live view of {loaded.version.ref} is still being built; "
                                "retry shortly")
        raise InvalidInput(f"{loaded.version.ref} has no live view: {state}")
