"""The loop: triggers, retraining, the champion/challenger gate, rollout and its audit.

The names are imported on first use (PEP 562): reading the loop's status or its audit trail
(``modelyard loop status``, ``loop history``) does not pay for importing training and
scikit-learn, which only a retraining cycle needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._audit import Audit as Audit
    from ._cron import Cron as Cron
    from ._cron import parse_cron as parse_cron
    from ._gate import GateResult as GateResult
    from ._gate import bootstrap_pvalue as bootstrap_pvalue
    from ._gate import mcnemar_pvalue as mcnemar_pvalue
    from ._gate import run_gate as run_gate
    from ._lease import LoopLease as LoopLease
    from ._loop import Loop as Loop
    from ._loop import LoopStatus as LoopStatus
    from ._policy import GatePolicy as GatePolicy
    from ._policy import Policy as Policy
    from ._policy import RetrainPolicy as RetrainPolicy
    from ._policy import RolloutPolicy as RolloutPolicy
    from ._policy import TriggerPolicy as TriggerPolicy
    from ._policy import load_policies as load_policies
    from ._policy import policy_from_dict as policy_from_dict
    from ._retrain import RemoteTrainer as RemoteTrainer
    from ._rollout import RolloutController as RolloutController
    from ._rollout import read_stats as read_stats
    from ._state import ModelLoop as ModelLoop
    from ._triggers import Trigger as Trigger
    from ._triggers import check_triggers as check_triggers

_HOMES = {
    "Audit": "._audit",
    "Cron": "._cron",
    "GatePolicy": "._policy",
    "GateResult": "._gate",
    "Loop": "._loop",
    "LoopLease": "._lease",
    "LoopStatus": "._loop",
    "ModelLoop": "._state",
    "Policy": "._policy",
    "RemoteTrainer": "._retrain",
    "RetrainPolicy": "._policy",
    "RolloutController": "._rollout",
    "RolloutPolicy": "._policy",
    "Trigger": "._triggers",
    "TriggerPolicy": "._policy",
    "bootstrap_pvalue": "._gate",
    "check_triggers": "._triggers",
    "load_policies": "._policy",
    "mcnemar_pvalue": "._gate",
    "parse_cron": "._cron",
    "policy_from_dict": "._policy",
    "read_stats": "._rollout",
    "run_gate": "._gate",
}

__all__ = [
    "Audit",
    "Cron",
    "GatePolicy",
    "GateResult",
    "Loop",
    "LoopLease",
    "LoopStatus",
    "ModelLoop",
    "Policy",
    "RemoteTrainer",
    "RetrainPolicy",
    "RolloutController",
    "RolloutPolicy",
    "Trigger",
    "TriggerPolicy",
    "bootstrap_pvalue",
    "check_triggers",
    "load_policies",
    "mcnemar_pvalue",
    "parse_cron",
    "policy_from_dict",
    "read_stats",
    "run_gate",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
