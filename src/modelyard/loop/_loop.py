"""The loop: every model with a policy, stepped in turn, by the one process that holds the
lease."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ._audit import Audit
from ._lease import LoopLease
from ._policy import Policy, load_policies

if TYPE_CHECKING:  # the acting parts import training (scikit-learn) when a cycle runs, so
    # that reading the loop's status or history stays light
    from ..store import LoopEvent
    from ._retrain import RemoteTrainer
    from ._state import ModelLoop
    from ._workspace import Workspace

__all__ = ["Loop", "LoopStatus"]

_LOG = logging.getLogger("modelyard.loop")
_MAX_STEPS_PER_PASS = 8


@dataclass(frozen=True)
class LoopStatus:
    """Where one model's loop stands."""

    model: str
    step: str
    cycle: str | None
    champion: int | None
    challenger: int | None
    last: dict[str, Any]
    updated_at: float | None
    has_policy: bool


class Loop:
    """Keep models healthy: retrain on triggers, gate, roll out, promote or roll back.

    Reached as ``yard.loop``. Policies come from ``[loop.<model>]`` in ``modelyard.toml``
    and from :meth:`set_policy`.

    Args:
        yard: the yard.
        lease_ttl_s: how long one pass's hold on the lease lasts.
        clock: the time source (epoch seconds).
        trainers: remote trainers by executor name, for policies whose retraining runs
            elsewhere (``{"ray": modelyard.distributed.RayTrainer(yard.settings)}``).

    Example:
        >>> policy = Policy("fraud", triggers=TriggerPolicy(drift=True))  # doctest: +SKIP
        >>> yard.loop.set_policy(policy)  # doctest: +SKIP
        >>> yard.loop.run_forever(interval_s=5)  # doctest: +SKIP
    """

    def __init__(self, ws: Workspace, *, lease_ttl_s: float = 30.0,
                 clock: Callable[[], float] = time.time,
                 trainers: Mapping[str, RemoteTrainer] | None = None) -> None:
        self._ws = ws
        self._trainers = dict(trainers or {})
        self._records = ws.store.loop
        self._clock = clock
        self.audit = Audit(ws.store)
        self.lease = LoopLease(ws.store, ttl_s=lease_ttl_s)
        self._policies: dict[str, Policy] | None = None

    # -- policies -----------------------------------------------------------------------

    @property
    def policies(self) -> dict[str, Policy]:
        """The policies in force, by model (``modelyard.toml`` read on first use)."""
        if self._policies is None:
            self._policies = load_policies(self._ws.settings.project_dir)
        return self._policies

    def set_policy(self, policy: Policy) -> None:
        """Use ``policy`` for its model (replacing one from ``modelyard.toml``)."""
        self.policies[policy.model] = policy

    def _model_loop(self, model: str) -> ModelLoop:
        from ._state import ModelLoop

        policy = self.policies.get(model)
        if policy is None:
            raise NotFound(f"no loop policy for model {model!r}; add [loop.{model}] to "
                           "modelyard.toml or call yard.loop.set_policy")
        return ModelLoop(self._ws, policy, self.audit, self._clock, trainers=self._trainers,
                         keep_alive=self.lease.acquire,
                         keep_alive_s=min(5.0, self.lease.ttl_s / 3))

    # -- acting -------------------------------------------------------------------------

    def run_once(self) -> bool:
        """One pass over every model, if this process holds the lease.

        Each model takes the steps that are due now (a trigger can run through retraining
        and the gate into shadow in one pass); waiting stages return at once.

        Returns:
            Whether this process held the lease and acted.
        """
        if not self.lease.acquire():
            _LOG.debug("the loop lease is held by %s; waiting", self.lease.holder_now())
            return False
        for model in sorted(self.policies):
            loop = self._model_loop(model)
            for _ in range(_MAX_STEPS_PER_PASS):
                try:
                    moved = loop.step()
                except Exception as exc:  # one model's failure must not stop the others
                    self._error(model, exc)
                    break
                if not moved:
                    break
                self.lease.acquire()
        return True

    def _error(self, model: str, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        _LOG.warning("loop of %s: %s", model, message)
        last = self._records.events(model, limit=1)
        if not last or last[-1].kind != "loop.error" or last[-1].message != message:
            self.audit.record(model, "loop.error", message)

    def trigger(self, model: str, reason: str = "started by hand") -> bool:
        """Start a retraining cycle now (a ``manual`` trigger); ``False`` if one runs."""
        from ._triggers import Trigger

        return self._model_loop(model).start_cycle(Trigger("manual", reason))

    def run_forever(self, interval_s: float = 5.0, *, stop: threading.Event | None = None,
                    max_passes: int | None = None) -> int:
        """Pass after pass until ``stop`` is set (or ``max_passes``); returns the passes.

        A rollout stage that is waiting is polled every ``rollout.poll_s`` of its policy,
        other passes every ``interval_s``. The lease is released on the way out.
        """
        stop = stop or threading.Event()
        passes = 0
        try:
            while not stop.is_set() and (max_passes is None or passes < max_passes):
                self.run_once()
                passes += 1
                stop.wait(self._wait_s(interval_s))
        finally:
            self.lease.release()
        return passes

    def _wait_s(self, interval_s: float) -> float:
        waits = [interval_s]
        for state in self._records.states():
            policy = self.policies.get(state.model)
            if policy is not None and state.state.get("step") in ("shadow", "canary"):
                waits.append(policy.rollout.poll_s)
        return min(waits)

    # -- reading ------------------------------------------------------------------------

    def history(self, model: str, *, limit: int | None = None) -> list[LoopEvent]:
        """The audit trail of ``model``'s loop, oldest first."""
        return self.audit.history(model, limit=limit)

    def _aliases(self, model: str) -> dict[str, int]:
        try:
            return dict(self._ws.models.get_model(model).aliases)
        except NotFound:
            return {}

    def status(self) -> list[LoopStatus]:
        """Where each model's loop stands (models with a policy or a stored state)."""
        stored = {s.model: s for s in self._records.states()}
        out = []
        for model in sorted(set(stored) | set(self.policies)):
            s = stored.get(model)
            state = s.state if s is not None else {}
            # the aliases are the truth once a cycle has ended (a promotion moved them)
            aliases = self._aliases(model)
            idle = str(state.get("step", "idle")) == "idle"
            champion = aliases.get("champion") if idle else state.get("champion")
            challenger = aliases.get("challenger") if idle else state.get("challenger")
            out.append(LoopStatus(model=model, step=str(state.get("step", "idle")),
                                  cycle=state.get("cycle"), champion=champion,
                                  challenger=challenger,
                                  last=dict(state.get("last") or {}),
                                  updated_at=None if s is None else s.updated_at,
                                  has_policy=model in self.policies))
        return out
