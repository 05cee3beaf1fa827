"""One model's loop as a resumable step machine, its state stored in ``loop_state``.

::

    idle ─trigger─▶ retraining ─▶ gating ─pass─▶ shadow ─▶ canary ─▶ idle (promoted)
      ▲                  │           │              │         │
      └──────────────────┴─failed────┴─rejected─────┴─breach──┴──▶ idle (rolled back)

The state is saved before each step's effects and every step is idempotent: a retraining
run is tagged with its cycle and found again rather than repeated; the gate recomputes the
same verdict; the rollout and the ``champion`` alias are checked before they are moved.
So a loop killed at any moment resumes where it stood.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import NotFound
from ._audit import Audit
from ._gate import run_gate
from ._policy import Policy
from ._retrain import RemoteTrainer, retrain
from ._rollout import RolloutController
from ._triggers import Trigger, check_triggers
from ._workspace import Workspace

__all__ = ["STEPS", "ModelLoop"]

STEPS = ("idle", "retraining", "gating", "shadow", "canary")


class ModelLoop:
    """The loop of one model.

    Args:
        yard: the yard.
        policy: the model's policy.
        audit: the audit trail.
        clock: the time source (epoch seconds).
        trainers: remote trainers by executor name (``[loop.<model>.retrain] executor``).
        keep_alive: called every ``keep_alive_s`` while a remote retraining runs (the
            lease's renewal).
        keep_alive_s: see ``keep_alive``.
    """

    def __init__(self, ws: Workspace, policy: Policy, audit: Audit,
                 clock: Any = time.time, *, trainers: Mapping[str, RemoteTrainer] | None = None,
                 keep_alive: Callable[[], object] | None = None,
                 keep_alive_s: float = 5.0) -> None:
        self._ws = ws
        self._keep_alive_s = keep_alive_s
        self._trainers = trainers
        self._keep_alive = keep_alive
        self._records = ws.store.loop
        self.policy = policy
        self._audit = audit
        self._clock = clock
        self.model = policy.model
        self._rollout = RolloutController(ws, policy, audit, clock)

    def state(self) -> dict[str, Any]:
        """The stored state (``{"step": "idle"}`` before the first pass)."""
        stored = self._records.state(self.model)
        return dict(stored.state) if stored is not None else {"step": "idle", "marks": {}}

    def _save(self, state: dict[str, Any]) -> None:
        self._records.save_state(self.model, state)

    def start_cycle(self, trigger: Trigger, state: dict[str, Any] | None = None) -> bool:
        """Begin a retraining cycle for ``trigger`` unless one is under way."""
        state = state if state is not None else self.state()
        if state.get("step", "idle") != "idle":
            return False
        champion = self._ws.models.get(f"{self.model}@champion")
        state.update(step="retraining", cycle=uuid.uuid4().hex[:12], champion=champion.version,
                     challenger=None, trigger={"kind": trigger.kind, "reason": trigger.reason,
                                               "data": trigger.data},
                     started_at=self._clock(), outcome=None, rollout_id=None)
        self._save(state)
        return True

    def step(self) -> bool:
        """Do the next step that is due; returns whether the state moved."""
        state = self.state()
        step = state.get("step", "idle")
        if step == "idle":
            return self._idle(state)
        if step == "retraining":
            return self._retraining(state)
        if step == "gating":
            return self._gating(state)
        if step in ("shadow", "canary"):
            after = self._rollout.step(state)
            return self._move(state, after) or after != step
        raise NotFound(f"unknown loop step {step!r} of {self.model!r}; reset it with "
                       "`modelyard loop reset`")

    def _move(self, state: dict[str, Any], step: str) -> bool:
        moved = state.get("step") != step
        state["step"] = step
        if step == "idle":
            state["ended_at"] = self._clock()
            state["last"] = {k: state.get(k) for k in ("cycle", "challenger", "outcome")}
        self._save(state)
        return moved

    def _idle(self, state: dict[str, Any]) -> bool:
        champion = self._ws.models.get(f"{self.model}@champion")
        marks: dict[str, Any] = dict(state.get("marks") or {})
        before = dict(marks)
        trigger = check_triggers(self._ws, self.policy, champion, marks, self._clock())
        state["marks"] = marks
        cooling = self._clock() - float(state.get("ended_at") or 0) < \
            self.policy.triggers.cooldown_s
        if trigger is None or cooling:
            if marks != before:
                self._save(state)
            return False
        return self.start_cycle(trigger, state)

    def _retraining(self, state: dict[str, Any]) -> bool:
        cycle = state["cycle"]
        trigger = state.get("trigger") or {}
        self._audit.record_once(self.model, "trigger", cycle, str(trigger.get("reason", "")),
                                trigger=trigger.get("kind"), **(trigger.get("data") or {}))
        champion = self._ws.models.get(f"{self.model}@{state['champion']}")
        self._audit.record_once(self.model, "retrain.started", cycle,
                                f"retraining v{champion.version}'s spec on the newest data "
                                f"after {trigger.get('kind')}"
                                + ("" if self.policy.retrain.executor == "local" else
                                   f" on {self.policy.retrain.executor}"),
                                executor=self.policy.retrain.executor)
        try:
            challenger = retrain(self._ws, self.policy, champion, cycle,
                                 trainers=self._trainers, keep_alive=self._keep_alive,
                                 keep_alive_s=self._keep_alive_s)
        except Exception as exc:
            self._audit.record_once(self.model, "retrain.failed", cycle,
                                    f"retraining failed: {type(exc).__name__}: {exc}")
            state["outcome"] = "retrain_failed"
            return self._move(state, "idle")
        if "challenger" not in challenger.aliases:
            self._ws.models.alias(self.model, "challenger", challenger.version,
                                    reason=f"loop cycle {cycle}: retrained after "
                                           f"{trigger.get('kind')}")
        self._audit.record_once(self.model, "retrain.finished", cycle,
                                f"v{challenger.version} trained on {challenger.dataset_ref} "
                                f"(run {challenger.run_id}), aliased challenger",
                                version=challenger.version, run_id=challenger.run_id,
                                dataset=challenger.dataset_ref, metrics=challenger.metrics)
        ref = challenger.dataset_ref or ""
        if "@" in ref and ref.rsplit("@", 1)[1].isdigit():
            state.setdefault("marks", {})["dataset_version"] = int(ref.rsplit("@", 1)[1])
        state["challenger"] = challenger.version
        return self._move(state, "gating")

    def _gating(self, state: dict[str, Any]) -> bool:
        cycle = state["cycle"]
        champion = self._ws.models.get(f"{self.model}@{state['champion']}")
        challenger = self._ws.models.get(f"{self.model}@{state['challenger']}")
        result = run_gate(self._ws, champion, challenger, self.policy.gate)
        kind = "gate.passed" if result.passed else "gate.rejected"
        self._audit.record_once(self.model, kind, cycle, result.reason, **result.to_dict())
        if not result.passed:
            self._records.describe_version(
                self.model, challenger.version, f"rejected by the loop's gate: {result.reason}")
            state["outcome"] = "rejected"
            return self._move(state, "idle")
        return self._move(state, self._rollout.begin(state))
