"""The loop's lease: of all loop processes on one store, only the holder acts."""

from __future__ import annotations

import os
import socket
import uuid

from ..store import Store

__all__ = ["LoopLease"]


class LoopLease:
    """A lease in the store, held for ``ttl_s`` and renewed by each pass.

    A process that dies stops renewing; another takes over once the lease expires.

    Args:
        store: the store holding the lease.
        name: the lease's name.
        ttl_s: how long one acquisition lasts.
    """

    def __init__(self, store: Store, *, name: str = "loop", ttl_s: float = 30.0) -> None:
        self._store = store
        self.name = name
        self.ttl_s = ttl_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> bool:
        """Take or renew the lease; ``False`` while another holder's lease is live."""
        return self._store.loop.acquire_lease(self.name, self.holder, self.ttl_s) is not None

    def release(self) -> None:
        """Give the lease back (if held), so another process may act at once."""
        self._store.loop.release_lease(self.name, self.holder)

    def holder_now(self) -> str | None:
        """Who holds the lease now, or ``None`` when nobody does."""
        import time

        lease = self._store.loop.lease(self.name)
        return lease.holder if lease is not None and lease.expires_at > time.time() else None
